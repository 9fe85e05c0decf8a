"""The emulator's configuration: authorizers, the policy engine, ARNs, clocks and limits."""

from __future__ import annotations

from dataclasses import dataclass, field

from iotws.invoke import AUTHORIZER_TIMEOUT_SECONDS
from iotws_emulator.auth import AuthorizerBinding
from iotws_emulator.clock import Clock, RealClock
from iotws_emulator.policy import PolicyEngine


@dataclass
class EmulatorConfig:
    authorizers: dict[str, AuthorizerBinding]
    engine: PolicyEngine
    default_authorizer: str | None = None
    region: str = "us-east-1"
    account: str = "123456789012"
    clock: Clock = field(default_factory=RealClock)  # authorizer TTLs, event timestamps
    keepalive_clock: Clock = field(default_factory=RealClock)  # keep-alive enforcement
    authorizer_timeout: float = AUTHORIZER_TIMEOUT_SECONDS
    max_authorizer_calls: int = 1000  # calls in progress at once (auth.CallSlots)
    # Persistent sessions (mqtt-persistent-sessions.html): expire 1 hour after the client
    # disconnects by default (adjustable on AWS through the quotas page).
    session_expiry: int = 3600
    # Stored QoS 1 messages per offline session. AWS states no per-session number
    # (unverified): the emulator's own bound, so a forgotten session cannot grow forever.
    max_stored_messages: int = 1000
    # IoT's per-connection throttles (limits.py); off for load tests and benchmarks.
    throttle: bool = True
    connect_timeout: float = 10.0  # real seconds to wait for CONNECT (unverified for IoT)
    outbound_limit_bytes: int = 16 * 1024 * 1024  # per-connection queue (slow readers)
    server_name: str = "localhost"
    enforce: bool = True

    def arn(self, resource: str) -> str:
        return f"arn:aws:iot:{self.region}:{self.account}:{resource}"
