"""`iotws simulate`: answer one authorization question offline, like `aws iot test-authorization`.

Prints exactly one of ALLOWED, EXPLICIT_DENY, IMPLICIT_DENY and exits 0; with `--json`,
an object with the result and the deciding statements. Invalid policies, unknown actions
and malformed resources are user errors (non-zero exit, one clear message).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from iotws.errors import IotwsError
from iotws.evaluator import (
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
_REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_ACCOUNT_RE = re.compile(r"^\d{12}$")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="Evaluate IoT policies offline for one action and resource",
        description="Evaluate IoT policy documents for one request and print ALLOWED, "
        "EXPLICIT_DENY or IMPLICIT_DENY (the words of `aws iot test-authorization`).",
    )
    parser.add_argument(
        "--policy",
        action="append",
        required=True,
        metavar="FILE",
        help="policy JSON: one document, a list of documents, or an authorizer response "
        '{"policyDocuments": [...]}; repeatable',
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
    parser.add_argument("--client-id", help="the MQTT client id (sets iot:ClientId)")
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
    if not _REGION_RE.match(region):
        raise IotwsError(f"{region!r} is not a region", field="--region", fix="e.g. us-east-1")
    if not _ACCOUNT_RE.match(account):
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
        # IOT_FACTS section 3: each action is checked against one resource type; a
        # mismatch is legal to ask about but is never what IoT itself checks.
        print(
            f"iotws simulate: warning: {action} is checked against {expected_type} "
            f"resources, not {rtype!r}",
            file=sys.stderr,
        )
    documents = load_policy_files(args.policy)
    policy_set = PolicySet.from_documents(documents)
    variables = parse_vars(args.var, args.client_id)
    decision = policy_set.evaluate(Request(action, resource, variables))
    if args.json:
        out = {
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
        print(json.dumps(out, indent=2))
    else:
        print(decision.result)
    return 0
