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
from psycopg_pool import PoolTimeout

from demo_shop.store.base import ShopStore, StoreError
from triage.postgres import PostgresPool, qmark

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence

    from demo_shop.store.base import Tx

__all__ = ["PostgresShopStore"]


class _PgTx:
    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self._conn = conn

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cursor = await self._conn.execute(qmark(sql), tuple(params))
        return [tuple(row) for row in await cursor.fetchall()]

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        await self._conn.execute(qmark(sql), tuple(params))


class PostgresShopStore(ShopStore):
    for_update: ClassVar[str] = " FOR UPDATE"

    def __init__(self, url: str, max_connections: int = 4) -> None:
        self.url = url
        self._pool = PostgresPool(url, max_connections, what="the demo shop's PostgreSQL store", error=StoreError)

    def describe(self) -> str:
        parts = urlsplit(self.url)
        return f"PostgreSQL {parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path}"

    async def open(self) -> None:
        try:
            await self._pool.open()
        except (PoolTimeout, psycopg.Error) as exc:
            raise StoreError(f"cannot connect to the demo shop's database ({self.describe()}): {exc}") from exc
        await self.create_schema()

    async def close(self) -> None:
        await self._pool.close()

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
