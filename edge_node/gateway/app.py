"""litestar app: websocket ``/v1/chat`` plus health, readiness, metrics and the demo page."""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Litestar, MediaType, Request, Response, WebSocket, get, post, websocket

from edge_node.frames import ErrorFrame, encode_frame
from edge_node.gateway.connection import Connection, client_address
from edge_node.gateway.ratelimit import KeyedBuckets
from triage.bundle.manifest import BundleError
from triage.config import is_loopback_host

if TYPE_CHECKING:
    from litestar.handlers import BaseRouteHandler

    from edge_node.service import EdgeService

__all__ = ["create_app"]

log = logging.getLogger("triage.edge")


def _static(name: str) -> bytes:
    return files("edge_node").joinpath("static", name).read_bytes()


def _chat_route(edge: EdgeService) -> BaseRouteHandler:
    allowed = {o.strip().rstrip("/") for o in edge.config.allowed_origins.split(",") if o.strip()}
    limits = KeyedBuckets(edge.config.address_rate_per_s, edge.config.address_rate_burst)
    trusted = edge.config.proxies()

    open_sockets = [0]  # this app's chat websockets (one app per process)

    @websocket("/v1/chat")
    async def chat(socket: WebSocket[Any, Any, Any]) -> None:
        if open_sockets[0] >= edge.config.max_connections:
            edge.metrics.messages.labels("too_many_connections").inc()
            await socket.close(code=1013)  # before accepting: the handshake is refused, nothing is held
            return
        open_sockets[0] += 1
        try:
            await _serve_chat(socket)
        finally:
            open_sockets[0] -= 1

    async def _serve_chat(socket: WebSocket[Any, Any, Any]) -> None:
        await socket.accept()
        origin = socket.headers.get("origin", "")
        if allowed and origin.rstrip("/") not in allowed:
            edge.metrics.messages.labels("bad_origin").inc()
            await socket.send_text(encode_frame(ErrorFrame(
                code="unauthorized", message=f"origin {origin or '(none)'} may not open this chat")).decode())
            await socket.close(code=4403)
            return
        connection = Connection(socket, edge, limits, trusted)
        poller = asyncio.ensure_future(connection.poll())

        async def close_without_hello() -> None:
            await asyncio.sleep(edge.config.hello_timeout_s)
            if connection.session is None:  # a socket that never says hello holds memory for nothing
                edge.metrics.messages.labels("no_hello").inc()
                await connection.error("bad_request", f"no hello within {edge.config.hello_timeout_s:g} s; "
                                       "reconnect and send a hello frame first")
                await socket.close(code=4408)

        doorman = asyncio.ensure_future(close_without_hello())
        try:
            while (event := await socket.receive())["type"] != "websocket.disconnect":
                try:
                    await connection.on_raw(dict(event))
                except Exception:  # one failed frame must not cost the shopper the connection
                    log.exception("failed to handle a frame of session %s", connection.session)
                    await connection.error("internal", "the edge could not handle this message; please send it again")
        finally:
            connection.close()
            poller.cancel()
            doorman.cancel()

    return chat


def _from_this_host(request: Request[Any, Any, Any], trusted: frozenset[str]) -> bool:
    """The caller is on this host. A trusted proxy (or a mesh sidecar on loopback) passes on other
    hosts' requests: through it, only a request whose forwarded client is loopback counts."""
    peer = request.client.host if request.client else ""
    if peer in trusted:
        client = client_address(peer, request.headers.get("x-forwarded-for", ""), trusted)
        return client != peer and is_loopback_host(client)
    return is_loopback_host(peer)


def _over_tls(request: Request[Any, Any, Any], trusted: frozenset[str]) -> bool:
    peer = request.client.host if request.client else ""
    return request.url.scheme == "https" or (peer in trusted and request.headers.get("x-forwarded-proto") == "https")


def _bearer(request: Request[Any, Any, Any], token: str) -> bool:
    """``Authorization: Bearer <token>`` with this (non-empty) token, compared in constant time."""
    presented = request.headers.get("authorization", "")
    return bool(token) and hmac.compare_digest(presented.encode(), f"Bearer {token}".encode())


