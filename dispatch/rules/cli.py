"""`citygrid dispatch rules …`: load and show routing rule sets."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
import yaml  # type: ignore[import-untyped]
from pydantic import ValidationError

from citygrid import db
from citygrid.console import console
from citygrid.errors import CitygridError
from dispatch.rules import service as rule_sets
from dispatch.rules.rulebook import RuleSetRejected, RuleSetSpec

rules_app = typer.Typer(help="Routing rule sets.", no_args_is_help=True)


def read_rule_file(
    path: Path, *, effective_from: datetime | None, comment: str | None
) -> RuleSetSpec:
    """The rule set of a YAML file; the options override its effective_from (default: now) and
    comment. Exits 1 naming each problem (rules[index].field) when it does not validate."""
    document: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict):
        fail([f"{path}: expected a mapping with effective_from, auto_dispatch and rules"])
    if effective_from is not None:
        document["effective_from"] = effective_from
    document.setdefault("effective_from", datetime.now(UTC))
    if comment is not None:
        document["comment"] = comment
    try:
        return RuleSetSpec.model_validate(document)
    except ValidationError as error:
        fail([f"{location(item['loc'])}: {item['msg']}" for item in error.errors()])


def location(parts: tuple[int | str, ...]) -> str:
    """'rules[3].area' from pydantic's ('rules', 3, 'area')."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


def fail(reasons: list[str]) -> NoReturn:
    """Print each reason and exit 1."""
    for reason in reasons:
        console.print(f"[red]{reason}[/red]", markup=True, highlight=False)
    raise typer.Exit(code=1)


@rules_app.command("load")
def load(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Rule set YAML.")],
    effective_from: Annotated[
        datetime | None,
        typer.Option(help="When it takes effect (ISO 8601, UTC unless an offset is given)."),
    ] = None,
    comment: Annotated[str | None, typer.Option(help="Why this version.")] = None,
) -> None:
    """Validate and save a new rule-set version; exit 1 listing each problem or conflict."""
    if effective_from is not None and effective_from.tzinfo is None:
        effective_from = effective_from.replace(tzinfo=UTC)
    spec = read_rule_file(path, effective_from=effective_from, comment=comment)
    with db.open_session() as session:
        try:
            saved = rule_sets.save_rule_set(session, spec, by=None, now=datetime.now(UTC))
        except RuleSetRejected as rejected:
            fail([rejected.message, *(problem["detail"] for problem in rejected.problems)])
        except CitygridError as error:
            fail([error.message])
        version, effective = saved.version, saved.effective_from
        session.commit()
    console.print(
        f"rule set v{version}: {len(spec.rules)} rules, effective from {effective.isoformat()}"
    )


@rules_app.command("show")
def show(
    version: Annotated[int | None, typer.Argument(help="Version (default: the newest).")] = None,
) -> None:
    """Print a rule-set version's rules in precedence order (the first match wins)."""
    with db.open_session() as session:
        rule_set = (
            rule_sets.newest_rule_set(session)
            if version is None
            else rule_sets.rule_set_by_version(session, version)
        )
        if rule_set is None:
            fail(["no rule set has been saved yet"])
        rules = rule_sets.rules_in_precedence(session, rule_set.id)
        effective = rule_set.effective_from.isoformat()
        title = f"rule set v{rule_set.version}, effective from {effective}"
    console.print(title, highlight=False)
    for rule in rules:
        console.print(rule_line(rule), highlight=False, markup=False)


def rule_line(rule: Any) -> str:
    """'1  garbage in NE  category 0102 (event)  cell × 1  any urgency  priority 0  → HW'."""
    if rule.area_code:
        area = f"{rule.area_kind} {rule.area_code}"
    elif rule.area_cell_ids:
        area = f"{rule.area_kind} × {len(rule.area_cell_ids)}"
    else:
        area = rule.area_kind
    category = f"{rule.category_code} ({rule.category_kind})" if rule.category_code else "*"
    return (
        f"{rule.ordinal:>5}  {rule.name or '-'}  category {category}  {area}  "
        f"{rule.urgency or 'any urgency'}  priority {rule.priority}  → {rule.department_code}"
    )
