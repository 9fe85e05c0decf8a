"""Fixtures for the emulator tests: one running emulator per test (stopped after it)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from emuhelpers import AUTH_NAME, Running, StubAuthorizer  # noqa: E402

from iotws_emulator.auth import AuthorizerBinding  # noqa: E402
from iotws_emulator.config import EmulatorConfig  # noqa: E402
from iotws_emulator.policy import EvaluatorEngine  # noqa: E402
from iotws_emulator.server import Emulator, EmulatorThread  # noqa: E402


@pytest.fixture
def start_emulator() -> Iterator[Callable[..., Running]]:
    threads: list[EmulatorThread] = []

    def start(
        authorizer: Any = None,
        *,
        default: bool = True,
        token_key_name: str | None = "token",  # noqa: S107 - a key name
        web_config: dict[str, Any] | None = None,
        serve_dir: Path | None = None,
        binding_config: dict[str, Any] | None = None,
        **overrides: Any,
    ) -> Running:
        # IoT's per-connection throttles (1 CONNECT per second per client id, 100 publishes
        # and 512 KB per second) are tested in test_throttle.py; the other tests reconnect
        # and publish faster than IoT allows, on purpose.
        overrides.setdefault("throttle", False)
        auth = authorizer if authorizer is not None else StubAuthorizer()
        binding = AuthorizerBinding(AUTH_NAME, auth, token_key_name, dict(binding_config or {}))
        config = EmulatorConfig(
            authorizers={AUTH_NAME: binding},
            engine=EvaluatorEngine(),
            default_authorizer=AUTH_NAME if default else None,
            **overrides,
        )
        emu = Emulator(config, tcp_port=0, web_config=web_config, serve_dir=serve_dir)
        th = EmulatorThread(emu)
        threads.append(th)
        th.start()
        return Running(th)

    yield start
    for th in threads:
        th.stop()


@pytest.fixture
def emulator(start_emulator: Callable[..., Running]) -> Running:
    return start_emulator()


@pytest.fixture
def caplog_info(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="iotws.emulator")
    return caplog
