"""Failover: the loss of the primary costs seconds and no acknowledged report.

The short form of bench/failover.py: a pg_auto_failover formation of its own (monitor and two
data nodes, synchronous replication), the app on its multi-host URL with the scheduler on, four
phones retrying each report's UUID until a 2xx, a reader, overdue assignments escalating to a
webhook receiver. The primary is killed (SIGKILL to its postmaster and keeper), the standby is
promoted, the old primary rejoins as standby, and the new primary is killed in turn: the
formation fails back (the long form lets that one rejoin too).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import psycopg
import pytest

from bench.failover import (
    RECOVERY_TARGET_S,
    FailoverFigures,
    FailoverLedger,
    FailoverPlan,
    first_2xx_after,
    new_private_formation,
    run_drill,
)
from citygrid.db import AsyncStatements, libpq_url
from citygrid.ha import NODES, Formation
from dispatch.escalation.ladder import DEFAULT_CHAIN

SHORT_PLAN = FailoverPlan(
    clients=4,
    before_s=4.0,
    after_s=3.0,
    between_s=2.0,
    failovers=2,
    rejoin_last=False,
    assignments_per_s=1.0,
)


@pytest.fixture(scope="module")
def figures(tmp_path_factory: pytest.TempPathFactory) -> FailoverFigures:
    return run_drill(SHORT_PLAN, tmp_path_factory.mktemp("failover"))


@pytest.mark.failover
def test_the_standby_is_promoted_and_intake_answers_within_the_target(
    figures: FailoverFigures,
) -> None:
    print("\n".join(figures.lines()))
    first, second = figures.failovers
    assert (first.victim, first.promoted) == NODES  # node_1 lost, node_2 promoted…
    assert (second.victim, second.promoted) == tuple(reversed(NODES))  # …and back
    for failover in figures.failovers:
        assert failover.synchronous_standby.startswith("ANY 1 (")  # commits waited for both
        assert failover.first_2xx_s <= RECOVERY_TARGET_S
    assert first.rejoined_s is not None and first.rejoined_s < 60  # the lost node came back


@pytest.mark.failover
def test_no_acknowledged_report_is_lost_or_doubled_across_two_failovers(
    figures: FailoverFigures,
) -> None:
    drill = figures.drill
    assert drill.acknowledged >= 30
    assert (drill.lost, drill.doubled, drill.unfinished) == (0, 0, 0)
    assert drill.resent >= 2


@pytest.mark.failover
def test_the_api_answers_only_2xx_or_503_with_retry_after(figures: FailoverFigures) -> None:
    assert figures.answers_not_allowed == {}
    assert figures.drill.answers.get("503", 0) + figures.drill.answers.get("read 503", 0) >= 1
    assert not figures.drill.app_restarted
    assert figures.drill.scheduler_warnings == SHORT_PLAN.failovers  # one per loss, no trace
    # The one ERROR a loss may log: intake's best-effort recurrence link after the report was
    # committed and acknowledged (events/recurrence; the batch command links it later).
    assert all("recurrence link of case" in line for line in figures.drill.errors_logged)


@pytest.mark.failover
def test_escalations_and_deliveries_happen_once_across_the_failovers(
    figures: FailoverFigures,
) -> None:
    drill = figures.drill
    assert drill.assignments >= 3
    assert (drill.escalations_missing, drill.escalations_doubled) == (0, 0)
    assert drill.deliveries == drill.assignments * len(DEFAULT_CHAIN.steps)
    assert drill.deliveries_pending == 0
    assert drill.received_distinct == drill.deliveries
    assert drill.received_unknown == 0
    assert drill.received_total == drill.received_distinct  # none posted twice


def test_recovery_counts_only_reports_sent_after_the_kill() -> None:
    ledger = FailoverLedger(acknowledged_attempts=[(9.0, 10.5), (10.2, 17.0), (11.0, 16.0)])
    assert first_2xx_after(ledger, 10.0) == 6.0  # the answer at 10.5 was to a report sent before
    assert first_2xx_after(FailoverLedger(), 10.0) == float("inf")


def test_the_drill_refuses_a_formation_that_exists(tmp_path: Path) -> None:
    formation = Formation.for_state_dir(tmp_path / "state")
    formation.root.mkdir(parents=True)
    (formation.root / "monitor").mkdir()
    try:
        with pytest.raises(RuntimeError, match="not a new private formation"):
            new_private_formation(tmp_path / "state")
    finally:
        (formation.root / "monitor").rmdir()
        formation.root.rmdir()


def test_the_multi_host_url_names_both_nodes_and_asks_for_the_writable_one(
    tmp_path: Path,
) -> None:
    formation = Formation.for_state_dir(tmp_path / "state")
    first, second = (formation.port(name) for name in NODES)
    assert formation.database_url("citygrid") == (
        f"postgresql://postgres@/citygrid?host=127.0.0.1,127.0.0.1&port={first},{second}"
        "&target_session_attrs=read-write"
    )
    assert formation.multi_host_url("citygrid") == (
        f"postgresql://postgres@127.0.0.1:{first},127.0.0.1:{second}/citygrid"
        "?target_session_attrs=read-write"
    )


def test_a_read_is_retried_once_on_a_fresh_connection_and_a_write_is_not(
    server_url: str,
) -> None:
    """After a failover every pooled connection is dead: a read (FetchDep) tries once more on
    a new one; a write (WriterDep) answers 503 at once, since whether it committed is unknown."""

    async def scenario() -> tuple[int, int]:
        statements = AsyncStatements(server_url, max_size=1)  # one connection: the dead one
        try:
            [first] = await statements.execute("SELECT pg_backend_pid() AS pid", {})
            terminate(first.pid)
            with pytest.raises(psycopg.OperationalError):
                await statements.execute("SELECT pg_backend_pid() AS pid", {})
            [second] = await statements.execute("SELECT pg_backend_pid() AS pid", {})
            terminate(second.pid)
            [third] = await statements.read("SELECT pg_backend_pid() AS pid", {})
            return second.pid, third.pid
        finally:
            await statements.close()

    def terminate(pid: int) -> None:
        with psycopg.connect(libpq_url(server_url), autocommit=True) as other:
            other.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))

    killed, answered = asyncio.run(scenario())
    assert answered != killed
