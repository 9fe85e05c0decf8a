"""`iotws token`: mint a development token for the spec's authorizer (hs256 mode), from the
spec (`--spec`) or from a build directory's copy of it (`--build DIR`)."""

from __future__ import annotations

import argparse
import json
from typing import Any
from urllib.parse import quote

from iotws.build import open_build
from iotws.errors import IotwsError
from iotws.spec.model import load_spec
from iotws.tokens import claims_for, mint_hs256, read_key, secret_from_env, sign_for_iot


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "token",
        help="mint a development HS256 token (and its IoT signature) for the spec's authorizer",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--spec", help="access.yaml")
    src.add_argument(
        "--build",
        metavar="DIR",
        help="build directory of `iotws generate` (make generate): the spec it was built from",
    )
    p.add_argument("--sub", required=True, help="subject (user id) to put in the token")
    p.add_argument("--role", help="value of the spec's select.claim (picks the profile)")
    p.add_argument(
        "--secret-env",
        default="IOTWS_JWT_SECRET",
        help="environment variable holding the shared secret (default IOTWS_JWT_SECRET)",
    )
    p.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds (default 3600)")
    p.add_argument(
        "--signing-key",
        help="RSA private key (PEM) for IoT token signing: also prints the signature",
    )
    p.add_argument("--json", action="store_true", help="print JSON with token and signature")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    spec = open_build(args.build).spec if args.build else load_spec(args.spec)
    if spec.authorizer.mode != "hs256":
        raise IotwsError(
            f"the spec's authorizer mode is {spec.authorizer.mode}; this command mints HS256 "
            "tokens",
            field="authorizer.mode",
            fix="for jwks, get a token from your identity provider",
        )
    if not 60 <= args.ttl <= 86400:
        raise IotwsError("must be 60..86400", field="--ttl", fix="use e.g. --ttl 3600")
    token = mint_hs256(
        secret_from_env(args.secret_env),
        claims_for(spec, args.sub, args.role),
        ttl_seconds=args.ttl,
    )
    signature = sign_for_iot(token, read_key(args.signing_key)) if args.signing_key else None
    if args.json:
        print(json.dumps({"token": token, "signature": signature}))
    else:
        print(token)
        if signature:
            print(f"x-amz-customauthorizer-signature={quote(signature, safe='')}")
    return 0
