"""SQLite backend (the default): one file, one connection, writes under ``BEGIN IMMEDIATE``.

``BEGIN IMMEDIATE`` takes the database's write lock at the start of a write, so two writes (from
this process or another one on the same file) never interleave; WAL mode lets reads go on meanwhile,
and ``synchronous=FULL`` makes a committed refund survive a power cut. The one connection is shared
by the event loop's requests, so a lock keeps one transaction on it at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

import aiosqlite

from demo_shop.store.base import ShopStore, StoreError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence
    from pathlib import Path

    from demo_shop.store.base import Tx

__all__ = ["SqliteShopStore"]


class _SqliteTx:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in await self._conn.execute_fetchall(sql, params)]

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        await (await self._conn.execute(sql, params)).close()


class SqliteShopStore(ShopStore):
    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn_or_none: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    def describe(self) -> str:
        return f"SQLite {self.path}"

    async def open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = await aiosqlite.connect(self.path, isolation_level=None)
            for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=10000"):
                await conn.execute(f"PRAGMA {pragma}")
        except (OSError, aiosqlite.Error) as exc:
            raise StoreError(f"cannot open the demo shop's database {self.path}: {exc}") from exc
        self._conn_or_none = conn
        await self.create_schema()

    async def close(self) -> None:
        if self._conn_or_none is not None:
            await self._conn_or_none.close()
            self._conn_or_none = None

    @contextlib.asynccontextmanager
    async def _locked(self) -> AsyncIterator[aiosqlite.Connection]:
        """The one connection, to one transaction at a time."""
        async with self._lock:
            if self._conn_or_none is None:
                raise StoreError("the demo shop's SQLite store is not open; call `await store.open()` first")
            yield self._conn_or_none

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[_SqliteTx]:
        async with self._locked() as conn:
            await conn.execute("BEGIN IMMEDIATE")
            try:
                yield _SqliteTx(conn)
            except BaseException:
                await conn.execute("ROLLBACK")
                raise
            await conn.execute("COMMIT")

    async def lock(self, tx: Tx, name: str) -> None:
        """Nothing to do: ``BEGIN IMMEDIATE`` already holds the whole database's write lock."""

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[_SqliteTx]:
        async with self._locked() as conn:
            yield _SqliteTx(conn)
