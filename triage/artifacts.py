"""Content-addressed cache for built artifacts (encoder graphs, bundles).

Builds are slow and deterministic, so a build is keyed by the hash of everything that
goes into it and kept outside the checkout: a fresh clone, CI and the demo all reuse it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

__all__ = ["ArtifactCache", "sha256_file", "sha256_files"]

_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_files(paths: Iterable[Path], *extra: str) -> str:
    """One hash over several files' contents and some extra strings (build settings)."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(sha256_file(path).encode())
    for item in extra:
        digest.update(item.encode())
    return digest.hexdigest()


class ArtifactCache:
    """Directory of finished builds, one sub-directory per input hash.

    A build writes into a temporary sibling and is renamed into place, so a build that
    dies half-way never leaves a directory that looks complete.
    """

    def __init__(self, root: Path | None = None) -> None:
        default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "triage"
        self.root = Path(os.environ.get("TRIAGE_CACHE_DIR", root or default))

    def path(self, kind: str, key: str) -> Path:
        return self.root / kind / key[:32]

    def get_or_build(self, kind: str, key: str, build: Callable[[Path], None]) -> Path:
        final = self.path(kind, key)
        if final.is_dir():
            return final
        final.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
        try:
            build(work)
            try:
                work.rename(final)
            except OSError:  # another process finished the same build first
                if not final.is_dir():
                    raise
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return final
