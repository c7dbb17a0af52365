"""The demo shop's storage, one SQL schema for both databases: orders as JSON documents, and the
idempotency record of every write.

A write is one transaction: take the idempotency key's lock, look the key up (a stored answer is
replayed; the same key for another request is a conflict), lock the order's row, apply the rule,
then store the changed order and the key's record together. Either both are committed or neither
is, so a write whose answer was lost (the shop died, the client timed out) is found under its key
on the retry and never done twice. The backends only say how to open a transaction and lock.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import msgspec

from triage.connector.contract import Order

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from contextlib import AbstractAsyncContextManager

    from demo_shop.rules import Change

__all__ = ["KeyReused", "OrderMissing", "ShopStore", "StoreError", "Tx", "WriteKey", "Written"]

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, "
    "created_at TEXT NOT NULL, doc TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS orders_by_customer ON orders (customer_id, created_at)",
    "CREATE TABLE IF NOT EXISTS idempotency_keys (key TEXT PRIMARY KEY, endpoint TEXT NOT NULL, "
    "request_sha256 TEXT NOT NULL, response TEXT NOT NULL, created_at TEXT NOT NULL)",
]


class StoreError(RuntimeError):
    """The database cannot be opened or used; the message names it."""


class OrderMissing(Exception):
    """No order with that id."""


class KeyReused(Exception):
    """An idempotency key already used for a different request (another endpoint, order or body)."""


class Tx(Protocol):
    """One connection inside (or outside) a transaction, with ``?`` placeholders on both databases."""

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> None: ...


@dataclass(frozen=True)
class WriteKey:
    key: str
    endpoint: str
    """``cancel:10231``: the same key for another action or order is refused."""
    request_sha256: str
    """Of the request as decoded and encoded again, so whitespace or field order do not matter."""
    created_at: str


@dataclass(frozen=True)
class Written:
    response: bytes
    """The ``WriteResult`` as first answered."""
    replayed: bool


def _doc(order: Order) -> str:
    return msgspec.json.encode(order).decode()


def _order(doc: str) -> Order:
    return msgspec.json.decode(doc, type=Order)


class ShopStore(abc.ABC):
    for_update: ClassVar[str] = ""
    """What locks a selected row until commit (PostgreSQL); SQLite's write transaction locks everything."""

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect and create the schema (idempotent)."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    def describe(self) -> str:
        """For the start line; no password."""

    @abc.abstractmethod
    def transaction(self) -> AbstractAsyncContextManager[Tx]:
        """A write transaction: committed when the block ends, rolled back when it raises."""

    @abc.abstractmethod
    def reading(self) -> AbstractAsyncContextManager[Tx]: ...

    @abc.abstractmethod
    async def lock(self, tx: Tx, name: str) -> None:
        """Serialize transactions on ``name`` until commit (a key not yet stored has no row to lock)."""

    async def create_schema(self) -> None:
        """The tables, where they are missing (what ``open`` does once connected)."""
        async with self.transaction() as tx:
            await self.lock(tx, "demo_shop:schema")
            for statement in SCHEMA:
                await tx.execute(statement)

    async def load(self, orders: list[Order], reset: bool = False) -> int:
        """Store the seed orders if there are none (or, with ``reset``, in place of everything); how many."""
        async with self.transaction() as tx:
            await self.lock(tx, "demo_shop:load")
            if reset:
                await tx.execute("DELETE FROM idempotency_keys")
                await tx.execute("DELETE FROM orders")
            if (await tx.fetch("SELECT COUNT(*) FROM orders"))[0][0]:
                return 0
            for order in orders:
                await tx.execute("INSERT INTO orders (id, customer_id, created_at, doc) VALUES (?, ?, ?, ?)",
                                 (order.id, order.customer.id, order.created_at, _doc(order)))
            return len(orders)

    async def order(self, order_id: str) -> Order | None:
        async with self.reading() as tx:
            rows = await tx.fetch("SELECT doc FROM orders WHERE id = ?", (order_id,))
        return _order(rows[0][0]) if rows else None

    async def customer_orders(self, customer_id: str, limit: int) -> list[Order]:
        """Newest first."""
        async with self.reading() as tx:
            rows = await tx.fetch("SELECT doc FROM orders WHERE customer_id = ? "
                                  "ORDER BY created_at DESC, id DESC LIMIT ?", (customer_id, limit))
        return [_order(row[0]) for row in rows]

    async def write(self, order_id: str, key: WriteKey, apply: Callable[[Order], Change]) -> Written:
        """Apply a rule to an order exactly once per key; a ``Refusal`` from it rolls everything back."""
        async with self.transaction() as tx:
            await self.lock(tx, f"demo_shop:key:{key.key}")
            rows = await tx.fetch("SELECT endpoint, request_sha256, response FROM idempotency_keys WHERE key = ?",
                                  (key.key,))
            if rows:
                endpoint, digest, response = rows[0]
                if (endpoint, digest) != (key.endpoint, key.request_sha256):
                    raise KeyReused(f"idempotency key {key.key!r} was used for another request ({endpoint})")
                return Written(str(response).encode(), replayed=True)
            rows = await tx.fetch(f"SELECT doc FROM orders WHERE id = ?{self.for_update}", (order_id,))
            if not rows:
                raise OrderMissing(order_id)
            change = apply(_order(rows[0][0]))
            await tx.execute("UPDATE orders SET doc = ? WHERE id = ?", (_doc(change.order), order_id))
            for new in change.new_orders:
                await tx.execute("INSERT INTO orders (id, customer_id, created_at, doc) VALUES (?, ?, ?, ?)",
                                 (new.id, new.customer.id, new.created_at, _doc(new)))
            response = msgspec.json.encode(change.result)
            await tx.execute("INSERT INTO idempotency_keys (key, endpoint, request_sha256, response, created_at) "
                             "VALUES (?, ?, ?, ?, ?)",
                             (key.key, key.endpoint, key.request_sha256, response.decode(), key.created_at))
            return Written(response, replayed=False)
