"""Prompt-lookup drafting and the switch that turns speculation off where it does not pay."""

from __future__ import annotations

from cloud_core.llm.speculation import AdaptiveSpeculation, PromptLookupDrafter


def test_prompt_lookup_proposes_what_followed_the_last_ngram():
    tokens = [5, 6, 7, 8, 9, 10, 1, 2, 6, 7]
    assert PromptLookupDrafter().propose(tokens, k=3) == [8, 9, 10]


def test_a_single_repeated_token_is_too_weak_a_match_to_draft_from():
    assert PromptLookupDrafter().propose([4, 9, 9, 1, 2, 3, 9], k=3) == []


def test_prompt_lookup_prefers_the_longest_match():
    tokens = [1, 7, 50, 2, 3, 7, 60, 61, 2, 3, 7]
    assert PromptLookupDrafter().propose(tokens, k=2) == [60, 61]


def test_prompt_lookup_has_nothing_for_new_text():
    assert PromptLookupDrafter().propose([1, 2, 3, 4], k=4) == []


def test_speculation_stays_on_while_it_pays():
    paying = AdaptiveSpeculation(k=8, window=3)
    for _ in range(10):
        paying.record(8, 6)
    assert paying.enabled and paying.pauses == 0


def test_speculation_backs_off_longer_each_time_it_does_not_pay():
    losing = AdaptiveSpeculation(k=8, window=3, cooldown=4)
    pauses = []
    for _ in range(3):
        for _ in range(3):
            losing.record(8, 0)
        assert not losing.enabled
        steps = 0
        while not losing.enabled:
            losing.tick()
            steps += 1
        pauses.append(steps)
    assert pauses == [4, 8, 16]


def test_drafts_grow_while_fully_accepted_and_shrink_to_the_accepted_run():
    control = AdaptiveSpeculation(k=3, max_k=8)
    control.record(3, 3)
    assert control.k == 5
    control.record(5, 5)
    control.record(7, 7)
    assert control.k == 8
    control.record(8, 2)
    assert control.k == 3
    control.record(3, 0)
    assert control.k == 2


def test_a_one_token_guess_follows_the_last_token_when_no_longer_match_exists():
    drafter = PromptLookupDrafter()
    tokens = [4, 9, 12, 1, 2, 3, 9]
    assert drafter.propose(tokens, k=3) == []
    assert drafter.guess(tokens) == [12]


def _scanned(tokens: list[int], k: int, min_ngram: int, max_ngram: int = 4) -> list[int]:
    """The definition: the tokens after the most recent earlier occurrence of the last n tokens,
    longest n first, found by scanning the whole sequence."""
    size = len(tokens)
    for n in range(min(max_ngram, size - 1), min_ngram - 1, -1):
        tail = tokens[size - n:]
        for start in range(size - n - 1, -1, -1):
            if tokens[start:start + n] == tail:
                return tokens[start + n:start + n + k]
    return []


def test_the_index_drafts_what_a_scan_of_the_whole_sequence_finds_at_every_step():
    # A small vocabulary repeats n-grams of every length; the drafter is asked after every token,
    # as a generation asks it, and also restarted on another sequence half-way.
    import random

    rng = random.Random(7)
    for vocabulary in (3, 6, 40):
        drafter = PromptLookupDrafter()
        tokens: list[int] = []
        for step in range(400):
            tokens.append(rng.randrange(vocabulary))
            if step == 200:
                tokens = tokens[50:]  # not an extension: the drafter must start over
            assert drafter.propose(tokens, 5) == _scanned(tokens, 5, 2)
            assert drafter.guess(tokens) == _scanned(tokens, 1, 1)


def test_a_drafter_asked_about_a_long_context_indexes_it_once():
    drafter = PromptLookupDrafter()
    context = [*range(1000), 10, 11]
    assert drafter.propose(context, 3) == [12, 13, 14]
    context += [12, 13]
    assert drafter.propose(context, 3) == [14, 15, 16]
    assert len(drafter._seq) == len(context)
