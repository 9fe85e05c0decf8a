"""moto's server for the tests that point Terraform or boto3 at a fake AWS: on 127.0.0.1 and a
free port, stopped when the `with` block ends."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def running_moto() -> Iterator[str]:
    """The server's URL while it runs."""
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
