"""``triage chat``: send messages to a running edge and print each reply on one line.

A quick check by hand that an edge answers, in which language, from which tier and intent.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

    from commands._console import Subcommands

__all__ = ["register"]


def register(sub: Subcommands) -> None:
    """Add chat to the ``triage`` parser."""
    p = sub.add_parser("chat", help="send messages to a running edge and print the replies")
    p.add_argument("--url", default="ws://127.0.0.1:8080/v1/chat")
    p.add_argument("--storefront", default="demo")
    p.add_argument("text", nargs="+")
    p.set_defaults(run=_cmd_chat)


def _cmd_chat(args: argparse.Namespace) -> int:
    asyncio.run(_print_replies(args.url, args.text, args.storefront))
    return 0


async def _print_replies(url: str, texts: list[str], storefront: str) -> None:
    from commands.clients.chat_client import ask

    async for frame in ask(url, texts, storefront):
        if frame["type"] == "error":
            print(f"! {frame['code']}: {frame['message']}")
        else:
            print(f"[{frame['lang']} {frame['source']} {frame.get('intent') or '-'}] {frame['text']}")
