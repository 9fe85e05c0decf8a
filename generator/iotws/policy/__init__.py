"""Policies: the linter's rules (one file per rule in `iotws.policy.rules`) next to the
evaluator (`iotws.evaluator`) and the linter that runs them (`iotws.lint`).
INTERNALS.md ("Layout and data flow") shows where they sit in the flow."""
