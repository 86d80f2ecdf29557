"""The one declarative Base, the engine, the session factory and the request dependency."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Annotated, Any, Protocol

from fastapi import Depends, Request
from psycopg.rows import namedtuple_row
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import Engine, MetaData, create_engine, event, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from citygrid.settings import get_settings

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
    engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_recycle=3600)
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

    async def execute(self, sql: str, params: dict[str, Any]) -> Sequence[Any]:
        if self._pool.closed:
            async with self._opening:
                if self._pool.closed:
                    await self._pool.open()
        async with self._pool.connection() as connection:
            cursor = await connection.execute(sql.encode(), params)
            return await cursor.fetchall() if cursor.description else []

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
    return statements_of(request).execute


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
