"""The whole API fuzzed as its integrators would: schemathesis with every check, for every role
an operation admits, the derandomized pass plus three random seeds, 25 cases per operation and
mode, and the stateful phase (chains of calls along the links inferred from the document).

It runs the suite's fuzzing test (tests/citygrid/test_fuzz_api.py) with a larger budget, so the
reviewed list of refusals no schema can express is the test's, and prints the figures: the
operations, the requests sent, the failures outside the reviewed list, the wall time.

    .venv/bin/python bench/fuzz_api.py              # 3 seeds x 25 examples (several minutes)
    .venv/bin/python bench/fuzz_api.py --tiny       # one seed, 2 examples, a few operations
    .venv/bin/python bench/fuzz_api.py --seeds 11,12,13 --examples 40

CPU-heavy: run it under `flock /tmp/citygrid-heavy.lock`.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEST = "tests/citygrid/test_fuzz_api.py"
# --tiny: a public operation, a signed-in one with filters, one with a body.
TINY_SELECTION = "categories or health or reviewed"


@dataclass
class Figures:
    """What one run measured, from pytest's JUnit XML."""

    operations: set[str] = field(default_factory=set)
    tests: int = 0
    requests: int = 0
    stateful_requests: int = 0
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0


def parse_junit(path: Path) -> Figures:
    figures = Figures()
    for case in ET.parse(path).getroot().iter("testcase"):
        name = case.get("name", "")
        figures.tests += 1
        requests = sum(
            int(prop.get("value", "0"))
            for prop in case.iter("property")
            if prop.get("name") == "requests"
        )
        operation = re.search(r"\[(\w+ /[^\]]*?)-(positive|negative)-", name)
        if operation:
            figures.operations.add(operation.group(1))
            figures.requests += requests
        elif name.startswith("test_workflows"):
            figures.stateful_requests += requests
        if case.find("failure") is not None or case.find("error") is not None:
            figures.failures.append(name)
    return figures


def run(seeds: list[int], examples: int, steps: int, scenarios: int, selection: str) -> Figures:
    with tempfile.TemporaryDirectory() as directory:
        junit = Path(directory) / "fuzz.xml"
        env = {
            **os.environ,
            "CITYGRID_FUZZ_SEED": ",".join(str(seed) for seed in seeds),
            "CITYGRID_FUZZ_EXAMPLES": str(examples),
            "CITYGRID_FUZZ_STATEFUL_STEPS": str(steps),
            "CITYGRID_FUZZ_STATEFUL_SCENARIOS": str(scenarios),
        }
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-o",
            "junit_family=legacy",
            f"--junitxml={junit}",
            "--tb=line",
            TEST,
        ]
        if selection:
            command += ["-k", selection]
        started = time.monotonic()
        finished = subprocess.run(command, cwd=ROOT, env=env, check=False)
        seconds = time.monotonic() - started
        if not junit.exists():
            raise SystemExit(f"pytest wrote no report (exit {finished.returncode})")
        figures = parse_junit(junit)
    figures.seconds = seconds
    return figures


def report(figures: Figures, seeds: list[int], examples: int, steps: int, scenarios: int) -> str:
    total = figures.requests + figures.stateful_requests
    rate = total / figures.seconds if figures.seconds else 0.0
    lines = [
        f"seeds: derandomized + {', '.join(str(seed) for seed in seeds)}; {examples} examples "
        f"per operation and mode; stateful: {scenarios} scenarios x {steps} steps per role "
        "and seed",
        "",
        "| figure | value |",
        "| --- | --- |",
        f"| operations | {len(figures.operations)} |",
        f"| tests (operation x mode x seed, workflows x role x seed) | {figures.tests} |",
        f"| requests: per operation (every admitted role) | {figures.requests:,} |",
        f"| requests: stateful workflows | {figures.stateful_requests:,} |",
        f"| failures outside the reviewed list | {len(figures.failures)} |",
        f"| wall time | {figures.seconds:.0f} s ({rate:.0f} requests/s) |",
    ]
    lines += [f"- failed: {name}" for name in figures.failures]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="a quick run over a few operations")
    parser.add_argument("--seeds", help="comma list of seeds (default: 3 fresh random ones)")
    parser.add_argument("--examples", type=int, default=25)
    parser.add_argument("--steps", type=int, default=10, help="steps per stateful scenario")
    parser.add_argument("--scenarios", type=int, default=10, help="stateful scenarios per role")
    options = parser.parse_args()
    if options.seeds:
        seeds = [int(seed) for seed in options.seeds.split(",")]
    else:
        fresh = random.SystemRandom()
        seeds = [fresh.randrange(2**32) for _ in range(1 if options.tiny else 3)]
    examples, steps, scenarios, selection = options.examples, options.steps, options.scenarios, ""
    if options.tiny:
        examples, steps, scenarios, selection = 2, 3, 1, TINY_SELECTION
    print(f"fuzzing with seeds {seeds} (replay one: CITYGRID_FUZZ_SEED=<seed>)", flush=True)
    figures = run(seeds, examples, steps, scenarios, selection)
    print(report(figures, seeds, examples, steps, scenarios))
    if figures.failures:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
