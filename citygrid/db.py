"""The one declarative Base, the engine, the session factory and the request dependency."""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any, Protocol

import psycopg
from fastapi import Depends, Request
from psycopg.rows import namedtuple_row
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import Engine, MetaData, create_engine, event, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from citygrid.settings import get_settings, normalise_database_url

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


READ_POOL_TIMEOUT_S = 5.0
# How long the async pool retries one lost connection before starting afresh. psycopg_pool
# retries with a doubling delay (1, 2, 4, 8 s …) for up to 5 minutes by default, so after the
# database came back requests waited for the next retry: up to as long again as it was down.
# Started afresh (retry_connecting), it tries about once a second, and serves at once after.
RECONNECT_TIMEOUT_S = 1.0


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    """The engine of the app's sessions. pool_pre_ping: a pooled connection is tested when it is
    checked out (one round trip), so after a failover or restart a request gets a fresh
    connection (to the new primary, through a multi-host URL) instead of a 503 on a dead one."""
    engine = create_engine(
        url, pool_size=pool_size, max_overflow=pool_size, pool_recycle=3600, pool_pre_ping=True
    )
    event.listen(engine, "connect", without_jit)
    return engine


def without_jit(dbapi_connection: Any, _record: object) -> None:
    """JIT off on every connection of the application. A page's statements are short, but over a
    million cases the planner's estimates cross the JIT threshold and compiling costs more than
    it saves (measured: 0.1-0.3 s added to a dashboard statement, 10-20 ms to a work list's
    count); set once per connection, on a plain SET any server (or pooler) accepts."""
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET jit = off")
    dbapi_connection.commit()


@lru_cache
def get_engine() -> Engine:
    settings = get_settings()
    return make_engine(settings.resolved_database_url(), pool_size=settings.pool_size)


@lru_cache
def session_factory() -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(), expire_on_commit=False)


async def get_session() -> AsyncIterator[Session]:
    """The request's session. Creating it does no I/O, so this runs on the event loop instead of
    costing two threadpool hops per request; closing a session still inside a transaction does
    I/O (a rollback), so that goes to the threadpool. Routes that commit skip that hop."""
    session = session_factory()()
    try:
        yield session
    finally:
        if session.in_transaction():
            await run_in_threadpool(close_after_request, session)
        else:
            session.close()


def close_after_request(session: Session) -> None:
    """Closes a session still in a transaction (its rollback is I/O). When the database went
    away meanwhile, the transaction went with it: the failed rollback is no error of the
    request, which has its answer already (raised here, it would cut that answer off)."""
    try:
        session.close()
    except DBAPIError:
        session.invalidate()


SessionDep = Annotated[Session, Depends(get_session)]


@contextmanager
def open_session() -> Iterator[Session]:
    """A session for the CLI; tests replace it to run commands inside their transaction."""
    with session_factory()() as session:
        yield session


RowFetcher = Callable[[str, dict[str, Any]], Awaitable[Sequence[Any]]]


