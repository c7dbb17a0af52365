"""``triage``: the parser, assembled from the command families, and the one place errors become exit codes.

Each family module (``catalog``, ``serve``, ``deploy``, ``learning``, ``ops``, ``chat``) registers its
own subcommands, so adding a command touches one family and never this file's logic.
"""

from __future__ import annotations

import argparse

from rich.markup import escape

from commands import catalog, chat, demo, deploy, dialogues, learning, ops, serve, shop
from commands._console import err

__all__ = ["build_parser", "main"]

_FAMILIES = (catalog, serve, demo, deploy, learning, ops, chat, dialogues, shop)


def build_parser() -> argparse.ArgumentParser:
    """The full ``triage`` parser; the manifest tests parse every deployed command line with it."""
    parser = argparse.ArgumentParser(
        prog="triage", description="The ``triage`` command: build, serve, import, evaluate and talk to the product.")
    sub = parser.add_subparsers(dest="command", required=True)
    for family in _FAMILIES:
        family.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; a failure the user can fix prints its message and exits 2, Ctrl-C exits 130."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        return 130
    except (ValueError, RuntimeError, FileNotFoundError) as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")  # messages quote TOML like [[action]]
        return 2
