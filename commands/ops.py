"""``triage report | token``: an operator's look at an edge store, and a session token for development.

Both read the edge's own configuration and data (its store, its session secret) and print one
result; neither needs a running service.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from commands.tables import print_report

if TYPE_CHECKING:
    import argparse

    from commands._console import Subcommands
    from edge_node.report import CostReport

__all__ = ["register"]


def register(sub: Subcommands) -> None:
    """Add token and report to the ``triage`` parser."""
    p = sub.add_parser("token", help="mint a customer session token for the widget (development)")
    p.add_argument("--storefront", default="demo")
    p.add_argument("--customer", required=True)
    p.add_argument("--ttl", type=int, default=3600, help="seconds")
    p.add_argument("--secret", default=None, help="default: [edge] session_secret")
    p.set_defaults(run=_cmd_token)

    p = sub.add_parser("report", help="cost per 1,000 conversations, edge share, savings and disputes "
                                      "(resolved, refunded, proposed, handed over, by language) from an edge store")
    p.add_argument("--store", default="var/edge.db")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_cmd_report)


def _cmd_token(args: argparse.Namespace) -> int:
    from triage.config import load_config
    from triage.session_token import mint_token

    secret = args.secret or load_config().edge.session_secret
    if not secret:
        raise ValueError("no session secret: set TRIAGE_EDGE__SESSION_SECRET (the edge's) or pass --secret")
    print(mint_token(secret, args.storefront, args.customer, args.ttl))
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    print_report(asyncio.run(_report_from_store(args.store)), args.json, f"cost report from {args.store}")
    return 0


async def _report_from_store(path: str) -> CostReport:
    """Price the store's ledger with the configured costs; the store is opened, read and closed again."""
    from edge_node.report import report_from_ledger
    from edge_node.store import open_edge_store
    from triage.config import load_config

    store = open_edge_store(path)
    await store.open()
    try:
        report = report_from_ledger(await store.ledger(), load_config().cost, await store.outcomes())
        report.escalations_given_up = await store.outbox.dead_count()
        return report
    finally:
        await store.close()
