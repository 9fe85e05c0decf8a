"""Fixtures for the hostile-input tests: the authorizer from source (as in Lambda), the
jwks helpers of tests/security, and module-scoped harnesses that hypothesis can reuse
across examples (function-scoped fixtures are not reset between examples)."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
for _p in (REPO / "lambda_src" / "authorizer", REPO / "tests" / "security"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))
