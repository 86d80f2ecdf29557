"""DATABASE_URL as people write it: libpq's forms, a pg_auto_failover formation's multi-host URL."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url

from citygrid.settings import normalise_database_url


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@localhost/citygrid", "postgresql+psycopg://u:p@localhost/citygrid"),
        ("postgres://u@db:5433/citygrid", "postgresql+psycopg://u@db:5433/citygrid"),
        ("postgresql://u@/citygrid?host=/tmp", "postgresql+psycopg://u@/citygrid?host=/tmp"),
        (
            "postgresql://u@h1:5433,h2:5434/citygrid?target_session_attrs=read-write",
            "postgresql+psycopg://u@/citygrid?target_session_attrs=read-write"
            "&host=h1,h2&port=5433,5434",
        ),
        ("postgresql://h1,h2/citygrid", "postgresql+psycopg:///citygrid?host=h1,h2"),
    ],
)
def test_database_urls_become_psycopg_urls(given: str, expected: str) -> None:
    assert normalise_database_url(given) == expected


def test_a_multi_host_url_reaches_libpq_with_every_host_and_port() -> None:
    url = make_url(normalise_database_url("postgresql://u@h1:5433,h2:5434/citygrid"))
    assert url.query["host"] == "h1,h2" and url.query["port"] == "5433,5434"
