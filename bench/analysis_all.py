"""The analysis benchmarks in one command: each part is a script of its own (so one can be
rerun alone), run here one after another with their full sizes, or their tiny ones.

    .venv/bin/python bench/analysis_all.py                  # every part, full size (minutes)
    .venv/bin/python bench/analysis_all.py --part forecast  # one part
    .venv/bin/python bench/analysis_all.py --tiny           # every part at its tiny size

(Not bench/analysis.py: a script's folder comes first on sys.path, so that name would hide the
`analysis` package from the scripts beside it.)

Parts and targets (figures in bench/README.md):
  emerging    emerging hot spots, 100,000 cells x 52 weeks, weights cached     < 30 s
  recurrence  recurrence linking over 1,000,000 cases                          < 60 s
  forecast    forecasts for every street x category group, with the backtest   < 60 s
  suggest     training on 500,000 cases < 2 min; a suggestion at intake        < 5 ms at p99
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
# Each part's script and its tiny arguments (the ones tests/bench/test_bench_small.py runs).
PARTS: dict[str, tuple[str, list[str]]] = {
    "emerging": ("analysis_emerging.py", ["--tiny"]),
    "recurrence": (
        "analysis_recurrence.py",
        ["--cells", "1000", "--cases", "2000", "--check", "50"],
    ),
    "forecast": (
        "analysis_forecast.py",
        ["--synthetic", "--cells", "1000", "--cases", "3000", "--compare", "2"],
    ),
    "suggest": ("analysis_suggest.py", ["--tiny"]),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=sorted(PARTS), action="append", help="default: all")
    parser.add_argument("--tiny", action="store_true", help="every part at its tiny size")
    arguments = parser.parse_args()
    failed = []
    for part in arguments.part or list(PARTS):
        script, tiny = PARTS[part]
        print(f"## {part}: bench/{script}", flush=True)
        command = [sys.executable, str(BENCH / script), *(tiny if arguments.tiny else [])]
        if subprocess.run(command, check=False).returncode != 0:
            failed.append(part)
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
