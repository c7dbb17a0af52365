"""A psycopg connection pool in autocommit mode, opened by ``open``: what each PostgreSQL store holds.

The edge's store, the cloud core's memory and the demo shop's orders all use it.

The cloud core's memory and the demo shop's orders both share one database among several
processes, both write their SQL with SQLite's ``?`` placeholders, and both refuse to be used before
``await store.open()``; this is that part, once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

if TYPE_CHECKING:
    from collections.abc import Sequence
    from contextlib import AbstractAsyncContextManager

    from psycopg.rows import TupleRow

__all__ = ["PostgresPool", "qmark"]


def qmark(sql: str) -> str:
    """SQL written with SQLite's ``?`` placeholders, as psycopg's ``%s`` ones."""
    return sql.replace("?", "%s")


class PostgresPool:
    """The pool of one store: ``open`` connects (10 s at most), ``connection`` lends one, ``close`` ends it."""

    def __init__(self, url: str, max_connections: int, *, what: str, error: type[Exception] = RuntimeError,
                 min_connections: int = 1) -> None:
        self.url = url
        self.max_connections = max_connections
        self.min_connections = min(min_connections, max_connections)
        self._what = what
        self._error = error
        self._pool: AsyncConnectionPool | None = None

    def connection(self) -> AbstractAsyncContextManager[psycopg.AsyncConnection[TupleRow]]:
        """A connection from the pool for the block; ``error`` (the store's own) before ``open``."""
        if self._pool is None:
            raise self._error(f"{self._what} is not open; call `await store.open()` first")
        return self._pool.connection()

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """One statement on its own (autocommit); the rows it touched."""
        async with self.connection() as conn:
            return int((await conn.execute(sql, tuple(params))).rowcount)

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """One query on its own (autocommit); its rows as tuples."""
        async with self.connection() as conn:
            return [tuple(row) for row in await (await conn.execute(sql, tuple(params))).fetchall()]

    async def open(self) -> None:
        """Fill the pool's first connection; a pool that cannot is closed before the error goes up."""
        pool = AsyncConnectionPool(self.url, min_size=self.min_connections, max_size=self.max_connections, open=False,
                                   kwargs={"autocommit": True})
        try:
            await pool.open(wait=True, timeout=10.0)
        except (PoolTimeout, psycopg.Error):
            await pool.close()
            raise
        self._pool = pool

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
