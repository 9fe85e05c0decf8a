"""The Lambda as AWS runs it: `app.handler`, no import-time work, standard library only."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

LAMBDA_DIR = Path(__file__).resolve().parents[2] / "lambda_src" / "authorizer"

_PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
before = set(sys.modules)
import app
new = sorted(set(sys.modules) - before)
print(json.dumps({"callable": callable(app.handler), "new": new}))
"""


def test_importing_app_has_no_side_effects(tmp_path: Path) -> None:
    # GIVEN no configuration file at all and no AWS settings
    env = {"IOTWS_CONFIG": str(tmp_path / "absent.json"), "PATH": "/usr/bin:/bin"}
    # WHEN app is imported in a fresh interpreter
    done = subprocess.run(
        [sys.executable, "-I", "-B", "-c", _PROBE, str(LAMBDA_DIR)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    # THEN it imports quietly, and neither boto3 nor the verifier nor urllib is loaded yet
    result = json.loads(done.stdout)
    assert result["callable"] is True
    assert done.stderr == ""
    loaded = set(result["new"])
    assert not {"boto3", "botocore", "urllib.parse", "iotws_authorizer.hs256"} & loaded
    assert not any(name.startswith("iotws_authorizer.jwks") for name in loaded)


def test_authorizer_imports_only_the_standard_library_and_itself() -> None:
    stdlib = set(sys.stdlib_module_names)
    for path in sorted(LAMBDA_DIR.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                # boto3 is in the Lambda runtime; it is imported lazily in secrets.py only
                allowed = stdlib | {"iotws_authorizer", "__future__"}
                if path.name == "secrets.py":
                    allowed = allowed | {"boto3"}
                # jwks mode only: PyJWT is vendored into jwks zips and imported lazily
                if path.name == "jwks.py":
                    allowed = allowed | {"jwt", "cryptography"}
                assert top in allowed, f"{path.name} imports {name}"
