"""The `iotws` command line: discovers one module per subcommand in `iotws.commands`."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from iotws import __version__, commands
from iotws.errors import IotwsError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="iotws",
        description="Serverless WebSockets on AWS IoT Core: generate, package, check, emulate.",
    )
    parser.add_argument("--version", action="version", version=f"iotws {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"iotws.commands.{info.name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        rc: int = args.func(args)
    except IotwsError as exc:
        print(f"iotws {args.command}: error: {exc.render()}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    return rc


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
