"""The stderr console every command writes its progress and errors to, and the parser type the
command families register on.

Results go to stdout (a table, JSON, a diff) and everything else to stderr, so
``triage ... --json | jq`` and ``triage distill ... > change.diff`` stay clean.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

from rich.console import Console

if TYPE_CHECKING:
    import argparse

__all__ = ["Subcommands", "err"]

err = Console(stderr=True)

Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
"""What ``ArgumentParser.add_subparsers`` returns; each command family adds its commands to it."""
