"""The demo shop's HTTP API: the connector contract (docs/connector.yaml) over a ``ShopStore``.

Bodies are decoded by hand with msgspec into the contract's structs rather than by the framework,
because the raw bytes are needed anyway (the signature covers them, the idempotency record hashes
the decoded request) and every error must be the contract's ``Problem``, not the framework's own
shape. Every contract request passes one guard first: the signature when a secret is set, then the
fault plan when faults are allowed (``/healthz`` and the test-only ``/_faults`` are not signed).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Litestar, MediaType, Request, Response, get, post
from litestar.exceptions import HTTPException
from litestar.response import Stream

from demo_shop import rules
from demo_shop.faults import AFTER_COMMIT, FaultPlan, Faults
from demo_shop.store import KeyReused, OrderMissing, WriteKey
from triage.connector.contract import (
    ID_PATTERN,
    IDEMPOTENCY_KEY_PATTERN,
    CancelRequest,
    OrderList,
    RefundRequest,
    ReplacementRequest,
    ReturnLabelRequest,
)
from triage.connector.signing import SignatureError, verify

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from litestar.handlers import BaseRouteHandler

    from demo_shop.faults import Mode
    from demo_shop.store import ShopStore
    from triage.connector.contract import Order, Problem

__all__ = ["create_app"]

log = logging.getLogger("triage.shop")

_ID, _KEY = ID_PATTERN, IDEMPOTENCY_KEY_PATTERN
_PROBLEM = "application/problem+json"
_MAX_BODY_BYTES = 64 * 1024
_AFTER_COMMIT = "after_commit"


def _json(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response[bytes]:
    return Response(msgspec.json.encode(value), status_code=status, media_type=MediaType.JSON, headers=headers)


def _problem(found: Problem) -> Response[bytes]:
    return Response(msgspec.json.encode(found), status_code=found.status, media_type=_PROBLEM)


def _refuse(status: int, code: str, title: str, detail: str = "") -> Response[bytes]:
    return _problem(rules.problem(status, code, title, detail))


def _signed_target(request: Request[Any, Any, Any]) -> str:
    """The path and query exactly as they came on the wire, which is what the client signed."""
    path = request.scope.get("raw_path") or request.scope["path"].encode()
    query = request.scope.get("query_string", b"")
    return (path + (b"?" + query if query else b"")).decode("latin-1")


async def _oversized(size: int) -> AsyncIterator[bytes]:
    chunk = b" " * 65536
    yield b'{"orders": ['
    for _ in range(size // len(chunk)):
        # Yield to the loop, so a client that hung up is noticed and the rest is not written to a dead socket.
        await asyncio.sleep(0)
        yield chunk


async def _fault_answer(mode: Mode, plan: FaultPlan, request: Request[Any, Any, Any]) -> Response[Any] | None:
    """The misbehaviour a request was picked for, or ``None`` to serve it (after a delay, or to fail later)."""
    if mode == "slow":
        await asyncio.sleep(plan.delay_s)
    elif mode in AFTER_COMMIT:
        request.state[_AFTER_COMMIT] = (mode, plan.delay_s)  # the write handler spoils its answer
    elif mode == "error":
        return _refuse(500, "internal", "fault injected: internal error")
    elif mode == "down":
        return _refuse(503, "internal", "fault injected: the shop is down")
    elif mode == "write_400":
        return _refuse(400, "invalid", "fault injected: the shop cannot take this write")
    elif mode == "malformed":
        return Response(b'{"id": "10234", "customer": {"id": ', media_type=MediaType.JSON)
    elif mode == "wrong_types":
        return Response(b'{"id": 10234, "orders": "none", "order": 42}', media_type=MediaType.JSON)
    elif mode == "oversized":
        return Stream(_oversized(plan.size_bytes), media_type=MediaType.JSON)
    return None


def _guard(secret: str, faults: Faults | None) -> Callable[[Request[Any, Any, Any]], Any]:
    async def guard(request: Request[Any, Any, Any]) -> Response[Any] | None:
        if request.scope["path"] in ("/healthz", "/_faults"):
            return None  # probes, and test control (only with --allow-faults): not part of the contract, not signed
        body = await request.body()
        if secret:
            try:
                verify(secret, request.headers, request.method, _signed_target(request), body)
            except SignatureError as exc:
                return _refuse(401, "unauthorized", "the request is not signed with the shop's secret", str(exc))
        if faults is None:
            return None
        return await _fault_answer(faults.take(write=request.method == "POST"), faults.plan, request)

    return guard


def _read_routes(store: ShopStore) -> list[BaseRouteHandler]:
    @get("/healthz", media_type=MediaType.JSON)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @get("/orders/{order_id:str}")
    async def order(order_id: str) -> Response[bytes]:
        found = await store.order(order_id) if _ID.fullmatch(order_id) else None
        if found is None:
            return _refuse(404, "not_found", f"no order {order_id[:64]}")
        return _json(found)

    @get("/customers/{customer_id:str}/orders")
    async def customer_orders(request: Request[Any, Any, Any], customer_id: str) -> Response[bytes]:
        limit = request.query_params.get("limit", "10")
        if not limit.isdigit() or not 1 <= int(limit) <= 100:
            return _refuse(422, "invalid", "limit must be a whole number from 1 to 100", f"got {limit[:40]!r}")
        orders = await store.customer_orders(customer_id, int(limit)) if _ID.fullmatch(customer_id) else []
        return _json(OrderList(orders=orders))

    return [healthz, order, customer_orders]


async def _write(store: ShopStore, request: Request[Any, Any, Any], order_id: str, action: str, kind: type[Any],
                 rule: Callable[[Order, Any, datetime], rules.Change]) -> Response[bytes]:
    """One write: validate, apply exactly once under its idempotency key, answer (or replay) the result."""
    key = request.headers.get("idempotency-key", "")
    if not _KEY.fullmatch(key):
        return _refuse(400, "invalid", "send an Idempotency-Key header", "1-255 visible ASCII characters")
    try:
        parsed = msgspec.json.decode(await request.body(), type=kind)
    except msgspec.ValidationError as exc:
        return _refuse(422, "invalid", f"the {action} request does not match the contract", str(exc))
    except msgspec.DecodeError as exc:
        return _refuse(400, "invalid", "the body is not JSON", str(exc))
    if not _ID.fullmatch(order_id):
        return _refuse(404, "not_found", f"no order {order_id[:64]}")
    now = datetime.now(UTC)
    digest = hashlib.sha256(msgspec.json.encode(parsed)).hexdigest()
    write_key = WriteKey(key, f"{action}:{order_id}", digest, rules.iso(now))
    try:
        written = await store.write(order_id, write_key, lambda order: rule(order, parsed, now))
    except OrderMissing:
        return _refuse(404, "not_found", f"no order {order_id}")
    except KeyReused as exc:
        return _refuse(409, "conflict", "the idempotency key was used for another request", str(exc))
    except rules.Refusal as exc:
        return _problem(exc.problem)
    after_commit, delay_s = request.state.get(_AFTER_COMMIT, ("none", 0.0))
    if after_commit == "commit_then_500":
        return _refuse(500, "internal", "fault injected: the write was committed and its answer lost")
    if after_commit == "slow_after_commit":
        await asyncio.sleep(delay_s)
    if not written.replayed:
        return Response(written.response, media_type=MediaType.JSON)
    # The stored answer, marked as a replay (msgspec keeps the fields' order, so only the flag changes).
    replay = msgspec.json.decode(written.response)
    replay["replayed"] = True
    return _json(replay, headers={"Idempotent-Replayed": "true"})


def _write_route(store: ShopStore, action: str, kind: type[Any],
                 rule: Callable[[Order, Any, datetime], rules.Change]) -> BaseRouteHandler:
    @post(f"/orders/{{order_id:str}}/{action}", name=f"write_{action}", status_code=200)
    async def write(request: Request[Any, Any, Any], order_id: str) -> Response[bytes]:
        return await _write(store, request, order_id, action, kind, rule)

    return write


def _fault_routes(faults: Faults) -> list[BaseRouteHandler]:
    @post("/_faults", status_code=200)
    async def set_faults(request: Request[Any, Any, Any]) -> Response[bytes]:
        try:
            faults.set(msgspec.json.decode(await request.body(), type=FaultPlan))
        except msgspec.DecodeError as exc:
            return _refuse(422, "invalid", "not a fault plan", str(exc))
        log.warning("fault plan: %s", faults.plan)
        return _json(faults.status())

    @get("/_faults")
    async def get_faults() -> Response[bytes]:
        return _json(faults.status())

    return [set_faults, get_faults]


def _http_problem(_: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    """The framework's own refusals (no such route, wrong method, body too large) as the contract's Problem."""
    code = {401: "unauthorized", 404: "not_found"}.get(exc.status_code, "invalid")
    return _refuse(exc.status_code, code if exc.status_code < 500 else "internal", str(exc.detail))


def _crash_problem(_: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    log.error("demo shop request failed", exc_info=exc)
    return _refuse(500, "internal", "the demo shop failed to answer", type(exc).__name__)


def create_app(store: ShopStore, *, secret: str = "", allow_faults: bool = False) -> Litestar:
    """The app over an opened store; ``allow_faults`` adds ``/_faults`` (never in a real deployment)."""
    faults = Faults() if allow_faults else None
    handlers = [
        *_read_routes(store),
        _write_route(store, "cancel", CancelRequest, rules.cancel),
        _write_route(store, "refunds", RefundRequest, rules.refund),
        _write_route(store, "replacements", ReplacementRequest, rules.replace),
        _write_route(store, "return_labels", ReturnLabelRequest, rules.return_label),
        *(_fault_routes(faults) if faults else []),
    ]
    return Litestar(route_handlers=handlers, before_request=_guard(secret, faults), openapi_config=None,
                    exception_handlers={HTTPException: _http_problem, Exception: _crash_problem},
                    request_max_body_size=_MAX_BODY_BYTES, debug=False)
