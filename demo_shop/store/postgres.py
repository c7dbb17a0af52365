"""PostgreSQL backend: several shop processes may share one database.

A write locks its idempotency key with a transaction-scoped advisory lock (a key seen for the first
time has no row to lock yet) and its order with ``SELECT ... FOR UPDATE``; keys are always taken
before orders, so two writes cannot wait on each other in a cycle.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from demo_shop.store.base import SCHEMA, ShopStore, StoreError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence

    from demo_shop.store.base import Tx

__all__ = ["PostgresShopStore"]


class _PgTx:
    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self._conn = conn

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cursor = await self._conn.execute(sql.replace("?", "%s"), tuple(params))
        return [tuple(row) for row in await cursor.fetchall()]

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        await self._conn.execute(sql.replace("?", "%s"), tuple(params))


class PostgresShopStore(ShopStore):
    for_update: ClassVar[str] = " FOR UPDATE"

    def __init__(self, url: str, max_connections: int = 4) -> None:
        self.url = url
        self._max_connections = max_connections
        self._pool_or_none: AsyncConnectionPool | None = None

    @property
    def _pool(self) -> AsyncConnectionPool:
        if self._pool_or_none is None:
            raise StoreError("the demo shop's PostgreSQL store is not open; call `await store.open()` first")
        return self._pool_or_none

    def describe(self) -> str:
        parts = urlsplit(self.url)
        return f"PostgreSQL {parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path}"

    async def open(self) -> None:
        pool = AsyncConnectionPool(self.url, min_size=1, max_size=self._max_connections, open=False,
                                   kwargs={"autocommit": True})
        try:
            await pool.open(wait=True, timeout=10.0)
        except (PoolTimeout, psycopg.Error) as exc:
            await pool.close()
            raise StoreError(f"cannot connect to the demo shop's database ({self.describe()}): {exc}") from exc
        self._pool_or_none = pool
        async with self.transaction() as tx:
            await self.lock(tx, "demo_shop:schema")
            for statement in SCHEMA:
                await tx.execute(statement)

    async def close(self) -> None:
        if self._pool_or_none is not None:
            await self._pool_or_none.close()
            self._pool_or_none = None

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[_PgTx]:
        async with self._pool.connection() as conn, conn.transaction():
            yield _PgTx(conn)

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[_PgTx]:
        async with self._pool.connection() as conn:
            yield _PgTx(conn)

    async def lock(self, tx: Tx, name: str) -> None:
        await tx.fetch("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", (name,))
