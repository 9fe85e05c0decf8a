"""Write a set of files into a directory all at once, or not at all."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


def write_tree(out: Path, files: dict[str, bytes], *, replace_dirs: tuple[str, ...] = ()) -> None:
    """Stage every file in a temporary sibling directory, then move them into `out`.

    Directories named in `replace_dirs` are replaced whole, so stale files (a profile
    that was removed) do not linger. Errors before the move leave `out` untouched.
    """
    out.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".iotws-", dir=out))
    try:
        for rel, data in files.items():
            target = stage / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        for d in replace_dirs:
            if (out / d).exists():
                shutil.rmtree(out / d)
        for rel in sorted(files):
            dest = out / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(stage / rel, dest)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
