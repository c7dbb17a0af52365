"""Run the demo shop: load the seed, open the database, serve the app until SIGINT or SIGTERM.

The database is opened and seeded before the server binds, on the server's own event loop, so a
bad ``orders.json`` or an unreachable PostgreSQL fails the command with its message instead of
surfacing as a failed ASGI lifespan.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import uvicorn

from demo_shop.app import create_app
from demo_shop.seed import load_orders
from demo_shop.store import open_store

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

__all__ = ["ShopSettings", "serve"]


@dataclass(frozen=True)
class ShopSettings:
    orders: Path
    """The seed (``shared/data/shop/orders.json``), loaded into an empty database."""
    db: str = "var/shop.db"
    """SQLite file path, or a ``postgresql://`` URL."""
    host: str = "127.0.0.1"
    port: int = 8090
    secret: str = ""
    """Requests must be signed with it (``[shop] secret``); empty: unsigned requests are served."""
    allow_faults: bool = False
    """Serve ``/_faults``: tests make the shop slow, broken or down on purpose."""
    reset: bool = False
    """Drop every order and idempotency record and load the seed again."""


async def serve(settings: ShopSettings, announce: Callable[[str], None] = print) -> None:
    orders = load_orders(settings.orders)
    store = open_store(settings.db)
    await store.open()
    try:
        loaded = await store.load(orders, reset=settings.reset)
        app = create_app(store, secret=settings.secret, allow_faults=settings.allow_faults)
        server = uvicorn.Server(uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning"))
        kept = f"{loaded} orders loaded from {settings.orders.name}" if loaded else "orders kept"
        signed = "signed requests only" if settings.secret else "unsigned requests accepted (no secret)"
        faults = ", FAULT INJECTION ON (/_faults)" if settings.allow_faults else ""
        announce(f"demo shop on http://{settings.host}:{settings.port}/ ({store.describe()}, {kept}; {signed}{faults})")
        await server.serve()
    finally:
        await store.close()
