"""Edge bundles: everything an edge node needs to answer, checksummed in a manifest."""

from __future__ import annotations

from triage.bundle.manifest import BundleError, Manifest, read_manifest, verify_bundle

__all__ = ["BundleError", "Manifest", "read_manifest", "verify_bundle"]
