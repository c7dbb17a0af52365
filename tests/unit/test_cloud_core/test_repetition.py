"""The repetition guard cuts the loops SmolLM2-135M falls into, and nothing a normal answer says."""

from __future__ import annotations

from cloud_core.repetition import RepetitionGuard, first_repeat, split_sentences

# Measured: the demo's chargeback and legal-threat escalations, greedy, without a shop policy.
LOOP = ("I'm sorry to hear about your situation. I'm here to help you through this process.\n\n"
        "I'm sorry to hear about your situation. I'm here to help you through this process.\n\n")
NEAR_LOOP = ("I'm sorry to interrupt, but I'm the customer's lawyer. I'll do my best to help you today.\n\n"
             "I'm sorry for any inconvenience you're experiencing today. I'll do my best to help you.\n\n")
LIST_LOOP = ("The details are:\n\n* The date: the date is important to determine the type of delivery, as well "
             "as the method of delivery.\n* The time: the time is important to determine the type of delivery, "
             "as well as the method of delivery.\n")
NORMAL = ("I'm sorry your parcel has not arrived. We will open an investigation with the carrier today. "
          "If it is not found within 5 business days, we will resend your order or refund it. "
          "Thank you! Thank you for your patience.")


def test_sentences_keep_their_whitespace_and_numbers_stay_whole() -> None:
    parts = split_sentences("Standard costs 4.95 EUR. Express is faster!\n\nAsk us? ok")
    assert parts == ["Standard costs 4.95 EUR. ", "Express is faster!\n\n", "Ask us? ", "ok"]
    assert "".join(parts) == "Standard costs 4.95 EUR. Express is faster!\n\nAsk us? ok"


def test_a_sentence_said_again_word_for_word_is_a_repeat() -> None:
    assert first_repeat(LOOP) == 2


def test_a_sentence_that_changes_one_word_is_a_repeat() -> None:
    assert first_repeat(NEAR_LOOP) == 3  # "help you today" -> "help you"


def test_list_items_that_change_one_word_are_repeats() -> None:
    assert first_repeat(LIST_LOOP) == 2


def test_a_normal_answer_has_no_repeat() -> None:
    assert first_repeat(NORMAL) is None


def test_short_sentences_repeat_only_word_for_word() -> None:
    assert first_repeat("Thank you! Thank you for waiting. Thanks a lot.") is None
    assert first_repeat("Thank you! Thank you!") == 1


def test_text_without_words_is_never_a_repeat() -> None:
    assert first_repeat("... ... !!") is None


def test_reciting_the_instructions_counts_as_a_repeat() -> None:
    from cloud_core.prompting import EscalationInput, instructions

    guard = RepetitionGuard(echo=instructions(EscalationInput(tenant="demo", lang="en", message="hi")))
    # Measured: greedy SmolLM2-135M with a help article, "you took the money two times for one order".
    assert not guard.repeats("I'm sorry for any confusion. ")
    assert not guard.repeats("I'll be happy to help.\n\n")
    assert guard.repeats("You are the customer support assistant of the online shop. ")
    assert guard.repeats("Answer the customer's last message politely and briefly, in English. ")
    assert not guard.repeats("A colleague will check it and reply here.")
