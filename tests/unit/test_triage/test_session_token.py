"""Customer session tokens: minted by the shop's backend, verified by the edge."""

from __future__ import annotations

import pytest

from triage.session_token import TokenError, mint_token, verify_token

SECRET = "a-shop-backend-secret"


def test_a_fresh_token_names_its_customer():
    assert verify_token(SECRET, mint_token(SECRET, "demo", "c-42"), "demo") == "c-42"


@pytest.mark.parametrize(("token", "reason"), [
    (lambda: mint_token(SECRET, "demo", "c-42", ttl_s=-1), "expired"),
    (lambda: mint_token(SECRET, "other-shop", "c-42"), "storefront"),
    (lambda: mint_token("another-backend-secret", "demo", "c-42"), "bad signature"),
    (lambda: mint_token(SECRET, "demo", "c-42")[:-2] + "xx", "bad signature"),
    (lambda: "not-a-token", "not a v1"),
])
def test_bad_tokens_say_why(token, reason):
    with pytest.raises(TokenError, match=reason):
        verify_token(SECRET, token(), "demo")


def test_minting_needs_a_real_secret_and_a_customer():
    with pytest.raises(TokenError, match="16 characters"):
        mint_token("short", "demo", "c-1")
    with pytest.raises(TokenError, match="customer"):
        mint_token(SECRET, "demo", "")


@pytest.mark.parametrize("signature", ["é" * 43, "\udcff", "签名"])
def test_a_token_with_a_non_ascii_signature_is_refused_not_a_crash(signature):
    # Before: hmac.compare_digest raised TypeError on a non-ASCII str, a traceback per hello.
    body = mint_token(SECRET, "demo", "c-42").split(".")[1]
    with pytest.raises(TokenError, match="bad signature"):
        verify_token(SECRET, f"v1.{body}.{signature}", "demo")
