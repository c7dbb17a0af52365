"""Turning a stream of token ids into safe text deltas: ChatML, partial UTF-8, stop sequences."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tokenizers import Tokenizer

    from cloud_core.llm.base import ChatMessage

__all__ = ["IncrementalText", "render_chatml", "turn_texts"]


def _turn(message: ChatMessage) -> str:
    return f"<|im_start|>{message.role}\n{message.content}<|im_end|>\n"


def render_chatml(messages: Sequence[ChatMessage]) -> str:
    """SmolLM2's chat template, ending with the assistant's open turn."""
    return "".join(_turn(m) for m in messages) + "<|im_start|>assistant\n"


def turn_texts(messages: Sequence[ChatMessage]) -> list[str]:
    """Each message as rendered, then the assistant's open turn: the chunks prefill runs over."""
    return [_turn(m) for m in messages] + ["<|im_start|>assistant\n"]


class IncrementalText:
    """Decodes the growing output and releases only text that can no longer change.

    Text is held back while it ends in a partial UTF-8 sequence, or while its tail could still
    become one of the stop sequences.
    """

    def __init__(self, tokenizer: Tokenizer, stop: Sequence[str]) -> None:
        self._tokenizer = tokenizer
        self._stop = [s for s in stop if s]
        self._ids: list[int] = []
        self.text = ""
        self._released = 0
        self.stopped = False

    def push(self, token_ids: Sequence[int]) -> str:
        """Add tokens; returns the newly releasable text (empty when nothing is safe yet)."""
        self._ids.extend(token_ids)
        text = self._tokenizer.decode(self._ids, skip_special_tokens=True)
        for stop in self._stop:
            cut = text.find(stop)
            if cut >= 0:
                text = text[:cut]
                self.stopped = True
        self.text = text
        safe = len(text)
        if not self.stopped:
            if text.endswith("\ufffd"):
                safe = len(text.rstrip("\ufffd"))
            for stop in self._stop:
                for size in range(min(len(stop) - 1, len(text)), 0, -1):
                    if text.endswith(stop[:size]):
                        safe = min(safe, len(text) - size)
                        break
        new = text[self._released:safe] if safe > self._released else ""
        self._released = max(self._released, safe)
        return new

    def flush(self) -> str:
        """The rest of the text at the end of generation."""
        rest = self.text[self._released:].rstrip("\ufffd")
        self._released = len(self.text)
        return rest