def _plaintext_refusal(request: Request[Any, Any, Any], allow_plaintext: bool, trusted: frozenset[str]) -> str | None:
    """Why an admin request may not be taken here, if it came over plain HTTP from another host."""
    if allow_plaintext or _over_tls(request, trusted) or _from_this_host(request, trusted):
        return None
    return ("the admin token would cross the network in the clear: send this over HTTPS (a TLS-terminating proxy "
            "listed in [edge] trusted_proxies that sets X-Forwarded-Proto: https) or from the edge's own host; "
            "[edge] admin_allow_plaintext = true accepts it on a private network")


def _admin_route(edge: EdgeService) -> BaseRouteHandler:
    @post("/admin/bundle", media_type=MediaType.JSON, status_code=200)
    async def reload_bundle(request: Request[Any, Any, Any]) -> Response[dict[str, object]]:
        token = edge.config.admin_token
        refusal = _plaintext_refusal(request, edge.config.admin_allow_plaintext, edge.config.proxies())
        if refusal is not None:
            return Response({"error": refusal}, status_code=403)
        if not _bearer(request, token):
            return Response({"error": "unauthorized: send 'Authorization: Bearer <[edge] admin_token>'"},
                            status_code=401)
        try:
            data = await request.json()
        except (ValueError, msgspec.DecodeError):
            data = None
        path = data.get("path") if isinstance(data, dict) else None
        if not path or not isinstance(path, str):
            return Response({"error": "send {\"path\": \"/path/to/bundle\"}"}, status_code=400)
        try:
            knowledge = await edge.swap_bundle(Path(path))
        except (BundleError, OSError, ValueError) as exc:
            return Response({"error": str(exc), "serving": str(edge.knowledge.path)}, status_code=409)
        return Response({"status": "swapped", "build_key": knowledge.manifest.build_key, "path": str(knowledge.path)})

    return reload_bundle


def _status_routes(edge: EdgeService) -> list[BaseRouteHandler]:
    @get("/healthz", media_type=MediaType.JSON)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    def insider(request: Request[Any, Any, Any]) -> bool:
        """This host (not through a proxy), or the bearer of ``[edge] status_token``: who sees the internals."""
        return _from_this_host(request, edge.config.proxies()) or _bearer(request, edge.config.status_token)

    @get("/readyz", media_type=MediaType.JSON)
    async def readyz(request: Request[Any, Any, Any]) -> dict[str, object]:
        if not insider(request):  # a probe needs the status code; the bundle path and the cloud are not public
            return {"status": "ready"}
        manifest = edge.knowledge.manifest
        return {"status": "ready", "storefront": manifest.storefront, "catalog_hash": manifest.catalog_hash,
                "build_key": manifest.build_key, "bundle": str(edge.knowledge.path), "release": edge.knowledge.release,
                "languages": manifest.languages, "cloud": edge.config.cloud or None,
                "circuit": edge.escalator.breaker.state, "outbox_depth": await edge.store.outbox.depth(),
                "worker": os.getpid()}

    @get("/metrics")
    async def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
        if not insider(request):
            return Response(b"metrics are for loopback or 'Authorization: Bearer <[edge] status_token>'\n",
                            media_type=MediaType.TEXT, status_code=403)
        return Response(edge.metrics.render(), media_type="text/plain; version=0.0.4")

    return [healthz, readyz, metrics]


def _page_routes() -> list[BaseRouteHandler]:
    @get("/")
    async def index() -> Response[bytes]:
        return Response(_static("index.html"), media_type=MediaType.HTML)

    @get("/widget.js")
    async def widget() -> Response[bytes]:
        return Response(_static("widget.js"), media_type="application/javascript")

    return [index, widget]


def create_app(edge: EdgeService) -> Litestar:
    # litestar's logging config puts the root logger at INFO, where httpx logs every shop request:
    # a line per action answer, measurable CPU at load. Shop failures are logged by the actions.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    handlers = [_chat_route(edge), _admin_route(edge), *_status_routes(edge), *_page_routes()]
    return Litestar(route_handlers=handlers, debug=False, on_startup=[edge.start], on_shutdown=[edge.stop])
