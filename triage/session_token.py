"""Short-lived session tokens the shop's backend mints for a signed-in customer (HMAC-SHA256).

``v1.<payload>.<signature>``, both base64url; the payload is ``{"sf": storefront, "cust": customer id,
"exp": unix time}``. The edge verifies it on ``hello``: a valid token ties the chat session to that
customer (memory on); no token or a bad one leaves the shopper anonymous (memory off).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import msgspec

__all__ = ["TokenError", "mint_token", "verify_token"]


class TokenError(ValueError):
    pass


class _Payload(msgspec.Struct, frozen=True):
    sf: str
    cust: str
    exp: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: str, body: str) -> str:
    return _b64(hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest())


def mint_token(secret: str, storefront: str, customer: str, ttl_s: int = 3600, now: float | None = None) -> str:
    if len(secret) < 16:
        raise TokenError("the session secret must be at least 16 characters ([edge] session_secret)")
    if not customer:
        raise TokenError("a session token names a customer id")
    body = _b64(msgspec.json.encode(_Payload(storefront, customer, int((now or time.time()) + ttl_s))))
    return f"v1.{body}.{_sign(secret, body)}"


def verify_token(secret: str, token: str, storefront: str, now: float | None = None) -> str:
    """The customer id of a valid token; ``TokenError`` says why a token is not."""
    version, _, rest = token.partition(".")
    body, _, signature = rest.partition(".")
    if version != "v1" or not body or not signature:
        raise TokenError("not a v1 session token")
    # Bytes, not str: compare_digest raises TypeError on a non-ASCII str (a traceback per hello).
    if not hmac.compare_digest(signature.encode("utf-8", "surrogatepass"), _sign(secret, body).encode()):
        raise TokenError("bad signature")
    try:
        payload = msgspec.json.decode(_unb64(body), type=_Payload)
    except (ValueError, msgspec.DecodeError) as exc:
        raise TokenError(f"unreadable payload: {exc}") from exc
    if payload.sf != storefront:
        raise TokenError(f"token is for storefront {payload.sf!r}")
    if payload.exp < (now or time.time()):
        raise TokenError("token expired")
    return payload.cust
