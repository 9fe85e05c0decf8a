"""`iotws simulate`: answer one authorization question offline, like `aws iot test-authorization`.

Prints exactly one of ALLOWED, EXPLICIT_DENY, IMPLICIT_DENY and exits 0; with `--json`,
an object with the result and the deciding statements. Invalid policies, unknown actions
and malformed resources are user errors (non-zero exit, one clear message).

Two ways to say which policies apply:

- `--policy FILE ...`: documents as they are. Policy variables (`${iot:ClientId}`, the
  kit's `${iotws:...}` slots, `${cognito-identity.amazonaws.com:sub}`) resolve only from
  `--client-id` and `--var`; every one left unresolved makes its statements never match,
  so a warning on stderr names each of them and how to supply it.
- `--build DIR` (identity mode): the policies a given identity gets from a build
  directory written by `iotws generate`. With an authorizer configuration
  (`DIR/authorizer/config.json`), the authorizer's own code (`iotws_authorizer.config`,
  `iotws_authorizer.identity` from `lambda_src/authorizer`, never a copy) picks the
  profile, checks the claims and the client id, fills the slots and checks the sizes,
  exactly as in Lambda. With `--identity-id`, the Cognito guest role's IAM policy
  (`DIR/cognito/PROFILE.iam.json`) is used with `${cognito-identity.amazonaws.com:sub}` set
  to that identity id. When the authorizer would refuse the identity, every action is
  denied (`IMPLICIT_DENY`) and stderr says why.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from iotws import authorizer_code
from iotws.build import read_metadata
from iotws.errors import IotwsError
from iotws.invoke import LambdaContext
from iotws.iot.facts import ACCOUNT_PATTERN, COGNITO_IDENTITY_VARIABLE_NAME, REGION_PATTERN
from iotws.policy.evaluator import (
    KNOWN_ACTIONS,
    PolicyError,
    PolicySet,
    Request,
    canonical_action,
    documents_from_json,
)

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "123456789012"
_RESOURCE_TYPES = ("topicfilter/", "topic/", "client/", "thing/")
_REGION_RE = re.compile(REGION_PATTERN)
_ACCOUNT_RE = re.compile(ACCOUNT_PATTERN)
COGNITO_SUB = COGNITO_IDENTITY_VARIABLE_NAME
_ESCAPES = frozenset({"*", "?", "$"})  # ${*} ${?} ${$}: literal characters, not variables


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="Evaluate IoT policies offline for one action and resource",
        description="Evaluate IoT policy documents for one request and print ALLOWED, "
        "EXPLICIT_DENY or IMPLICIT_DENY (the words of `aws iot test-authorization`).",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--policy",
        action="append",
        metavar="FILE",
        help="policy JSON: one document, a list of documents, or an authorizer response "
        '{"policyDocuments": [...]}; repeatable',
    )
    source.add_argument(
        "--build",
        metavar="DIR",
        help="identity mode: the build directory of `iotws generate`; the policies are the "
        "ones the authorizer (or the Cognito guest role) gives the identity below",
    )
    parser.add_argument(
        "--profile",
        help="identity mode: the profile (default: the one the authorizer picks from the "
        "claims, or the public profile when no claim is given)",
    )
    parser.add_argument(
        "--claim",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="identity mode: a verified token claim, e.g. sub=alice; repeat a name for a list",
    )
    parser.add_argument(
        "--identity-id",
        metavar="ID",
        help="identity mode, Cognito guest path: the identity id (REGION:UUID)",
    )
    parser.add_argument(
        "--action",
        required=True,
        help="IoT action, e.g. iot:Subscribe (known: " + ", ".join(KNOWN_ACTIONS) + ")",
    )
    parser.add_argument(
        "--resource",
        required=True,
        help="full ARN, or short form such as topicfilter/a/# completed with --region/--account",
    )
    parser.add_argument("--region", default=DEFAULT_REGION, help="for short resources")
    parser.add_argument("--account", default=DEFAULT_ACCOUNT, help="for short resources")
    parser.add_argument(
        "--client-id",
        help="the MQTT client id (sets iot:ClientId; required by the authorizer identity mode)",
    )
    parser.add_argument(
        "--var",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a policy variable or condition key, e.g. aws:SourceIp=203.0.113.7; repeatable",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON object")
    parser.set_defaults(func=run)


def load_policy_files(paths: list[str]) -> list[Any]:
    """Documents from every file, in order; a clear IotwsError for unreadable or bad JSON."""
    documents: list[Any] = []
    for path in paths:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise IotwsError(
                f"cannot read policy file: {exc.strerror}",
                field=f"--policy {path}",
                fix="pass the path of a policy JSON file",
            ) from exc
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PolicyError(
                f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
                field=f"--policy {path}",
                fix="fix the JSON syntax",
            ) from exc
        docs = documents_from_json(data, source=f"--policy {path}")
        try:
            PolicySet.from_documents(docs)
        except PolicyError as exc:
            raise PolicyError(
                exc.message, field=f"--policy {path}: {exc.field or ''}".rstrip(": "), fix=exc.fix
            ) from exc
        documents.extend(docs)
    return documents


def resolve_resource(resource: str, region: str, account: str) -> str:
    """A full ARN from a full ARN or a short `type/name` form."""
    if resource.startswith("arn:"):
        return resource
    if resource == "*":
        return resource
    if not resource.startswith(_RESOURCE_TYPES):
        raise IotwsError(
            f"{resource!r} is neither an ARN nor a short IoT resource",
            field="--resource",
            fix="write arn:aws:iot:REGION:ACCOUNT:topic/NAME or a short form starting "
            "with " + ", ".join(_RESOURCE_TYPES),
        )
    if not _REGION_RE.fullmatch(region):
        raise IotwsError(f"{region!r} is not a region", field="--region", fix="e.g. us-east-1")
    if not _ACCOUNT_RE.fullmatch(account):
        raise IotwsError(
            f"{account!r} is not a 12-digit account id", field="--account", fix="e.g. 123456789012"
        )
    return f"arn:aws:iot:{region}:{account}:{resource}"


def parse_vars(items: list[str], client_id: str | None) -> dict[str, str]:
    variables: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise IotwsError(
                f"{item!r} is not NAME=VALUE",
                field="--var",
                fix="e.g. --var cognito-identity.amazonaws.com:sub=us-east-1:abc",
            )
        variables[name.strip()] = value
    if client_id is not None:
        variables["iot:ClientId"] = client_id
    return variables


def _how_to_supply(name: str) -> str:
    lower = name.lower()
    if lower == "iot:clientid":
        return "pass --client-id ID"
    if lower.startswith("iotws:"):
        return (
            "a kit slot, filled by the authorizer: use the identity mode (--build DIR "
            "--client-id ID [--claim NAME=VALUE ...] [--profile NAME]), or --var "
            f"'{name}=VALUE'"
        )
    if lower == COGNITO_SUB:
        return (
            "the Cognito identity id: use the identity mode (--build DIR --identity-id "
            f"REGION:UUID), or --var '{name}=REGION:UUID'"
        )
    return f"pass --var '{name}=VALUE'"


def unresolved_warnings(policy_set: PolicySet, variables: dict[str, str]) -> list[str]:
    """One warning per policy variable that nothing resolves, with how to supply it."""
    given = {name.lower() for name in variables}
    missing = sorted(
        name for name in policy_set.variables if name not in _ESCAPES and name.lower() not in given
    )
    return [
        f"iotws simulate: warning: ${{{name}}} is unresolved, so statements using it never "
        f"match; {_how_to_supply(name)}"
        for name in missing
    ]


@dataclass
class Identity:
    """The policies an identity gets in identity mode, or why it gets none."""

    documents: list[Any]
    variables: dict[str, str]
    profile: str
    refused: str | None = None  # the authorizer's reason code when it denies
    notes: list[str] = field(default_factory=list)


def _authorizer_modules() -> tuple[ModuleType, ModuleType, ModuleType]:
    """The authorizer's own `config`, `identity` and `errors` modules (lambda_src)."""
    return authorizer_code.config, authorizer_code.identity, authorizer_code.errors


