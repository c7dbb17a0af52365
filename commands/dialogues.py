"""``triage dialogues``: run a shop's conversation tests against a running stack and its shop.

Exits non-zero when a row fails, so a rollout pipeline can stop on it.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from commands._console import err
from commands.tables import print_table

if TYPE_CHECKING:
    import argparse

    from commands._console import Subcommands
    from commands.clients.dialogues import DialogueReport

__all__ = ["print_dialogue_report", "register"]


def register(sub: Subcommands) -> None:
    """Add dialogues to the ``triage`` parser."""
    p = sub.add_parser("dialogues", help="play conversation tests against a running edge and check the shop's state")
    p.add_argument("--url", default="ws://127.0.0.1:8080/v1/chat", help="the edge's websocket")
    p.add_argument("--shop", default=None, help="the shop's connector API (default [shop] url)")
    p.add_argument("--shop-secret", default=None, help="signs requests to the shop (default [shop] secret)")
    p.add_argument("--data", required=True, help="JSONL rows {id, lang, customer, turns, expect}")
    p.add_argument("--session-secret", default=None, help="mints tokens for signed-in rows (default [edge] "
                   "session_secret)")
    p.add_argument("--storefront", default="demo")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for one answer")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_cmd_dialogues)


def _cmd_dialogues(args: argparse.Namespace) -> int:
    from commands.clients.dialogues import read_dialogues, run_dialogues
    from triage.config import load_config

    config = load_config()
    shop = msgspec.structs.replace(config.shop, **{k: v for k, v in (("url", args.shop),
                                                                    ("secret", args.shop_secret)) if v})
    if not shop.url:
        raise ValueError("no shop to check: pass --shop http://127.0.0.1:8090 or set [shop] url")
    rows = read_dialogues(Path(args.data))
    with err.status(f"playing {len(rows)} dialogues against {args.url}"):
        report = asyncio.run(run_dialogues(args.url, shop, rows, args.storefront,
                                           args.session_secret or config.edge.session_secret, args.timeout))
    if args.json:
        print(json.dumps(msgspec.to_builtins(report), indent=2, ensure_ascii=False))
    else:
        print_dialogue_report(report)
    return 0 if report.passed == report.rows else 1


def print_dialogue_report(report: DialogueReport) -> None:
    print_table(f"triage dialogues: {report.passed} of {report.rows} rows pass", ("row", "lang", "result", "why"),
                [(r.id, r.lang, "pass" if r.passed else "FAIL", "; ".join(r.why)) for r in report.results])
    print_table("per language", ("lang", "passed"), [(lang, f"{share:.0%}") for lang, share in
                                                    report.per_language.items()])
