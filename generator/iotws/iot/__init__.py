"""The IoT core: what AWS IoT Core does, written once.

- `facts`: limits, character sets and reserved prefixes, each with the AWS page it comes
  from;
- `topics`: MQTT topic-name and topic-filter syntax, filter matching, and the mapping of
  MQTT patterns to policy resources;
- `arns`: IoT policy resource ARNs, `*`/`?` wildcard matching and the client-id binding of
  `iot:Connect` resources.

Standard library only and no import of the rest of `iotws`: the spec check, the renderers,
the evaluator, the linter, the checkov checks and the emulator all build on it
(INTERNALS.md, "Layout and data flow"). The authorizer Lambda, deployed alone, keeps its own
copy of the few limits it needs; a test checks that the copy matches `facts`.
"""
