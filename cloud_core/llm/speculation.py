"""Draft proposals for speculative decoding, and the controller that turns it off when it does not pay.

Greedy verification accepts a drafted token only where it equals the model's own argmax, so the
output is the plain greedy output whatever the drafts are; drafts only change the speed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np

    from cloud_core.llm.kv import KVCache

__all__ = ["AdaptiveSpeculation", "DraftLM", "Drafter", "ModelDrafter", "PromptLookupDrafter"]


class Drafter(Protocol):
    def propose(self, tokens: Sequence[int], k: int) -> list[int]:
        """Up to ``k`` tokens likely to follow ``tokens`` (prompt and output so far)."""
        ...


class PromptLookupDrafter:
    """Prompt-lookup (n-gram) drafting: answers that quote their context repeat its token runs.

    Finds the most recent earlier occurrence of the last ``n`` tokens (longest ``n`` first) and
    proposes the tokens that followed it.
    """

    def __init__(self, max_ngram: int = 4, min_ngram: int = 2) -> None:
        self.max_ngram = max_ngram
        self.min_ngram = min_ngram

    def propose(self, tokens: Sequence[int], k: int) -> list[int]:
        return self._lookup(tokens, k, self.min_ngram)

    def guess(self, tokens: Sequence[int]) -> list[int]:
        """One token after the last earlier occurrence of the last token: a weak draft, for a row
        the step runs anyway (see ``OnnxLM.forward``'s two-row rule)."""
        return self._lookup(tokens, 1, 1)

    def _lookup(self, tokens: Sequence[int], k: int, min_ngram: int) -> list[int]:
        seq = list(tokens)
        size = len(seq)
        for n in range(min(self.max_ngram, size - 1), min_ngram - 1, -1):
            tail = seq[size - n:]
            for start in range(size - n - 1, -1, -1):
                if seq[start:start + n] == tail:
                    follow = seq[start + n:start + n + k]
                    if follow:
                        return follow
        return []


class AdaptiveSpeculation:
    """Per-answer control of speculation: how many tokens to draft, and whether to draft at all.

    A verify pass over k drafts costs more than a plain step (k more rows through every matmul,
    the attention and the LM head), so drafts should be as long as they tend to be accepted: the
    draft length grows by two after a fully accepted draft (up to ``max_k``) and falls to one
    more than the accepted run after a rejection. Over each window of ``window`` verify steps, if
    fewer than ``min_accepted_per_step`` tokens per step were accepted, drafting pauses for
    ``cooldown`` plain steps, doubling on every further failure: an answer that never quotes
    stops paying for drafts almost at once, one that starts quoting later still gets them.
    """

    def __init__(self, k: int = 3, window: int = 3, min_accepted_per_step: float = 1.2, cooldown: int = 8,
                 max_k: int = 6) -> None:
        self.k = k
        self.max_k = max(max_k, k)
        self.window = window
        self.min_accepted_per_step = min_accepted_per_step
        self.cooldown = cooldown
        self.proposed = 0
        self.accepted = 0
        self._window_steps = 0
        self._window_accepted = 0
        self._paused_for = 0
        self.pauses = 0

    @property
    def enabled(self) -> bool:
        return self._paused_for == 0

    def tick(self) -> None:
        """One plain decoding step passed."""
        if self._paused_for:
            self._paused_for -= 1

    def record(self, proposed: int, accepted: int) -> None:
        self.proposed += proposed
        self.accepted += accepted
        self.k = min(self.max_k, self.k + 2) if accepted == proposed else max(2, accepted + 1)
        self._window_steps += 1
        self._window_accepted += accepted
        if self._window_steps < self.window:
            return
        if self._window_accepted / self._window_steps < self.min_accepted_per_step:
            self._paused_for = self.cooldown << min(self.pauses, 6)
            self.pauses += 1
        self._window_steps = self._window_accepted = 0


class DraftLM(Protocol):
    """What ``ModelDrafter`` needs of a language model (``OnnxLM`` is one), so drafting does not
    depend on the backend that runs it."""

    @property
    def eos_token_id(self) -> int: ...

    def empty_cache(self) -> KVCache:
        """A KV cache holding no tokens yet."""
        ...

    def forward(self, token_ids: list[int], cache: KVCache) -> tuple[np.ndarray, KVCache]:
        """Logits of the last new position and the cache extended by ``token_ids``."""
        ...


class ModelDrafter:
    """Draft-model speculation: a smaller LM with the same tokenizer proposes ``k`` greedy tokens.

    It keeps its own KV cache for the sequence so far and re-syncs it to the verified tokens on
    each call, so only the tokens it has not seen are recomputed.
    """

    def __init__(self, lm: DraftLM) -> None:
        self.lm = lm
        self._tokens: list[int] = []
        self._cache: KVCache | None = None

    def propose(self, tokens: Sequence[int], k: int) -> list[int]:
        import numpy as np

        seq = list(tokens)
        cache = self._cache or self.lm.empty_cache()
        common = 0
        for a, b in zip(self._tokens, seq[:-1], strict=False):
            if a != b:
                break
            common += 1
        cache = cache.cropped(min(common, cache.length))
        logits, cache = self.lm.forward(seq[cache.length:], cache)
        drafts: list[int] = []
        for _ in range(k):
            token = int(np.argmax(logits[-1]))
            if token == self.lm.eos_token_id:
                break
            drafts.append(token)
            if len(drafts) == k:
                break
            logits, cache = self.lm.forward([token], cache)
        self._tokens = seq + drafts[:-1] if drafts else seq
        self._cache = cache
        return drafts
