"""Helpers of the install tests (conftest.py puts this folder on sys.path)."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class KitVenv:
    root: Path
    wheel: Path
    site: Path

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def python(self) -> Path:
        return self.bin / "python"

    @property
    def iotws(self) -> Path:
        return self.bin / "iotws"

    def env(self, **extra: str) -> dict[str, str]:
        """The environment a user of this venv has: its bin/ first on PATH, nothing that
        would lead back to the checkout."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("IOTWS_", "PYTHON"))}
        env.pop("VIRTUAL_ENV", None)
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        env["VIRTUAL_ENV"] = str(self.root)
        env.update(extra)
        return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
