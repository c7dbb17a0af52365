"""The demo shop: the shop connector's reference implementation on a real database (``triage shop``).

It serves the contract of docs/connector.yaml for the demo storefront's orders
(``shared/data/shop/orders.json``) from SQLite or PostgreSQL, with signed requests and idempotent,
transactional writes, so actions and procedures are tested against a shop that behaves like one.
It depends on the shared core's contract only: a real shop's adapter is built the same way.
"""

from __future__ import annotations

__all__: list[str] = []
