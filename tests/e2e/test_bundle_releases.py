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


def _own_address() -> str:
    """This machine's address on its default route: another host's view of the edge."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("198.51.100.1", 9))  # no packet is sent: only the route is looked up
        return str(probe.getsockname()[0])


def test_the_admin_token_is_refused_over_plain_http_from_another_host(demo_bundle):
    edge = EdgeProcess(demo_bundle, {"TRIAGE_EDGE__ADMIN_TOKEN": ADMIN}, host="0.0.0.0")
    try:
        body = {"path": str(demo_bundle)}
        headers = {"Authorization": f"Bearer {ADMIN}"}
        remote = httpx.post(f"http://{_own_address()}:{edge.port}/admin/bundle", json=body, headers=headers,
                            timeout=60)
        assert remote.status_code == 403, "the old edge took the admin token in the clear from any host"
        assert "HTTPS" in remote.json()["error"]
        local = httpx.post(f"http://127.0.0.1:{edge.port}/admin/bundle", json=body, headers=headers, timeout=60)
        assert local.status_code == 200, local.text
    finally:
        edge.stop()


def test_internals_are_for_loopback_or_the_status_token_not_for_other_hosts(demo_bundle):
    edge = EdgeProcess(demo_bundle, {"TRIAGE_EDGE__STATUS_TOKEN": "status-token-0123456789"}, host="0.0.0.0")
    try:
        remote = f"http://{_own_address()}:{edge.port}"
        # The old edge told any host its bundle path, its cloud, its circuit and every metric.
        assert httpx.get(f"{remote}/readyz").json() == {"status": "ready"}
        assert httpx.get(f"{remote}/metrics").status_code == 403
        token = {"Authorization": "Bearer status-token-0123456789"}
        assert "bundle" in httpx.get(f"{remote}/readyz", headers=token).json()
        assert "triage_edge_messages_total" in httpx.get(f"{remote}/metrics", headers=token).text
        assert "bundle" in httpx.get(f"http://127.0.0.1:{edge.port}/readyz").json()
    finally:
        edge.stop()


def test_a_half_sent_http_request_is_closed_but_a_quiet_websocket_is_not(demo_bundle):
    import asyncio
    import json
    import socket
    import time

    import websockets

    edge = EdgeProcess(demo_bundle, {"TRIAGE_EDGE__REQUEST_DEADLINE_S": "1.5"})
    try:
        with socket.create_connection(("127.0.0.1", edge.port), timeout=10) as slow:
            slow.sendall(b"GET /readyz HTTP/1.1\r\nHost: edge\r\n")
            started, closed = time.monotonic(), False
            slow.settimeout(0.3)
            while time.monotonic() - started < 8 and not closed:
                try:
                    slow.sendall(b"X")  # one byte of a header at a time: the old edge waited for ever
                    closed = slow.recv(1) == b""
                except TimeoutError:
                    continue
                except OSError:
                    closed = True
            assert closed and time.monotonic() - started < 5, "the half-sent request was not closed"

        async def quiet_chat() -> str:
            async with websockets.connect(edge.ws_url) as ws:
                await ws.send(json.dumps({"type": "hello", "storefront": "demo"}))
                await ws.recv()
                await asyncio.sleep(2.5)  # longer than the request deadline: an upgraded socket is not cut
                await ws.send(json.dumps({"type": "ping"}))
                return str(json.loads(await ws.recv())["type"])

        assert asyncio.run(quiet_chat()) == "pong"
        assert httpx.get(f"{edge.url}/healthz").status_code == 200
    finally:
        edge.stop()


def test_through_a_trusted_proxy_on_this_host_a_request_is_from_where_it_says(demo_bundle):
    # A sidecar or a proxy on the edge's own host connects from loopback: before, everything it
    # passed on from other hosts counted as loopback (internals public, the admin token in the clear).
    edge = EdgeProcess(demo_bundle, {"TRIAGE_EDGE__TRUSTED_PROXIES": "127.0.0.1", "TRIAGE_EDGE__ADMIN_TOKEN": ADMIN})
    try:
        outside = {"X-Forwarded-For": "203.0.113.5"}
        assert httpx.get(f"{edge.url}/readyz", headers=outside).json() == {"status": "ready"}
        assert httpx.get(f"{edge.url}/metrics", headers=outside).status_code == 403
        admin = {**outside, "Authorization": f"Bearer {ADMIN}"}
        body = {"path": str(demo_bundle)}
        assert httpx.post(f"{edge.url}/admin/bundle", json=body, headers=admin, timeout=60).status_code == 403
        over_tls = {**admin, "X-Forwarded-Proto": "https"}
        assert httpx.post(f"{edge.url}/admin/bundle", json=body, headers=over_tls, timeout=60).status_code == 200
        assert "bundle" in httpx.get(f"{edge.url}/readyz", headers={"X-Forwarded-For": "::1"}).json()
    finally:
        edge.stop()
