"""The edge's durable store: sessions, accepted messages, numbered frames, outbox, ledger.

``base`` holds the interface (Protocols) and its records; each backend is one module.
"""

from __future__ import annotations

from edge_node.store.base import *  # noqa: F403  (the interface and its records)
from edge_node.store.base import EdgeStore
from edge_node.store.base import __all__ as _interface
from edge_node.store.sqlite import SqliteEdgeStore
from triage.config import is_postgres_url

__all__ = [*_interface, "SqliteEdgeStore", "open_edge_store"]


def open_edge_store(location: str) -> EdgeStore:
    """The store at ``[edge] store``: a SQLite file path (the embedded default, one host), or a
    ``postgresql://`` URL (edge hosts of a region sharing one database)."""
    if is_postgres_url(location):
        from edge_node.store.postgres import PostgresEdgeStore

        return PostgresEdgeStore(location)
    return SqliteEdgeStore(location)
