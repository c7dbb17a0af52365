"""Per-customer memory: turns, facts with provenance, a rolling summary; SQLite or PostgreSQL."""

from __future__ import annotations

from cloud_core.memory.base import CustomerKey, CustomerScope, Fact, ForgetCounts, MemoryStore, StoredTurn
from triage.config import is_postgres_url

__all__ = ["CustomerKey", "CustomerScope", "Fact", "ForgetCounts", "MemoryStore", "StoredTurn", "open_store"]


def open_store(url: str) -> MemoryStore:
    """A store for ``sqlite:///path.db`` or ``postgresql://...``; call ``await store.open()`` next."""
    if url.startswith("sqlite://"):
        from cloud_core.memory.sqlite import SqliteMemoryStore

        return SqliteMemoryStore(url)
    if is_postgres_url(url):
        from cloud_core.memory.postgres import PostgresMemoryStore

        return PostgresMemoryStore(url)
    raise ValueError(f"unknown memory store URL {url!r}: use sqlite:///var/memory.db or postgresql://host/db")