def _parse_claims(items: list[str]) -> dict[str, Any]:
    claims: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise IotwsError(f"{item!r} is not NAME=VALUE", field="--claim", fix="e.g. sub=alice")
        if name in claims:  # a repeated claim is a list claim (e.g. groups)
            prev = claims[name]
            claims[name] = [*prev, value] if isinstance(prev, list) else [prev, value]
        else:
            claims[name] = value
    return claims


def authorizer_identity(
    build: Path,
    profile_name: str | None,
    claims: dict[str, Any],
    client_id: str | None,
    region: str,
    account: str,
) -> Identity:
    """Run the authorizer's profile choice, identity checks and slot filling."""
    config, identity, errors = _authorizer_modules()
    path = build / "authorizer" / "config.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IotwsError(
            f"cannot read the authorizer configuration {path}: {exc}",
            field="--build",
            fix="pass the directory written by `iotws generate` (e.g. `make generate`)",
        ) from None
    try:
        cfg = config.parse(raw)
    except errors.ConfigError as exc:
        raise IotwsError(
            f"{path}: the authorizer refuses this configuration: {exc.detail}",
            field="--build",
            fix="regenerate it with `iotws generate`",
        ) from None
    if client_id is None:
        raise IotwsError(
            "the authorizer denies every connection without a client id",
            field="--client-id",
            fix="pass the MQTT client id the identity connects with, e.g. --client-id alice-1",
        )
    notes: list[str] = []
    if profile_name is not None:
        if profile_name not in cfg.profiles:
            raise IotwsError(
                f"unknown profile {profile_name!r}",
                field="--profile",
                fix="use one of " + ", ".join(sorted(cfg.profiles)),
            )
        profile = cfg.profiles[profile_name]
    elif not claims or cfg.mode == "public":
        if cfg.public_profile is None:
            raise IotwsError(
                "no claims given and the spec has no public profile: the authorizer would "
                "deny this client (no_token)",
                field="--claim",
                fix="pass the token's claims, e.g. --claim sub=alice, or --profile NAME",
            )
        profile = cfg.public_profile
        notes.append(f"profile {profile.name}: the public profile (no token)")
    else:
        try:
            profile = identity.select_profile(claims, cfg)
        except errors.Deny as exc:
            return Identity([], {}, "", refused=exc.reason)
        notes.append(f"profile {profile.name}: picked from the claims as the authorizer does")
    try:
        values = identity.slot_values(
            profile, claims, client_id, cfg, LambdaContext.of(region, account, "iotws-simulate")
        )
        documents = identity.documents(profile, values)
    except errors.Deny as exc:
        why = exc.reason + (f": {exc.detail}" if exc.detail else "")
        if exc.reason == errors.BAD_CLIENT_ID:
            rule = profile.template + ("<suffix>" if profile.wildcard else "")
            why += f"; profile {profile.name} binds the client id to {rule}"
        return Identity([], {}, profile.name, refused=why, notes=notes)
    return Identity(documents, {"iot:ClientId": client_id}, profile.name, notes=notes)


