"""`iotws tf-env`: how terraform finds hashicorp/aws here (local mirror or registry).

`eval "$(iotws tf-env --shell)"` is what the Makefile runs before `terraform`.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from iotws import tfenv


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "tf-env",
        help="Show or export the Terraform settings that use a local provider mirror",
        description=(
            "Find a filesystem mirror holding registry.terraform.io/hashicorp/aws "
            f"(${tfenv.MIRROR_ENV}, then /opt/tf-plugins, ~/.terraform.d/plugins, the XDG "
            "data dirs' terraform/plugins) and write a Terraform CLI configuration that "
            "uses it. Without a mirror, the registry is used as usual."
        ),
    )
    fmt = parser.add_mutually_exclusive_group()
    fmt.add_argument(
        "--shell",
        action="store_true",
        help="print `export`/`unset` lines for TF_CLI_CONFIG_FILE, for eval in a shell",
    )
    fmt.add_argument("--json", action="store_true", help="print the settings as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    setup = tfenv.setup(os.environ)
    if args.shell:
        print(setup.shell(), end="")
        return 0
    info = {
        "mirror": str(setup.mirror) if setup.mirror else None,
        "cli_config_file": str(setup.config_file) if setup.config_file else None,
        "unset_cli_config_file": setup.unset_config,
        "platform": tfenv.terraform_platform(),
        "reason": setup.reason,
    }
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"terraform: {setup.reason}")
    if setup.config_file:
        print(f"  {tfenv.CONFIG_ENV}={setup.config_file}")
    print('  use it in a shell with: eval "$(iotws tf-env --shell)"')
    return 0
