"""Run every benchmark module in `iotws.bench` and print one table."""

from __future__ import annotations

import importlib
import pkgutil
import sys

from iotws import bench
from iotws.bench import Row


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 1:
        return f"{v:.2f}"
    return f"{v:.4f}"


def main(argv: list[str] | None = None) -> int:
    only = set(argv if argv is not None else sys.argv[1:])
    rows: list[Row] = []
    for info in sorted(pkgutil.iter_modules(bench.__path__), key=lambda m: m.name):
        if info.name.startswith("_") or (only and info.name not in only):
            continue
        module = importlib.import_module(f"iotws.bench.{info.name}")
        print(f"running bench: {info.name} ...", file=sys.stderr, flush=True)
        rows.extend(module.run())
    header = ("group", "measure", "value", "unit", "reference", "ratio", "target", "ok")
    table = [header]
    for r in rows:
        ratio = f"{r.value / r.reference:.2f}" if r.reference else ""
        ref = f"{_fmt(r.reference)} ({r.reference_name})" if r.reference is not None else ""
        ok = "" if r.ok is None else ("yes" if r.ok else "NO")
        table.append((r.group, r.name, _fmt(r.value), r.unit, ref, ratio, r.target, ok))
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    for i, row in enumerate(table):
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))
    failed = [r for r in rows if r.ok is False]
    if failed:
        print(f"\n{len(failed)} figure(s) missed their target", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
