"""The layout's contracts: layers only point down, policy modules stay pure, the core is listed."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The issue's own check: these import neither the web framework nor the database toolkit.
PURE_MODULES = (
    "events.lifecycle",
    "grid.places.addresses",
    "grid.places.messy",
    "events.visibility",
    "events.cases.prerequisites",
    "dispatch.deadlines",
    "maps.hotspots",
    "analysis.forecast.model",
    "analysis.emerging.categories",
    "analysis.emerging.cube",
    "events.suggestions.classifier",
    "events.suggestions.corpus",
    "citygrid.accounts.roles",
    "events.recurrence.rules",
    "sensing.messages",
    "sensing.rules",
    "events.hotline.standard",
    "dispatch.hotline_rates.rates",
    "dispatch.callbacks.retries",
    "dispatch.hotline_sync.payloads",
    "dispatch.hotline.replies",
    "dispatch.summons.roster",
)
# citygrid's own modules that the layers contract places above the core (the web shell and the
# composition); every other module directly in citygrid/ is core.
ABOVE_CORE = {"__init__", "app", "cli", "table_registry", "web", "middleware", "error_responses"}
ABOVE_CORE |= {"router"}
CORE_MODULES = sorted(
    path.stem for path in (ROOT / "citygrid").glob("*.py") if path.stem not in ABOVE_CORE
)


def contracts() -> dict[str, dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return {contract["id"]: contract for contract in config["contracts"]}


def test_every_layer_contract_is_kept() -> None:
    """`lint-imports` names the modules of any import that points up a layer."""
    result = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_policy_modules_load_without_fastapi_or_sqlalchemy() -> None:
    check = (
        f"import {', '.join(PURE_MODULES)}; import sys; "
        "loaded = {'fastapi', 'sqlalchemy'} & set(sys.modules); "
        "assert not loaded, loaded"
    )
    result = subprocess.run(
        [sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("module", CORE_MODULES)
def test_every_core_module_is_under_the_core_contract(module: str) -> None:
    """A new module beside settings and db is checked as core unless the layers place it."""
    core_sources = contracts()["core"]["source_modules"]
    assert isinstance(core_sources, list) and f"citygrid.{module}" in core_sources


@pytest.mark.parametrize(
    "module",
    sorted(
        path.stem
        for path in (ROOT / "citygrid" / "accounts").glob("*.py")
        if path.stem != "__init__"
    ),
)
def test_every_accounts_module_has_a_layer(module: str) -> None:
    """accounts is layered module by module: a new one must be placed, or it goes unchecked."""
    layers = contracts()["layers"]["layers"]
    assert isinstance(layers, list)
    named = {name.strip() for layer in layers for name in str(layer).split(":")}
    assert f"citygrid.accounts.{module}" in named
