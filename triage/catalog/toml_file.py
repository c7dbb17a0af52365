"""Read one catalog TOML file into its typed form; a mistake names the file, the field and the fix."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

import msgspec

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["decode_toml"]

_T = TypeVar("_T")


def decode_toml(path: Path, kind: type[_T], hint: str, error: type[ValueError]) -> _T:
    """``kind`` from ``path``; ``error`` (the caller's error type) carries the path, msgspec's field path
    and ``hint``, the fix to suggest."""
    try:
        return msgspec.toml.decode(path.read_bytes(), type=kind)
    except msgspec.ValidationError as exc:
        raise error(f"{path}: {exc} (fix: {hint})") from exc
    except msgspec.DecodeError as exc:
        raise error(f"{path}: not valid TOML: {exc} (fix the syntax at that position)") from exc
