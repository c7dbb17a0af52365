"""The shop client both tiers call the shop's API with (docs/connector.md).

Every call is signed, bounded by ``[shop] timeout_s`` from the first byte sent to the last byte read,
and read into at most ``[shop] max_response_bytes`` before msgspec decodes it into the contract's
types; a shop that answers slowly, wrongly or hugely costs one honest ``ShopUnavailable``, never a
hang, a crash or a buffer the size of its answer. Every call the client makes is safe to repeat
(reads, and writes under an idempotency key the shop keeps), so connect errors, timeouts and 5xx
answers are retried with jittered exponential backoff; 4xx answers never are, because the same
request would get the same answer. A circuit breaker counts calls that failed after their retries:
once the shop is clearly down, callers hear so at once instead of each waiting out its deadline.
"""

from __future__ import annotations

import asyncio
import random
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import httpx
import msgspec

from triage.connector.breaker import CircuitBreaker
from triage.connector.contract import (
    ID_PATTERN,
    IDEMPOTENCY_KEY_PATTERN,
    CancelRequest,
    Order,
    OrderList,
    Problem,
    RefundRequest,
    ReplacementRequest,
    ReturnLabelRequest,
    WriteResult,
)
from triage.connector.errors import ShopError, ShopNotFound, ShopRefused, ShopUnavailable
from triage.connector.signing import sign

if TYPE_CHECKING:
    from types import TracebackType

    from triage.config import ShopConfig

__all__ = ["IDEMPOTENCY_HEADER", "ShopClient"]

IDEMPOTENCY_HEADER = "Idempotency-Key"

T = TypeVar("T")

_ID, _KEY = ID_PATTERN, IDEMPOTENCY_KEY_PATTERN
_FIRST_BACKOFF_S = 0.1
_MAX_BACKOFF_S = 2.0


class _Retry(Exception):
    """An attempt failed in a way the next attempt may not (connection, deadline, 5xx)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def _segment(value: str, what: str) -> str:
    """An id as one path segment; an id the contract cannot hold names nothing, so it is not found."""
    if not _ID.fullmatch(value) or set(value) == {"."}:
        raise ShopNotFound(f"no {what} {value!r}: not a valid {what} id")
    return quote(value, safe="")


class ShopClient:
    """One client per process and shop: it holds the connection pool and the circuit breaker."""

    def __init__(self, config: ShopConfig) -> None:
        self.config = config
        self.breaker = CircuitBreaker(config.breaker_failures, config.breaker_reset_s)
        self._random = random.Random()
        self._http = httpx.AsyncClient(
            base_url=config.url, timeout=httpx.Timeout(config.timeout_s), follow_redirects=False,
            headers={"Accept": "application/json", "User-Agent": "triage-connector/1"})

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> ShopClient:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    async def order(self, order_id: str) -> Order:
        return await self._call("GET", f"/orders/{_segment(order_id, 'order')}", Order)

    async def customer_orders(self, customer_id: str, limit: int = 10) -> list[Order]:
        """The customer's most recent orders, newest first."""
        path = f"/customers/{_segment(customer_id, 'customer')}/orders"
        return (await self._call("GET", path, OrderList, params={"limit": limit})).orders

    async def cancel(self, order_id: str, key: str, request: CancelRequest | None = None) -> WriteResult:
        return await self._write(order_id, "cancel", key, request or CancelRequest())

    async def refund(self, order_id: str, key: str, request: RefundRequest) -> WriteResult:
        return await self._write(order_id, "refunds", key, request)

    async def replacement(self, order_id: str, key: str, request: ReplacementRequest) -> WriteResult:
        return await self._write(order_id, "replacements", key, request)

    async def return_label(self, order_id: str, key: str, request: ReturnLabelRequest) -> WriteResult:
        return await self._write(order_id, "return_labels", key, request)

    async def _write(self, order_id: str, action: str, key: str, request: msgspec.Struct) -> WriteResult:
        """A write: the idempotency key makes its retries, and any replay by the caller, land once."""
        if not _KEY.fullmatch(key):
            raise ValueError(f"an idempotency key is 1-255 visible ASCII characters, not {key!r}")
        path = f"/orders/{_segment(order_id, 'order')}/{action}"
        return await self._call("POST", path, WriteResult, body=msgspec.json.encode(request), key=key)

    async def _call(self, method: str, path: str, kind: type[T], *, params: dict[str, Any] | None = None,
                    body: bytes = b"", key: str | None = None) -> T:
        """One call as the breaker sees it: all its attempts, one verdict."""
        if not self.config.url:
            raise ShopUnavailable("no shop is configured: set [shop] url (e.g. http://127.0.0.1:8090)")
        if not self.breaker.allow():
            raise ShopUnavailable(f"{method} {path}: not called, the shop failed {self.breaker.failures_to_open} "
                                  f"calls in a row (circuit open, next try in {self.breaker.retry_in_s:.1f} s)")
        try:
            result = await self._attempts(method, path, kind, params, body, key)
        except ShopUnavailable:
            self.breaker.failure()
            raise
        except ShopError:
            self.breaker.success()  # a 404 or a refusal is the shop working as it should
            raise
        except BaseException:
            self.breaker.abandon()
            raise
        self.breaker.success()
        return result

    async def _attempts(self, method: str, path: str, kind: type[T], params: dict[str, Any] | None, body: bytes,
                        key: str | None) -> T:
        attempts = self.config.retries + 1
        reason = ""
        for attempt in range(attempts):
            if attempt:
                ceiling = min(_MAX_BACKOFF_S, _FIRST_BACKOFF_S * 2 ** (attempt - 1))
                await asyncio.sleep(ceiling * self._random.uniform(0.5, 1.0))
            try:
                return await self._attempt(method, path, kind, params, body, key)
            except _Retry as exc:
                reason = exc.reason
        tries = f"{attempts} attempts" if attempts > 1 else "1 attempt"
        raise ShopUnavailable(f"{method} {path}: {reason} ({tries}, shop {self.config.url})")

    async def _attempt(self, method: str, path: str, kind: type[T], params: dict[str, Any] | None, body: bytes,
                       key: str | None) -> T:
        headers = {IDEMPOTENCY_HEADER: key} if key is not None else {}
        if body:
            headers["Content-Type"] = "application/json"
        request = self._http.build_request(method, path, params=params, content=body, headers=headers)
        if self.config.secret:
            # The path exactly as it goes on the wire (base URL prefix and encoded query included).
            request.headers.update(sign(self.config.secret, method, request.url.raw_path.decode("ascii"), body))
        limit = self.config.max_response_bytes
        try:
            async with asyncio.timeout(self.config.timeout_s):
                response = await self._http.send(request, stream=True)
                try:
                    data = await _read_bounded(response, limit, f"{method} {path}")
                finally:
                    await response.aclose()
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise _Retry(f"no answer within {self.config.timeout_s:g} s ([shop] timeout_s)") from exc
        except httpx.ConnectError as exc:
            raise _Retry(f"cannot connect ({exc or 'connection refused'})") from exc
        except httpx.TransportError as exc:
            raise _Retry(f"the connection failed ({type(exc).__name__}: {exc})") from exc
        return _decode(response.status_code, data, kind, f"{method} {path}")


