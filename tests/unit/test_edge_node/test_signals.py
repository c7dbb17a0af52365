"""Dispute and conversation signals in every catalog language."""

from __future__ import annotations

import pytest

from edge_node.signals import conversation_signals, dispute_signals


@pytest.mark.parametrize("text", [
    "I will file a chargeback with my bank", "Ich schalte meinen Anwalt ein", "je vais contacter mon avocat",
    "esto es una estafa", "chiamerò la polizia", "vou falar com o meu advogado", "dit is oplichting",
    "to jest oszustwo, idę do sądu", "I was charged twice", "Das Paket ist nie angekommen",
])
def test_dispute_words_are_found_in_every_language(text):
    assert dispute_signals(text).any


def test_an_amount_with_an_order_id_is_a_dispute_signal_alone():
    signals = dispute_signals("Order A-10023 shows 59.90 EUR but I paid less")
    assert signals.amount and signals.order_id and signals.any
    assert not dispute_signals("How much is shipping?").any


def test_everyday_questions_carry_no_signal():
    for text in ["Do you ship to the UK?", "Was kostet der Versand?", "Avete un programma fedeltà?"]:
        assert not dispute_signals(text).any
        c = conversation_signals(text, [])
        assert not (c.repeated or c.wants_human or c.rising_frustration or c.follow_up)


def test_conversation_signals():
    earlier = ["Where is my order?", "ok thanks"]
    assert conversation_signals("where is my order??", earlier).repeated
    assert conversation_signals("I want to talk to a real person", earlier).wants_human
    assert conversation_signals("Ich möchte mit einem Mitarbeiter sprechen", earlier).wants_human
    assert conversation_signals("This is ridiculous!! Still nothing", earlier).rising_frustration
    assert conversation_signals("and what about the other one?", earlier).follow_up
    assert not conversation_signals("and what about the other one?", []).follow_up
