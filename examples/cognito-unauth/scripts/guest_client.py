"""A Cognito guest from the command line: what the example page does, with boto3 + paho-mqtt.

1. Cognito enhanced flow: `GetId`, then `GetCredentialsForIdentity` (unsigned calls; no AWS
   credentials are needed on this machine, docs/cognito-guests.md).
2. Presign `wss://<endpoint>/mqtt` with those credentials (`iotws.presign`).
3. Connect with the client id `guest-<identity id>` (or `--client-id`), subscribe, publish
   one message, print what arrives, disconnect.

    python examples/cognito-unauth/scripts/guest_client.py \\
        --endpoint "$(terraform output -raw iot_endpoint)" --region us-east-1 \\
        --identity-pool-id "$(terraform output -raw identity_pool_id)" \\
        --subscribe demo/dev/server --publish demo/dev/client

`--cognito-endpoint-url` points boto3 at a Cognito stand-in (tests use moto); an endpoint
written `ws://127.0.0.1:PORT` connects without TLS (tests use a local stand-in broker).
Exit status: 0 when connected (and, with `--expect N`, N messages arrived), 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore import UNSIGNED
from botocore.config import Config

from iotws.errors import IotwsError
from iotws.presign import AwsCredentials, presign_wss_url

IDENTITY = "{identity_id}"


def guest_credentials(
    identity_pool_id: str, region: str, endpoint_url: str | None = None
) -> tuple[str, AwsCredentials]:
    """(identity id, credentials) of a new guest identity of the pool."""
    cognito = boto3.client(
        "cognito-identity",
        region_name=region,
        endpoint_url=endpoint_url,
        # GetId and GetCredentialsForIdentity take no AWS signature.
        config=Config(signature_version=UNSIGNED),
    )
    identity_id = cognito.get_id(IdentityPoolId=identity_pool_id)["IdentityId"]
    got = cognito.get_credentials_for_identity(IdentityId=identity_id)
    return identity_id, AwsCredentials.from_cognito(got["Credentials"])


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--endpoint", required=True, help="iot:Data-ATS host (or ws:// URL)")
    p.add_argument("--region", required=True, help="region of the pool and the endpoint")
    p.add_argument("--identity-pool-id", required=True, help="e.g. us-east-1:1111...")
    p.add_argument("--cognito-endpoint-url", default=None, help="Cognito stand-in URL (tests)")
    p.add_argument(
        "--client-id",
        default="guest-" + IDENTITY,
        help="client id rule of the guest profile; {identity_id} is filled in",
    )
    p.add_argument("--subscribe", action="append", default=[], help="topic filter (repeat)")
    p.add_argument("--publish", default=None, help="topic to publish one message to")
    p.add_argument("--message", default='{"text": "hello from a guest"}')
    p.add_argument("--expect", type=int, default=0, help="wait for this many messages")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait overall")
    p.add_argument("--expires", type=int, default=900, help="presigned URL lifetime (s)")
    return p.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    identity_id, creds = guest_credentials(
        args.identity_pool_id, args.region, args.cognito_endpoint_url
    )
    client_id = args.client_id.replace(IDENTITY, identity_id)
    url = presign_wss_url(args.endpoint, args.region, creds, expires=args.expires)
    parts = urlsplit(url)
    tls = parts.scheme == "wss"
    port = parts.port or (443 if tls else 80)
    assert parts.hostname is not None

    connected = threading.Event()
    done = threading.Event()
    received: list[dict[str, Any]] = []
    result: dict[str, Any] = {"identity_id": identity_id, "client_id": client_id}

    def on_connect(c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        result["connack"] = str(reason)
        if reason.is_failure:
            done.set()
            return
        connected.set()
        for topic in args.subscribe:
            c.subscribe(topic.replace(IDENTITY, identity_id), qos=0)
        if not args.subscribe:
            after_subscribe()

    def after_subscribe() -> None:
        if args.publish:
            client.publish(args.publish.replace(IDENTITY, identity_id), args.message, qos=0)
        if args.expect <= 0:
            done.set()

    def on_subscribe(_c: Any, _u: Any, _mid: Any, reasons: Any, _p: Any) -> None:
        result["suback"] = [str(r) for r in reasons]
        if any(r.is_failure for r in reasons):  # IoT refuses a SUBSCRIBE with 0x80
            result["refused"] = True
            done.set()
            return
        after_subscribe()

    def on_message(_c: Any, _u: Any, msg: Any) -> None:
        received.append({"topic": msg.topic, "payload": msg.payload.decode("utf-8", "replace")})
        if args.expect and len(received) >= args.expect:
            done.set()

    def on_disconnect(_c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        result.setdefault("disconnect", str(reason))
        done.set()

    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        transport="websockets",
        protocol=mqtt.MQTTv311,
    )
    # The presigned query string is part of the upgrade request's path
    # (docs/cognito-guests.md#browser-connection).
    client.ws_set_options(path=f"{parts.path}?{parts.query}")
    if tls:
        client.tls_set()
    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.on_disconnect = on_disconnect
    try:
        client.connect(parts.hostname, port, keepalive=60)
    except OSError as exc:  # refused upgrade (e.g. 403 for a bad signature), no route, TLS
        result.update(ok=False, error=f"{type(exc).__name__}: {exc}")
        print(json.dumps(result))
        return 1
    client.loop_start()
    try:
        done.wait(args.timeout)
    finally:
        client.disconnect()
        client.loop_stop()
    result["messages"] = received
    refused = bool(result.get("refused"))
    ok = connected.is_set() and not refused and len(received) >= args.expect
    result["ok"] = ok
    print(json.dumps(result))
    return 0 if ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    try:
        return run(args)
    except IotwsError as exc:
        print(f"guest_client: error: {exc.render()}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
