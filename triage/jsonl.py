"""Rows of a JSONL file (one JSON object a line), each decoded as one msgspec type."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import msgspec

__all__ = ["read_jsonl"]

_T = TypeVar("_T")


def read_jsonl(path: Path, kind: type[_T], hint: str) -> list[_T]:
    """Every non-blank line of ``path`` as a ``kind``; a line that is not one raises ``ValueError``
    naming the file, the line and ``hint`` (how to fix it)."""
    rows = []
    with Path(path).open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                try:
                    rows.append(msgspec.json.decode(line, type=kind))
                except msgspec.DecodeError as exc:
                    raise ValueError(f"{path}:{n}: {exc} ({hint})") from exc
    return rows