async def _read_bounded(response: httpx.Response, limit: int, what: str) -> bytes:
    """The body, refused as soon as it passes ``limit`` bytes: the rest is never read or buffered."""
    declared = response.headers.get("content-length", "")
    too_large = f"{what}: the shop's answer is larger than {limit} bytes ([shop] max_response_bytes)"
    if declared.isdigit() and int(declared) > limit:
        raise ShopUnavailable(too_large, retryable=False)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise ShopUnavailable(too_large, retryable=False)
        chunks.append(chunk)
    return b"".join(chunks)


def _problem(data: bytes) -> Problem | None:
    try:
        return msgspec.json.decode(data, type=Problem)
    except msgspec.DecodeError:
        return None


def _decode(status: int, data: bytes, kind: type[T], what: str) -> T:
    """The contract's answer for a status, or the error that status means."""
    if 200 <= status < 300:
        try:
            return msgspec.json.decode(data, type=kind)
        except msgspec.ValidationError as exc:
            raise ShopUnavailable(f"{what}: the shop's answer does not match the contract ({exc})",
                                  retryable=False) from exc
        except msgspec.DecodeError as exc:
            raise ShopUnavailable(f"{what}: the shop answered malformed JSON ({exc})", retryable=False) from exc
    problem = _problem(data)
    detail = f": {problem.title}{': ' + problem.detail if problem.detail else ''}" if problem else ""
    if status == 404:
        raise ShopNotFound(f"{what}: not found{detail}")
    if status in (409, 422):
        if problem is None:
            raise ShopUnavailable(f"{what}: the shop answered {status} without a problem body (docs/connector.yaml)",
                                  retryable=False)
        raise ShopRefused(problem)
    if status >= 500 or status in (408, 425, 429):  # down, or busy: asking again later may work
        raise _Retry(f"the shop answered {status}{detail}")
    if status == 401:
        raise ShopUnavailable(f"{what}: the shop refused the request's signature (401{detail}); "
                              "[shop] secret must be the shop's secret and both clocks must be right")
    raise ShopUnavailable(f"{what}: the shop answered {status}{detail}", retryable=False)
