"""``triage shop``: serve the demo shop, the connector's reference implementation on a real database."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from commands._console import Subcommands, err

if TYPE_CHECKING:
    import argparse

__all__ = ["register"]


def register(sub: Subcommands) -> None:
    """Add ``shop`` to the ``triage`` parser."""
    p = sub.add_parser("shop", help="serve the demo shop (the shop connector's reference implementation)")
    p.add_argument("--orders", default="../shared/data/shop/orders.json", help="seed loaded into an empty database")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8090)
    p.add_argument("--db", default="var/shop.db", help="SQLite file path or postgresql:// URL")
    p.add_argument("--secret", default=None,
                   help="HMAC secret every request must be signed with (else [shop] secret; empty: unsigned)")
    p.add_argument("--allow-faults", action="store_true", help="serve /_faults to make the shop misbehave (tests)")
    p.add_argument("--reset", action="store_true", help="drop every change and load --orders again")
    p.set_defaults(run=_cmd_shop)


def _cmd_shop(args: argparse.Namespace) -> int:
    from demo_shop.server import ShopSettings, serve
    from triage.config import load_config

    secret = load_config().shop.secret if args.secret is None else args.secret
    settings = ShopSettings(orders=Path(args.orders), db=args.db, host=args.host, port=args.port, secret=secret,
                            allow_faults=args.allow_faults, reset=args.reset)
    # One unwrapped line: scripts and tests read it (rich would fold it at the terminal's width).
    asyncio.run(serve(settings, announce=lambda line: err.print(line, soft_wrap=True, markup=False, highlight=False)))
    return 0
