"""The repetition guard: a small model that starts repeating itself never stops on its own.

Greedy decoding with SmolLM2-135M falls into loops ("I'm sorry for any inconvenience this has
caused." forty times) until ``max_tokens``: 2 of 5 dispute answers without a shop policy, 5 of 5
with one (docs/benchmarks.md). A sampling penalty would change the greedy output that prompt-lookup
speculation must reproduce exactly, so the loop is cut where it shows: at the first sentence that
says again what an earlier one of the same answer said. The answer ends there, generation is
cancelled, and the shopper gets the sentences before it.
"""

from __future__ import annotations

import re

__all__ = ["RepetitionGuard", "first_repeat", "split_sentences"]

_WORD = re.compile(r"\w+")
_SENTENCE = re.compile(r".*?(?:[.!?。！？](?=\s|$)|\n|$)\s*", re.DOTALL)
# Sentences sharing this share of their distinct words say the same thing: the loops this model
# falls into vary one word per turn ("help you" / "help you today", "the date" / "the time").
_SAME_WORDS = 0.75
# Shorter sentences ("Thank you!") must repeat word for word to count: they recur legitimately.
_MIN_WORDS = 4


def split_sentences(text: str) -> list[str]:
    """``text`` cut after each sentence end or line break, whitespace kept with the sentence before."""
    return [part for part in _SENTENCE.findall(text) if part]


class RepetitionGuard:
    """Remembers the sentences of one answer and tells when a new one repeats an earlier one.

    ``echo`` is text the answer must not repeat either: the system instructions, which this model
    sometimes recites ("Answer the customer's last message politely and briefly, in English.").
    """

    def __init__(self, echo: str = "") -> None:
        self._seen: list[frozenset[str]] = []
        self._exact: set[tuple[str, ...]] = set()
        for sentence in split_sentences(echo):
            self.repeats(sentence)

    def repeats(self, sentence: str) -> bool:
        """Whether ``sentence`` repeats an earlier one; if not, it is remembered."""
        words = tuple(w.lower() for w in _WORD.findall(sentence))
        if not words:
            return False
        if words in self._exact:
            return True
        distinct = frozenset(words)
        if len(distinct) >= _MIN_WORDS:
            for earlier in self._seen:
                if len(distinct & earlier) / len(distinct | earlier) >= _SAME_WORDS:
                    return True
            self._seen.append(distinct)
        self._exact.add(words)
        return False


def first_repeat(text: str) -> int | None:
    """Index (in ``split_sentences``) of the first sentence of ``text`` that repeats an earlier one."""
    guard = RepetitionGuard()
    for index, sentence in enumerate(split_sentences(text)):
        if guard.repeats(sentence):
            return index
    return None
