"""Policies, checked (generator/INTERNALS.md, "Layout and data flow"): the oracle that
evaluates IoT policies (`evaluator`), the lint rules (one file per rule in `rules/`) and the
linter that runs them (`lint`), and the build-time proofs (`proofs`) that fill the rendered
documents with adversarial identities through the authorizer's own code."""
