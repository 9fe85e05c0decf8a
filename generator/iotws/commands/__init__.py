"""One module per `iotws` subcommand.

Each module defines `register(subparsers) -> None`, which adds its parser and sets
`func=run` where `run(args) -> int`. `iotws.cli` discovers the modules, so adding a
subcommand never edits a shared file.
"""