class AsyncStatements:
    """Single statements on the hot paths (locate, intake) through psycopg's async pool.

    A sync route pays a threadpool hop and GIL hand-offs per request; awaiting the database on
    the event loop serves several times more requests per core. Each statement runs in
    autocommit, a transaction by itself: atomic, one round trip where BEGIN, statement, COMMIT
    would cost three, and committed (synchronously, on disk) when this returns. SQL uses
    psycopg's %(name)s placeholders, so the same statements also run through a Session.
    """

    def __init__(
        self, sqlalchemy_url: str, *, max_size: int, timeout_s: float = READ_POOL_TIMEOUT_S
    ) -> None:
        self._pool = _async_pool(
            libpq_url(sqlalchemy_url), max_size=max_size, autocommit=True, timeout_s=timeout_s
        )
        self._opening = asyncio.Lock()
        self._checking: asyncio.Task[None] | None = None

    async def execute(self, sql: str, params: dict[str, Any]) -> Sequence[Any]:
        if self._pool.closed:
            async with self._opening:
                if self._pool.closed:
                    await self._pool.open()
        try:
            async with self._pool.connection() as connection:
                cursor = await connection.execute(sql.encode(), params)
                return await cursor.fetchall() if cursor.description else []
        except psycopg.OperationalError:
            # The server went away (a restart, a failover): the pool drops this connection on
            # return; the others it holds are as dead, so they are checked now, all at once,
            # instead of each failing one more request.
            self._check_soon()
            raise

    async def read(self, sql: str, params: dict[str, Any]) -> Sequence[Any]:
        """A read: tried once more on a fresh connection when the first one was dead (after
        a failover every pooled connection is). Writes are not retried here: whether a lost
        statement committed is unknown (intake's phones retry with the same report UUID)."""
        try:
            return await self.execute(sql, params)
        except psycopg.OperationalError:
            return await self.execute(sql, params)

    def _check_soon(self) -> None:
        if self._checking is None or self._checking.done():
            self._checking = asyncio.get_running_loop().create_task(self._pool.check())

    async def close(self) -> None:
        if not self._pool.closed:
            await self._pool.close()


def session_fetcher(session: Session) -> RowFetcher:
    """The same reads through a Session: tests see their own uncommitted rows this way."""

    async def fetch(sql: str, params: dict[str, Any]) -> Sequence[Any]:
        return session.connection().exec_driver_sql(sql, params).all()

    return fetch


def statements_of(request: Request) -> AsyncStatements:
    statements: AsyncStatements = request.app.state.statements
    return statements


async def get_row_fetcher(request: Request) -> RowFetcher:
    return statements_of(request).read


FetchDep = Annotated[RowFetcher, Depends(get_row_fetcher)]


class Writer(Protocol):
    async def execute(self, sql: str, params: dict[str, Any]) -> Sequence[Any]: ...


def libpq_url(sqlalchemy_url: str) -> str:
    return (
        make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)
    )


def _async_pool(
    dsn: str,
    *,
    max_size: int,
    autocommit: bool,
    timeout_s: float = READ_POOL_TIMEOUT_S,
) -> AsyncConnectionPool:
    """A pool for the hot paths. Their statements are prepared (psycopg does it after a few
    runs) and take the generic plan: PostgreSQL would otherwise keep re-planning the bigger
    ones (locate, intake) on every run, which measured as half of the database's CPU."""
    kwargs: dict[str, Any] = {
        "autocommit": autocommit,
        "row_factory": namedtuple_row,
        "options": "-c plan_cache_mode=force_generic_plan",
    }
    return AsyncConnectionPool(
        dsn,
        min_size=1,
        max_size=max_size,
        timeout=timeout_s,
        reconnect_timeout=RECONNECT_TIMEOUT_S,
        reconnect_failed=retry_connecting,
        open=False,
        kwargs=kwargs,
    )


async def retry_connecting(pool: AsyncConnectionPool) -> None:
    """Starts a new connection attempt when the last one gave up: the pool would otherwise
    wait for a request to find it empty, while requests already waiting time out (503)."""
    if not pool.closed:
        await pool.check()


class SessionWriter:
    """The same statements through a Session: tests run them inside their own transaction,
    where the commit after each statement only releases a savepoint."""

    def __init__(self, session: Session) -> None:
        self.session = session

    async def execute(self, sql: str, params: dict[str, Any]) -> Sequence[Any]:
        try:
            rows = self.session.connection().exec_driver_sql(sql, params).all()
        except BaseException:
            self.session.rollback()
            raise
        self.session.commit()
        return rows


async def get_writer(request: Request) -> Writer:
    return statements_of(request)


WriterDep = Annotated[Writer, Depends(get_writer)]


# --- Read replicas --------------------------------------------------------------------------

