"""Schema migrations: numbered SQL files per dialect, applied in order, recorded in the database."""

from __future__ import annotations

from importlib import resources

__all__ = ["Migration", "migrations"]

Migration = tuple[int, list[str]]


def migrations(dialect: str) -> list[Migration]:
    """``(version, statements)`` for every ``NNNN_name.sql`` of ``dialect``, oldest first."""
    folder = resources.files("cloud_core.memory").joinpath("migrations", dialect)
    found: list[Migration] = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            version = int(entry.name.split("_", 1)[0])
            statements = [s.strip() for s in entry.read_text(encoding="utf-8").split(";") if s.strip()]
            found.append((version, statements))
    return sorted(found)
