"""Request signing: a signed request verifies; any change to it, or its age, or a hostile header, is refused."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from triage.connector.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, SignatureError, sign, verify

SECRET = "shop-connector-test-secret"
NOW = 1_750_000_000.0
BODY = b'{"reason":"customer","refund":true}'
PATH = "/orders/10231/cancel"


def test_a_signed_request_verifies_and_the_signature_is_the_documented_hmac():
    headers = sign(SECRET, "post", PATH, BODY, now=NOW)
    assert headers[TIMESTAMP_HEADER] == "1750000000"
    expected = hmac.new(SECRET.encode(), b"1750000000.POST./orders/10231/cancel." + BODY, hashlib.sha256).hexdigest()
    assert headers[SIGNATURE_HEADER] == f"v1={expected}"
    verify(SECRET, headers, "POST", PATH, BODY, now=NOW + 299)
    verify(SECRET, {k.lower(): v for k, v in headers.items()}, "POST", PATH, BODY, now=NOW)  # any header case


@pytest.mark.parametrize(("method", "path", "body", "secret"), [
    ("POST", PATH, BODY.replace(b"true", b"false"), SECRET),
    ("POST", "/orders/10232/cancel", BODY, SECRET),
    ("POST", PATH + "?x=1", BODY, SECRET),
    ("PUT", PATH, BODY, SECRET),
    ("POST", PATH, BODY, "another-secret"),
])
def test_a_changed_body_path_method_or_secret_is_a_mismatch(method, path, body, secret):
    headers = sign(SECRET, "POST", PATH, BODY, now=NOW)
    with pytest.raises(SignatureError, match="mismatch"):
        verify(secret, headers, method, path, body, now=NOW)


@pytest.mark.parametrize("age", [301, -301, 10_000])
def test_a_signature_outside_the_window_is_stale(age):
    headers = sign(SECRET, "GET", "/orders/10234", b"", now=NOW - age)
    with pytest.raises(SignatureError, match="stale"):
        verify(SECRET, headers, "GET", "/orders/10234", b"", window_s=300, now=NOW)


def _good() -> dict[str, str]:
    return sign(SECRET, "GET", "/orders/10234", b"", now=NOW)


@pytest.mark.parametrize(("headers", "why"), [
    ({}, "missing X-Triage-Timestamp"),
    ({TIMESTAMP_HEADER: "1750000000"}, "missing X-Triage-Signature"),
    ({**_good(), TIMESTAMP_HEADER: "yesterday"}, "malformed X-Triage-Timestamp"),
    ({**_good(), TIMESTAMP_HEADER: "١٧٥٠٠٠٠٠٠٠"}, "not ASCII"),  # digits int() would accept
    ({**_good(), SIGNATURE_HEADER: "v1=ünïcödé"}, "not ASCII"),
    ({**_good(), SIGNATURE_HEADER: "v1=" + "é" * 64}, "not ASCII"),
    ({**_good(), SIGNATURE_HEADER: "v2=" + "0" * 64}, "malformed X-Triage-Signature"),
    ({**_good(), SIGNATURE_HEADER: "v1=" + "0" * 63}, "malformed X-Triage-Signature"),
    ({**_good(), SIGNATURE_HEADER: "v1=" + "0" * 64}, "mismatch"),
])
def test_missing_malformed_or_non_ascii_headers_raise_signature_error_never_type_error(headers, why):
    with pytest.raises(SignatureError, match=why):
        verify(SECRET, headers, "GET", "/orders/10234", b"", now=NOW)


def test_an_empty_secret_signs_nothing():
    with pytest.raises(ValueError, match="secret"):
        sign("", "GET", "/orders/1", b"")
