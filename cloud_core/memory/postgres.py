"""PostgreSQL memory backend: several cloud replicas share one database.

Connections come from a psycopg pool in autocommit mode; migrations run under an advisory lock
so replicas that start together apply each migration exactly once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cloud_core.memory._migrations import migrations
from cloud_core.memory.base import ScopedStore
from triage.postgres import PostgresPool, qmark

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["PostgresMemoryStore"]

_MIGRATION_LOCK = 0x7472_6961_6765  # "triage"


class PostgresMemoryStore(ScopedStore):
    locked_case_events = True
    def __init__(self, url: str, max_connections: int = 8) -> None:
        self.url = url
        self._pool = PostgresPool(url, max_connections, what="the PostgreSQL memory store")

    async def open(self) -> None:
        await self._pool.open()
        await self._migrate()

    async def close(self) -> None:
        await self._pool.close()

    async def _migrate(self) -> None:
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            await conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations "
                               "(version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
            cursor = await conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
            row = await cursor.fetchone()
            current = int(row[0]) if row else 0
            for version, statements in migrations("postgres"):
                if version <= current:
                    continue
                for statement in statements:
                    await conn.execute(statement)
                await conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))

    async def schema_version(self) -> int:
        rows = await self.fetch("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", ())
        return int(rows[0][0])

    async def execute(self, sql: str, params: Sequence[Any]) -> int:
        return await self._pool.execute(qmark(sql), params)

    async def fetch(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        return await self._pool.fetch(qmark(sql), params)
