"""CKV_IOTWS_4 (HIGH): `iot:Connect` not bound to the client's own, verified client id.

Why: a client that may connect with any id can (a) take over another client's connection,
since a second connection with the same id drops the first (`DUPLICATE_CLIENTID`,
docs/data-plane.md#topics), and (b) when other statements use `${iot:ClientId}` in topic
resources, connect with the id `+` or `#` and turn a private filter into a wildcard one
(client-id injection, docs/iot-policies.md#client-id-injection). Bind Connect to an id derived from
the
verified identity:

- `client/${iotws:client_id}`: the kit's authorizer documents, whose slot is filled with
  an id that passed the profile's rule (generator/INTERNALS.md);
- `client/${cognito-identity.amazonaws.com:sub}`: Cognito identities
(docs/cognito-guests.md#binding-the-client-id);
- `client/${iot:Connection.Thing.ThingName}`: certificate-attached things;
- or literal, specific client ids.

Reported for an Allow of `iot:Connect` (also through `iot:*`, `*`, `iot:Conn*` or
`NotAction`) on `*`, on `NotResource`, on an ARN whose resource part could match
`client/<anything>` without naming a client (`arn:aws:iot:*:*:*`), on `client/` with a `*`
or `?` wildcard (`client/*`, `client/sensor-*`), or on `client/${iot:ClientId}`, which
matches whatever id the client sends and so binds nothing.

Covers the same resources and data sources as CKV_IOTWS_3. Parts checkov cannot resolve
(a variable in the client id) are not reported.
"""

from __future__ import annotations

try:
    from iotws.checkov_checks import _iotws_common as common
except ImportError:  # pragma: no cover - checkov without the kit installed: folder on sys.path
    import _iotws_common as common  # type: ignore[no-redef]

ID = "CKV_IOTWS_4"
NAME = "IoT/IAM policy allows iot:Connect for any client id (not bound to the verified identity)"
GUIDELINE = f"{common.GUIDE}#ckv_iotws_4"

_PROBE_ARN = "arn:aws:iot:us-east-1:123456789012:client/~iotws-probe~"


def connect_resource_problem(resource: str) -> str | None:
    """Why `iot:Connect` on this resource is not bound to one client id, or None."""
    text = common.unescape(resource.strip())
    if text == "*":
        return "matches every client id"
    split = common.split_arn(text)
    if split is None:
        if not common.has_unresolved(text) and common.glob_match(
            common.strip_policy_variables(text), _PROBE_ARN
        ):
            return "matches every client id"
        return None
    head, rest = split
    if not common.glob_match(head[2], "iot") or common.has_unresolved(rest):
        return None  # another service, or a part checkov could not resolve
    # topic/..., topicfilter/...: not a Connect resource at all ("not-client")
    binding, reason = common.client_binding(rest)
    return reason if binding in ("any", "partial") else None


def findings(statements: list[common.Statement]) -> list[str]:
    """One line per unbound Connect grant in these statements."""
    out: list[str] = []
    for index, statement in enumerate(statements):
        if common.grants(statement, "iot:Connect") is not True:
            continue
        if isinstance(statement.not_resources, list):
            out.append(f"statement {index}: iot:Connect with NotResource matches any client id")
        if isinstance(statement.resources, list):
            for resource in statement.resources:
                if not isinstance(resource, str):
                    continue
                problem = connect_resource_problem(resource)
                if problem:
                    out.append(f"statement {index}: iot:Connect on {resource!r}: {problem}")
    return out


check, data_check = common.policy_statement_checks(
    check_id=ID, name=NAME, guideline=GUIDELINE, severity="HIGH", findings=findings
)
