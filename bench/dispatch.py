"""Dispatch benchmarks, one after the other: routing, then evaluation.

    .venv/bin/python bench/dispatch.py              # both, default sizes (1M cases each)
    .venv/bin/python bench/dispatch.py routing -- --cases 100000
    .venv/bin/python bench/dispatch.py evaluation -- --skip-generate

Each part is its own script with its own options (`--help`): bench/dispatch_routing.py (1,000,000
cases against 10,000 rules on the 100,000-cell grid, in a rolled-back transaction) and
bench/dispatch_evaluation.py (the evaluation query over 1,000,000 generated cases, kept in the
bench database). Run one at a time: they share the 2 cores with PostgreSQL.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PARTS = {"routing": "dispatch_routing.py", "evaluation": "dispatch_evaluation.py"}


def main(argv: list[str]) -> int:
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    chosen = [arg for arg in (argv[: argv.index("--")] if "--" in argv else argv) if arg]
    unknown = [name for name in chosen if name not in PARTS]
    if unknown:
        print(f"unknown part {unknown[0]!r}; choose from {', '.join(PARTS)}", file=sys.stderr)
        return 2
    for name in chosen or list(PARTS):
        print(f"== {name} ==", flush=True)
        command = [sys.executable, str(HERE / PARTS[name]), *extra]
        finished = subprocess.run(command, check=False)
        if finished.returncode != 0:
            return finished.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
