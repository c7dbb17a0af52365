"""The bundle manifest: versions, languages, catalog hash and the sha256 of every file.

An edge compares one hash to know its bundle is stale, and refuses a bundle whose files
do not match their recorded checksums (a truncated copy or a hand edit).
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from triage.artifacts import sha256_file

__all__ = ["FORMAT_VERSION", "MANIFEST_FILE", "READABLE_FORMATS", "BundleError", "Manifest", "read_manifest",
           "verify_bundle"]

MANIFEST_FILE = "manifest.json"
FORMAT_VERSION = 4
"""2: the intent head may read the encoder's adapted output (``triage.bundle.adapter``). An edge of
format 1 would apply that regression to the plain embedding and answer wrong intents without an
error, so it must refuse these bundles. 3: the regression also reads the message's n-grams
(``triage.bundle.ngrams``), fitted together with the rest; an edge of format 2 would drop them and
answer from the other half of a regression. 4: the calibration may hold the catalog path's
out-of-scope score over the head's class density (``triage.bundle.density``); an edge of format 3
would refuse the calibration's new field. This edge still reads formats 1 to 3."""
READABLE_FORMATS = frozenset({1, 2, 3, FORMAT_VERSION})


class BundleError(RuntimeError):
    """The bundle is missing, incomplete or altered; rebuild it with ``triage build``."""


class Manifest(msgspec.Struct, forbid_unknown_fields=True):
    format_version: int
    storefront: str
    languages: list[str]
    catalog_hash: str
    build_key: str
    """Hash of every input of the build (catalog, encoder, recipe): equal keys, equal bundles."""
    versions: dict[str, str]
    files: dict[str, str]
    """File name -> sha256 of its content."""
    created_at: str


def read_manifest(bundle: Path) -> Manifest:
    path = Path(bundle) / MANIFEST_FILE
    if not path.is_file():
        raise BundleError(f"{path} not found: build a bundle with `triage build --catalog DIR --out {bundle}`")
    try:
        manifest = msgspec.json.decode(path.read_bytes(), type=Manifest)
    except msgspec.DecodeError as exc:
        raise BundleError(f"{path}: invalid manifest ({exc}); rebuild the bundle with `triage build`") from exc
    if manifest.format_version not in READABLE_FORMATS:
        raise BundleError(
            f"{path}: bundle format {manifest.format_version}, this edge reads {sorted(READABLE_FORMATS)}; "
            "rebuild the bundle with this version's `triage build`"
        )
    return manifest


def verify_bundle(bundle: Path) -> Manifest:
    """Read the manifest and check every file's checksum; raise ``BundleError`` on any mismatch."""
    manifest = read_manifest(bundle)
    for name, expected in manifest.files.items():
        path = Path(bundle) / name
        if not path.is_file():
            raise BundleError(f"{path} is listed in the manifest but missing: rebuild or re-copy the bundle")
        actual = sha256_file(path)
        if actual != expected:
            raise BundleError(
                f"{path}: checksum mismatch (manifest {expected[:12]}..., file {actual[:12]}...); "
                "the bundle was altered or copied incompletely: rebuild or re-copy it"
            )
    return manifest