def cognito_identity(build: Path, profile_name: str | None, identity_id: str) -> Identity:
    """The Cognito guest role's IAM policy with the identity id as Cognito's `sub`."""
    found = sorted((build / "cognito").glob("*.iam.json"))
    names = [p.name[: -len(".iam.json")] for p in found]
    if not found:
        raise IotwsError(
            f"{build / 'cognito'} holds no guest IAM policy (*.iam.json)",
            field="--build",
            fix="generate a spec with a cognito section (e.g. `make generate "
            "EXAMPLE=cognito-unauth`) and pass its build directory",
        )
    if profile_name is None and len(found) > 1:
        raise IotwsError(
            "several guest policies: " + ", ".join(names),
            field="--profile",
            fix="pick one with --profile",
        )
    name = profile_name or names[0]
    if name not in names:
        raise IotwsError(
            f"no guest policy for profile {name!r}",
            field="--profile",
            fix="use one of " + ", ".join(names),
        )
    documents = load_policy_files([str(build / "cognito" / f"{name}.iam.json")])
    return Identity(documents, {COGNITO_SUB: identity_id}, name)


def _identity(args: argparse.Namespace) -> Identity:
    build = Path(args.build)
    read_metadata(build)  # a build directory of this kit
    if args.identity_id is not None:
        if args.claim:
            raise IotwsError(
                "claims do not apply to Cognito guests", field="--claim", fix="drop --claim"
            )
        ident = cognito_identity(build, args.profile, args.identity_id)
        if args.client_id is not None:
            ident.variables["iot:ClientId"] = args.client_id
        return ident
    return authorizer_identity(
        build, args.profile, _parse_claims(args.claim), args.client_id, args.region, args.account
    )


