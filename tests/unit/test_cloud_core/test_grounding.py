"""The grounding guard lets through what the context says and catches what the model made up."""

from __future__ import annotations

import pytest

from cloud_core.grounding import check_grounding, safe_template

CONTEXT = (
    "Refunds are paid within 10 business days. Returns are accepted for 30 days after delivery.\n"
    "Order id: A-1001\nAmount: 49.90 EUR\nCall us on +49 30 1234567 or write to help@demo-shop.example.\n"
    "Delivered on 2026-03-03. Discount: 15%. See https://demo-shop.example/returns"
)


@pytest.mark.parametrize("answer", [
    "Your refund for order A-1001 will arrive within 10 business days.",
    "You paid 49,90 EUR; returns are accepted for 30 days.",
    "Call +49 (30) 123 4567 or e-mail help@demo-shop.example.",
    "It was delivered on 2026-03-03 and the 15% discount applies.",
    "Details: https://demo-shop.example/returns",
    "1. Open your account.\n2. Choose the order.\n3. Click return.",
    "I am sorry for the trouble, a colleague will check it.",
])
def test_claims_found_in_the_context_pass(answer):
    verdict = check_grounding(answer, CONTEXT)
    assert verdict.grounded, verdict.ungrounded


@pytest.mark.parametrize(("answer", "claim"), [
    ("Refunds take 14 days.", "14"),
    ("Your order A-1002 is on its way.", "A-1002"),
    ("You will get 59.90 EUR back.", "59.90"),
    ("Call us at +1 555 010 9999.", "+1 555 010 9999"),
    ("Write to refunds@demo-shop.example.", "refunds@demo-shop.example"),
    ("It arrives on 2026-03-05.", "2026-03-05"),
    ("Track it with tracking number 1Z999AA10123456784.", "1Z999AA10123456784"),
    ("See https://evil.example/pay now.", "https://evil.example/pay"),
])
def test_invented_claims_are_caught(answer, claim):
    verdict = check_grounding(answer, CONTEXT)
    assert not verdict.grounded
    assert any(claim in written for written in verdict.ungrounded), verdict.ungrounded


def test_the_safe_template_speaks_the_shoppers_language_and_claims_nothing():
    for lang in ("en", "de", "fr", "es", "it", "pt", "nl", "pl"):
        text = safe_template(lang)
        assert check_grounding(text, "").grounded
    assert safe_template("de") != safe_template("en")
    assert safe_template("xx") == safe_template("en")
