"""The one table renderer of the commands, and the report printer built on it.

Every command that shows rows (eval, calibrate, report, replay, deploy status) goes through
``print_table``, so all of them look alike and a change of style is made in one place.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import msgspec
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Mapping, Sequence

__all__ = ["print_metrics", "print_report", "print_table"]


def print_table(title: str, columns: Sequence[str], rows: Iterable[Sequence[str]],
                right: Collection[str] = ()) -> None:
    """Print ``rows`` under ``columns`` to stdout; the columns named in ``right`` are right-aligned (numbers)."""
    table = Table(title=title)
    for column in columns:
        table.add_column(column, justify="right" if column in right else "left")
    for row in rows:
        table.add_row(*row)
    Console().print(table)


def print_metrics(title: str, metrics: Mapping[str, object]) -> None:
    """A metric / value table, each value as JSON so nested ones (latency percentiles) stay readable."""
    print_table(title, ("metric", "value"), ((key, json.dumps(value)) for key, value in metrics.items()),
                right={"value"})


def print_report(report: object, as_json: bool, title: str) -> None:
    """A report struct as indented JSON (``--json``) or as a metric table."""
    data = msgspec.to_builtins(report)
    if as_json:
        print(json.dumps(data, indent=2))
        return
    disputes = data.pop("disputes", None) if isinstance(data, dict) else None
    print_metrics(title, data)
    if disputes:
        columns = ("language", "cases", "resolved without a person", "proposals pending", "handed to a person",
                   "refunded")
        print_table("disputes", columns, (
            (lang, str(t["cases"]), str(t["resolved_without_a_person"]), str(t["proposals_pending"]),
             str(t["handed_to_a_person"]), ", ".join(f"{v} {k}" for k, v in t["refunded"].items()) or "-")
            for lang, t in disputes.items()), right=set(columns[1:]))
