"""HMAC-SHA256 request signing between Triage and a shop's API (docs/connector.md, "Signing").

Every request carries ``X-Triage-Timestamp`` (unix seconds) and
``X-Triage-Signature: v1=<hex>``, the HMAC-SHA256 under the shared secret of
``"{timestamp}.{METHOD}.{path_with_query}."`` followed by the raw body bytes. Signing the method and
the path as well as the body means a captured signature cannot be replayed against another order or
another endpoint; the timestamp, checked against a window, means it cannot be replayed later either
(within the window, writes are made safe by their idempotency keys). The ``v1=`` prefix leaves room
to change the scheme without breaking shops that verify the current one.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "SignatureError", "sign", "signature", "verify"]

TIMESTAMP_HEADER = "X-Triage-Timestamp"
SIGNATURE_HEADER = "X-Triage-Signature"

_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v1=([0-9a-f]{64})")


class SignatureError(ValueError):
    """A request whose signature headers are missing, malformed, outside the window, or wrong."""


def signature(secret: str, timestamp: int, method: str, path: str, body: bytes) -> str:
    """The hex HMAC of one request; ``path`` is the path and query exactly as sent on the wire."""
    if not secret:
        raise ValueError("an empty secret signs nothing: set [shop] secret (the same on both sides)")
    message = f"{timestamp}.{method.upper()}.{path}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, method: str, path: str, body: bytes, now: float | None = None) -> dict[str, str]:
    """The two headers that sign a request sent now (or at ``now``, for tests of the window)."""
    timestamp = int(time.time() if now is None else now)
    return {TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: f"v1={signature(secret, timestamp, method, path, body)}"}


def _header(headers: Mapping[str, str], name: str) -> str:
    """A header by name whatever its case: plain dicts, httpx and litestar headers all work."""
    value = headers.get(name)
    if value is None:
        wanted = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == wanted), None)
    if value is None:
        raise SignatureError(f"missing {name} header: sign every request (docs/connector.md)")
    if not value.isascii():
        # compare_digest raises TypeError on non-ASCII text; a hostile header must not become a 500.
        raise SignatureError(f"malformed {name} header: not ASCII")
    return value.strip()


def verify(secret: str, headers: Mapping[str, str], method: str, path: str, body: bytes, window_s: float = 300,
           now: float | None = None) -> None:
    """Accept the request or raise ``SignatureError`` saying why not.

    A timestamp more than ``window_s`` away from now, in the past or the future, is refused: clocks
    drift a little, and a window bounds how long a captured request can be replayed.
    """
    raw_timestamp = _header(headers, TIMESTAMP_HEADER)
    raw_signature = _header(headers, SIGNATURE_HEADER)
    if not _TIMESTAMP.fullmatch(raw_timestamp):
        raise SignatureError(f"malformed {TIMESTAMP_HEADER} header: unix seconds expected")
    match = _SIGNATURE.fullmatch(raw_signature)
    if match is None:
        raise SignatureError(f"malformed {SIGNATURE_HEADER} header: 'v1=<64 lowercase hex digits>' expected")
    timestamp = int(raw_timestamp)
    skew = timestamp - (time.time() if now is None else now)
    if abs(skew) > window_s:
        when = "in the future" if skew > 0 else "old"
        raise SignatureError(f"stale signature: timestamp is {abs(skew):.0f} s {when} (window {window_s:g} s); "
                             "check both clocks")
    expected = signature(secret, timestamp, method, path, body)
    if not hmac.compare_digest(match.group(1), expected):
        raise SignatureError("signature mismatch: the secrets differ, or the method, path or body was changed")
