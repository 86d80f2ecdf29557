"""Migrations never lose data: from every older revision, upgrading a city keeps every row.

A database at head is loaded with a small demo city, then taken down to each older revision in
turn (so every downgrade runs against rows) and up again: the tables the older revision had must
hold the same rows, over the columns they had, after the upgrade as before it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import NullPool, create_engine
from sqlalchemy.orm import Session

from citygrid.cli import alembic_config, migrate
from tests.citygrid.checksums import TableDigest, load_small_city, table_columns, table_digests
from tests.conftest import throwaway_database

# Alembic's own bookkeeping changes with every step by design.
NOT_DATA = {"alembic_version"}


def older_revisions() -> list[str]:
    """Every revision but the newest, newest first."""
    script = ScriptDirectory.from_config(alembic_config())
    return [revision.revision for revision in script.walk_revisions()][1:]


def columns_and_digests(url: str) -> tuple[dict[str, tuple[str, ...]], dict[str, TableDigest]]:
    """The tables at `url` with their columns, and each table's row count and checksum."""
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as connection:
        columns = table_columns(connection)
        for table in NOT_DATA:
            columns.pop(table, None)
        digests = table_digests(connection, columns)
    engine.dispose()
    return columns, digests


def digests_over(url: str, columns: dict[str, tuple[str, ...]]) -> dict[str, TableDigest]:
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as connection:
        digests = table_digests(connection, columns)
    engine.dispose()
    return digests


@pytest.fixture(scope="module")
def city_url(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A throwaway database at head holding a small demo city."""
    with throwaway_database(server_url) as url:
        migrate(url)
        engine = create_engine(url, poolclass=NullPool)
        with Session(engine) as session:
            load_small_city(session, Path(tmp_path_factory.mktemp("media")))
        engine.dispose()
        yield url


def test_there_are_older_revisions_to_upgrade_from() -> None:
    assert len(older_revisions()) >= 4


def test_upgrading_from_every_older_revision_keeps_every_row(city_url: str) -> None:
    for older in older_revisions():
        migrate(city_url, older, down=True)
        columns, before = columns_and_digests(city_url)
        assert before["grid_cell"].rows > 0 and before["app_user"].rows > 0
        if "event_case" in before:
            assert before["event_case"].rows > 100
        migrate(city_url, "head")
        after = digests_over(city_url, columns)
        changed = sorted(table for table in before if after[table] != before[table])
        assert changed == [], f"upgrading from {older} to head changed {changed}"


def test_downgrading_a_city_to_base_leaves_nothing_and_it_upgrades_again(city_url: str) -> None:
    migrate(city_url, "base", down=True)
    columns, _ = columns_and_digests(city_url)
    assert columns == {}
    migrate(city_url, "head")
    columns, digests = columns_and_digests(city_url)
    city_tables = ("grid_cell", "app_user", "event_case", "component")
    assert {table: digests[table].rows for table in city_tables} == dict.fromkeys(city_tables, 0)