READ_APPLICATION_NAME = "citygrid-read"  # how the replicas' connections show in pg_stat_activity
PRIMARY_COOKIE = "citygrid_primary"  # set after a write: the next reads see it (on the primary)
PRIMARY_HEADER = "x-citygrid-primary"  # the same for API clients without cookies
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# On the primary, once per check: how far its WAL goes. Read before the replicas' positions, so a
# replica that has replayed up to it was current at that moment.
PRIMARY_POSITION = "SELECT pg_current_wal_lsn()::text"
# On a replica: whether it replays at all, whether it has replayed all of the primary's WAL, and
# the age of the last transaction it replayed (the lag when it has not).
REPLICA_POSITION = """
    SELECT pg_is_in_recovery(),
           CAST(%(primary_lsn)s AS pg_lsn) IS NOT NULL
               AND pg_last_wal_replay_lsn() >= CAST(%(primary_lsn)s AS pg_lsn),
           extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8
"""


@dataclass(frozen=True)
class ReplicaCheck:
    name: str
    lag_s: float | None  # None: not answering, or not a standby

    def usable(self, max_lag_s: float) -> bool:
        return self.lag_s is not None and self.lag_s <= max_lag_s


def replay_lag_s(
    in_recovery: bool, caught_up: bool, last_replay_age_s: float | None
) -> float | None:
    """A standby's lag from its position. Caught up (it has replayed everything the primary had
    written when asked) is no lag, however long ago the primary's last commit was: an idle
    primary does not make its replicas stale. Otherwise the age of the last transaction it
    replayed: the newest data it lacks is at most that old. A server that is not in recovery
    (promoted, or misconfigured) is not a replica of this primary: not used."""
    if not in_recovery:
        return None
    if caught_up:
        return 0.0
    return last_replay_age_s if last_replay_age_s is not None else float("inf")


class ReadRouting:
    """Which server answers read-only requests: the replica with the smallest replay lag under
    `max_lag_s`, checked at most every `check_interval_s`, else the primary (None).

    The check costs one statement on the primary and one per replica, once a second per
    process, whatever the request rate. Equal lags take turns, so reads spread over replicas."""

    def __init__(
        self,
        primary: Callable[[], Engine],
        replica_urls: Sequence[str],
        *,
        max_lag_s: float,
        check_interval_s: float = 1.0,
        pool_size: int = 10,
    ) -> None:
        self._primary = primary
        self.names = [f"replica_{number}" for number in range(1, len(replica_urls) + 1)]
        self._urls = dict(zip(self.names, replica_urls, strict=True))
        self.max_lag_s = max_lag_s
        self.check_interval_s = check_interval_s
        self._pool_size = pool_size
        self._engines: dict[str, Engine] = {}
        self._sessions: dict[str, sessionmaker[Session]] = {}
        self._checked_at = -float("inf")
        self._choice: str | None = None
        self._turn = 0
        self.last_checks: list[ReplicaCheck] = []
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls) -> ReadRouting:
        settings = get_settings()
        return cls(
            get_engine,
            [normalise_database_url(url) for url in settings.replica_urls],
            max_lag_s=settings.replica_max_lag_s,
            check_interval_s=settings.replica_check_interval_s,
            pool_size=settings.pool_size,
        )

    @property
    def configured(self) -> bool:
        return bool(self.names)

    def engine(self, name: str) -> Engine:
        if name not in self._engines:
            url = make_url(self._urls[name]).update_query_dict(
                {"application_name": READ_APPLICATION_NAME, "connect_timeout": "2"}
            )
            self._engines[name] = make_engine(
                url.render_as_string(hide_password=False), pool_size=self._pool_size
            )
        return self._engines[name]

    def session(self, name: str) -> Session:
        if name not in self._sessions:
            self._sessions[name] = sessionmaker(bind=self.engine(name), expire_on_commit=False)
        return self._sessions[name]()

    def choose(self) -> str | None:
        """The replica to read from now, or None for the primary (blocking: a check is I/O)."""
        with self._lock:
            now = time.monotonic()
            if now - self._checked_at >= self.check_interval_s:
                self.last_checks = self.check()
                self._checked_at = time.monotonic()
                self._choice = None
            usable = [check for check in self.last_checks if check.usable(self.max_lag_s)]
            if not usable:
                return None
            least = min(check.lag_s or 0.0 for check in usable)
            best = [check.name for check in usable if (check.lag_s or 0.0) <= least + 0.5]
            self._turn += 1
            return best[self._turn % len(best)]

    def check(self) -> list[ReplicaCheck]:
        primary_lsn: str | None = None
        try:
            with self._primary().connect() as connection:
                primary_lsn = connection.exec_driver_sql(PRIMARY_POSITION).scalar()
        except DBAPIError:
            pass  # the primary is away: the replicas' own replay ages still say how stale
        checks = []
        for name in self.names:
            try:
                with self.engine(name).connect() as connection:
                    row = connection.exec_driver_sql(
                        REPLICA_POSITION, {"primary_lsn": primary_lsn}
                    ).one()
                checks.append(ReplicaCheck(name, replay_lag_s(*row)))
            except DBAPIError:
                checks.append(ReplicaCheck(name, None))
        return checks

    def forget(self) -> None:
        """The next request checks again (after a replica failed a request)."""
        with self._lock:
            self._checked_at = -float("inf")

    def dispose(self) -> None:
        for engine in self._engines.values():
            engine.dispose()


