"""The forecast on the demo's history (Dongcheng, ~20,000 cases over 90 days), as the command
prints it: the backtest's MASE beats last week's numbers and the interval coverage is reported."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from typer.testing import Result

# Loads the whole demo city.
pytestmark = pytest.mark.heavy

BACKTEST = re.compile(
    r"(\d+) street × group series from (\S+) to (\S+) forecast in [\d.]+ s; backtest over "
    r"(\d) origins: MASE ([\d.]+) \(last week's numbers: ([\d.]+)\), 80 % interval coverage "
    r"(\d+)%"
)


def test_on_the_demo_history_the_backtest_beats_last_weeks_numbers(
    run_cli: Callable[..., Result],
) -> None:
    loaded = run_cli("demo", "load")
    assert loaded.exit_code == 0, loaded.output
    result = run_cli("analysis", "forecast")
    assert result.exit_code == 0, result.output
    found = BACKTEST.search(" ".join(result.output.split()))
    assert found, result.output[:2000]
    series, origins = int(found.group(1)), int(found.group(4))
    mase, naive_mase, coverage = float(found.group(5)), float(found.group(6)), int(found.group(7))
    assert series > 100 and origins == 4
    assert mase < 1 and mase < naive_mase
    assert 80 <= coverage <= 100  # whole-number intervals on sparse streets hold more than 80 %
