"""Where the demo shop keeps its orders: SQLite by path (default) or PostgreSQL by URL."""

from __future__ import annotations

from pathlib import Path

from demo_shop.store.base import KeyReused, OrderMissing, ShopStore, StoreError, WriteKey, Written
from triage.config import is_postgres_url

__all__ = ["KeyReused", "OrderMissing", "ShopStore", "StoreError", "WriteKey", "Written", "open_store"]


def open_store(db: str) -> ShopStore:
    """``postgresql://...`` is PostgreSQL; ``sqlite:///path`` or a plain path is SQLite. Not yet opened."""
    if is_postgres_url(db):
        from demo_shop.store.postgres import PostgresShopStore

        return PostgresShopStore(db)
    if "://" in db and not db.startswith("sqlite:///"):
        raise StoreError(f"--db {db.split('://')[0]}://... is not supported: give a SQLite file path or a "
                         "postgresql:// URL")
    from demo_shop.store.sqlite import SqliteShopStore

    return SqliteShopStore(Path(db.removeprefix("sqlite:///")))