def run(args: argparse.Namespace) -> int:
    action = canonical_action(args.action)
    if action is None:
        raise IotwsError(
            f"unknown action {args.action!r}",
            field="--action",
            fix="use one of " + ", ".join(KNOWN_ACTIONS),
        )
    resource = resolve_resource(args.resource, args.region, args.account)
    expected_type = KNOWN_ACTIONS[action]
    rtype = resource.split(":", 5)[5].split("/", 1)[0] if resource.count(":") >= 5 else "*"
    if rtype != expected_type:
        # docs/iot-policies.md#actions-and-resources: each action is checked against one resource
        # type; a
        # mismatch is legal to ask about but is never what IoT itself checks.
        print(
            f"iotws simulate: warning: {action} is checked against {expected_type} "
            f"resources, not {rtype!r}",
            file=sys.stderr,
        )
    ident: Identity | None = None
    if args.build is not None:
        ident = _identity(args)
        documents = ident.documents
        variables = {**parse_vars(args.var, None), **ident.variables}
        for note in ident.notes:
            print(f"iotws simulate: {note}", file=sys.stderr)
    else:
        for flag in ("profile", "identity_id"):
            if getattr(args, flag) is not None:
                raise IotwsError(
                    "only applies to the identity mode",
                    field="--" + flag.replace("_", "-"),
                    fix="add --build DIR (the `iotws generate` output) instead of --policy",
                )
        if args.claim:
            raise IotwsError(
                "only applies to the identity mode",
                field="--claim",
                fix="add --build DIR instead of --policy, or pass --var 'iotws:claim.NAME=VALUE'",
            )
        documents = load_policy_files(args.policy)
        variables = parse_vars(args.var, args.client_id)
    policy_set = PolicySet.from_documents(documents)
    if ident is not None and ident.refused is not None:
        print(
            f"iotws simulate: the authorizer refuses this identity ({ident.refused}): the "
            "connection is denied, so every action is",
            file=sys.stderr,
        )
    else:
        for line in unresolved_warnings(policy_set, variables):
            print(line, file=sys.stderr)
    decision = policy_set.evaluate(Request(action, resource, variables))
    if args.json:
        out: dict[str, Any] = {
            "result": decision.result,
            "action": action,
            "resource": resource,
            "statements": [
                {
                    "document": ref.document,
                    "statement": ref.statement,
                    "effect": ref.effect,
                    "sid": ref.sid,
                }
                for ref in decision.statements
            ],
        }
        if ident is not None:
            out["identity"] = {
                "profile": ident.profile,
                "refused": ident.refused,
                "documents": ident.documents,
            }
        print(json.dumps(out, indent=2))
    else:
        print(decision.result)
    return 0