def read_routing_of(app: Any) -> ReadRouting:
    """The app's read routing (from the settings on first use; tests put their own)."""
    routing: ReadRouting | None = getattr(app.state, "read_routing", None)
    if routing is None:
        routing = ReadRouting.from_settings()
        app.state.read_routing = routing
    return routing


def pinned_to_primary(request: Request) -> bool:
    """Whether this client wrote within the lag bound (or asks for the primary)."""
    return PRIMARY_COOKIE in request.cookies or request.headers.get(PRIMARY_HEADER) == "1"


async def get_read_session(
    request: Request, primary: Session = Depends(get_session)
) -> AsyncIterator[Session]:
    """A session for a read-only request: on a replica whose replay lag is under the bound,
    else on the primary (`primary`, which costs nothing until used). A client that wrote within
    the bound reads from the primary, so it sees its own write."""
    routing = read_routing_of(request.app)
    if not routing.configured or pinned_to_primary(request):
        yield primary
        return
    name = await run_in_threadpool(routing.choose)
    if name is None:
        yield primary
        return
    request.state.read_from = name
    session = routing.session(name)
    try:
        yield session
    except DBAPIError:
        routing.forget()
        raise
    finally:
        if session.in_transaction():
            await run_in_threadpool(close_after_request, session)
        else:
            session.close()


ReadSessionDep = Annotated[Session, Depends(get_read_session)]


class ReadYourWrites:
    """ASGI middleware: a successful write (POST, PUT, PATCH, DELETE answered below 400) sets a
    cookie that lives as long as the lag bound; while it lives, read-only requests go to the
    primary (get_read_session). Only when replicas are configured."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] not in UNSAFE_METHODS:
            await self.app(scope, receive, send)
            return
        routing = read_routing_of(scope["app"])
        if not routing.configured:
            await self.app(scope, receive, send)
            return
        cookie = (
            f"{PRIMARY_COOKIE}=1; Max-Age={math.ceil(routing.max_lag_s) + 1}; Path=/; "
            "HttpOnly; SameSite=Lax"
        ).encode()

        async def send_with_cookie(message: Any) -> None:
            if message["type"] == "http.response.start" and message["status"] < 400:
                message = {**message, "headers": [*message["headers"], (b"set-cookie", cookie)]}
            await send(message)

        await self.app(scope, receive, send_with_cookie)
