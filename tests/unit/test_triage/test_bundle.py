"""Bundles carry a manifest of checksums, and an altered bundle is refused."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

import pytest

from edge_node.knowledge import load_knowledge
from triage.bundle import BundleError, read_manifest, verify_bundle
from triage.bundle.manifest import FORMAT_VERSION, MANIFEST_FILE

if TYPE_CHECKING:
    from pathlib import Path


def test_manifest_lists_every_file_with_its_checksum(demo_bundle: Path) -> None:
    manifest = read_manifest(demo_bundle)
    files = {p.name for p in demo_bundle.iterdir()} - {"manifest.json"}
    assert set(manifest.files) == files
    assert {"encoder.onnx", "sp.model", "index.faiss", "intent_head.npz", "calibration.json", "catalog.json"} <= files
    assert manifest.storefront == "demo"
    assert "de" in manifest.languages and len(manifest.catalog_hash) == 64
    assert manifest.versions["onnxruntime"] != "unknown"


def test_tampered_bundle_is_refused_with_a_clear_error(demo_bundle: Path, tmp_path: Path) -> None:
    copy = tmp_path / "bundle"
    shutil.copytree(demo_bundle, copy)
    with (copy / "catalog.json").open("ab") as fh:
        fh.write(b" ")
    with pytest.raises(BundleError, match=r"catalog\.json: checksum mismatch.*rebuild"):
        verify_bundle(copy)
    with pytest.raises(BundleError):
        load_knowledge(copy)


def test_missing_file_is_refused(demo_bundle: Path, tmp_path: Path) -> None:
    copy = tmp_path / "bundle"
    shutil.copytree(demo_bundle, copy)
    (copy / "index.faiss").unlink()
    with pytest.raises(BundleError, match="missing"):
        verify_bundle(copy)


def test_directory_without_manifest_says_how_to_build_one(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="triage build"):
        verify_bundle(tmp_path)


def test_a_bundle_with_a_catalog_score_is_format_4_and_an_edge_reads_formats_1_to_3_still(
        demo_bundle: Path, tmp_path: Path) -> None:
    assert read_manifest(demo_bundle).format_version == FORMAT_VERSION == 4
    manifest = (demo_bundle / MANIFEST_FILE).read_text(encoding="utf-8")
    for version, readable in ((1, True), (2, True), (3, True), (5, False)):
        (tmp_path / MANIFEST_FILE).write_text(manifest.replace('"format_version": 4', f'"format_version": {version}'),
                                              encoding="utf-8")
        if readable:
            assert read_manifest(tmp_path).format_version == version
        else:
            with pytest.raises(BundleError, match="rebuild the bundle"):
                read_manifest(tmp_path)
