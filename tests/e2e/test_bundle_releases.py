"""Signed releases on a running edge: an older signed bundle is not swapped back in, a rollback is a
new release of the older build, and the edge holds only a key that verifies."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.conftest import EdgeProcess
from triage.bundle.signing import generate_ed25519, parse_signing_key, sign_bundle

if TYPE_CHECKING:
    from pathlib import Path

ADMIN = "releases-admin-token-0123456789"


@pytest.fixture
def signed_edge(demo_bundle: Path, tmp_path: Path):
    private, public = generate_ed25519("release")
    signer = parse_signing_key(private)
    old = shutil.copytree(demo_bundle, tmp_path / "old")
    sign_bundle(old, signer)
    edge = EdgeProcess(old, {"TRIAGE_EDGE__BUNDLE_KEYS": public, "TRIAGE_EDGE__ADMIN_TOKEN": ADMIN})
    yield edge, signer, old
    edge.stop()


def _swap(edge: EdgeProcess, bundle: Path) -> httpx.Response:
    return httpx.post(edge.url + "/admin/bundle", json={"path": str(bundle)},
                      headers={"Authorization": f"Bearer {ADMIN}"}, timeout=60)


def test_an_older_signed_bundle_is_refused_until_it_is_signed_again_as_a_new_release(signed_edge, tmp_path):
    edge, signer, old = signed_edge
    new = shutil.copytree(old, tmp_path / "new")
    sign_bundle(new, signer)  # a later release of the same build
    assert _swap(edge, new).status_code == 200
    downgrade = _swap(edge, old)
    assert downgrade.status_code == 409, "the old code swapped a signed older release back in"
    assert "downgrade is refused" in downgrade.json()["error"]
    assert httpx.get(edge.url + "/readyz").json()["bundle"] == str(new)
    sign_bundle(old, signer)  # `triage deploy sign --bundle old`: the rollback is a new release
    assert _swap(edge, old).status_code == 200
    assert httpx.get(edge.url + "/readyz").json()["bundle"] == str(old)


def test_a_bundle_signed_with_a_key_the_edge_does_not_trust_is_refused(signed_edge, tmp_path):
    edge, _, old = signed_edge
    forged = shutil.copytree(old, tmp_path / "forged")
    sign_bundle(forged, parse_signing_key(generate_ed25519("release")[0]))  # same key name, another key
    refused = _swap(edge, forged)
    assert refused.status_code == 409 and "does not match" in refused.json()["error"]
