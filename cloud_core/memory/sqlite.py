"""SQLite memory backend: the embedded default for a single cloud replica.

WAL mode lets readers run beside the one writer, and every statement commits on its own
(autocommit), so a killed process loses at most the statement in flight.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiosqlite

from cloud_core.memory._migrations import migrations
from cloud_core.memory.base import ScopedStore

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["SqliteMemoryStore"]


class SqliteMemoryStore(ScopedStore):
    def __init__(self, url: str) -> None:
        self.url = url
        path = url.removeprefix("sqlite://")
        self._path = path[1:] if path.startswith("/") else path
        self._conn: aiosqlite.Connection | None = None

    async def open(self) -> None:
        if self._path != ":memory:":
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(self._path, isolation_level=None)
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=NORMAL")
        await conn.execute("PRAGMA busy_timeout=5000")
        self._conn = conn
        await self._migrate()

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    def _db(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise RuntimeError("the SQLite memory store is not open; call `await store.open()` first")
        return self._conn

    async def _migrate(self) -> None:
        db = self._db()
        await db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at REAL)")
        current = await self.schema_version()
        for version, statements in migrations("sqlite"):
            if version <= current:
                continue
            await db.execute("BEGIN IMMEDIATE")
            try:
                for statement in statements:
                    await db.execute(statement)
                await db.execute("INSERT INTO schema_migrations VALUES (?, strftime('%s','now'))", (version,))
                await db.execute("COMMIT")
            except BaseException:
                await db.execute("ROLLBACK")
                raise

    async def schema_version(self) -> int:
        async with self._db().execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def execute(self, sql: str, params: Sequence[Any]) -> int:
        async with self._db().execute(sql, tuple(params)) as cursor:
            return int(cursor.rowcount)

    async def fetch(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        async with self._db().execute(sql, tuple(params)) as cursor:
            return [tuple(row) for row in await cursor.fetchall()]
