"""iotws custom checkov checks for IoT Core stacks: one check per file, ids `CKV_IOTWS_<n>`.

Run them with `iotws checkov path/to/stack` (see README.md in this folder). checkov loads
every `*.py` file of this folder by path with `--external-checks-dir`; this file must stay
free of imports so that loading the package never registers a check twice.
"""

from __future__ import annotations

from pathlib import Path

CHECKS_DIR = Path(__file__).resolve().parent
"""The folder to pass to checkov's `--external-checks-dir`."""
