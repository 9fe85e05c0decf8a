"""The access spec (generator/ACCESS_SPEC.md), the first step of the flow
(generator/INTERNALS.md, "Layout and data flow"): `model` loads and checks it into a typed
`Spec`; `namespaces` proves the profiles' client ids and topics apart; `rules` checks the
topic rules, whose SQL `iotsql` parses and runs."""
