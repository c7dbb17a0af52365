"""Prompt-lookup drafting and the switch that turns speculation off where it does not pay."""

from __future__ import annotations

from cloud_core.llm.speculation import AdaptiveSpeculation, PromptLookupDrafter


def test_prompt_lookup_proposes_what_followed_the_last_ngram():
    tokens = [5, 6, 7, 8, 9, 10, 1, 2, 6, 7]
    assert PromptLookupDrafter().propose(tokens, k=3) == [8, 9, 10]


def test_prompt_lookup_prefers_the_longest_match():
    tokens = [1, 7, 50, 2, 3, 7, 60, 61, 2, 3, 7]
    assert PromptLookupDrafter().propose(tokens, k=2) == [60, 61]


def test_prompt_lookup_has_nothing_for_new_text():
    assert PromptLookupDrafter().propose([1, 2, 3, 4], k=4) == []


def test_speculation_stays_on_while_it_pays_and_switches_off_when_it_does_not():
    paying = AdaptiveSpeculation(k=8, warmup_steps=4)
    for _ in range(10):
        paying.record(8, 6)
    assert paying.enabled
    losing = AdaptiveSpeculation(k=8, warmup_steps=4)
    for _ in range(4):
        losing.record(8, 0)
    assert not losing.enabled
