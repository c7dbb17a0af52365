"""What every LLM backend speaks: chat messages in, text deltas and one final result out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

import msgspec

if TYPE_CHECKING:
    import threading
    from collections.abc import AsyncIterator

__all__ = [
    "ChatMessage",
    "CountsTokens",
    "Finished",
    "GenerationOptions",
    "LLMBackend",
    "LLMError",
    "Prompt",
    "TextDelta",
    "Usage",
]

Role = Literal["system", "user", "assistant"]
FinishReason = Literal["stop", "length", "cancelled"]
SpeculationMode = Literal["auto", "off", "prompt_lookup", "draft_model"]


class ChatMessage(msgspec.Struct, frozen=True):
    role: Role
    content: str


class Prompt(msgspec.Struct, frozen=True):
    """A chat prompt whose leading messages are shared with other requests.

    ``prefix_boundaries`` are message counts, shortest first: e.g. ``(1, 2)`` says the first
    message (instructions and shop policy) is shared by every customer and the first two
    (plus this customer's facts and summary) by this customer's escalations. The prefix cache
    keys on the token prefix up to each boundary; what follows is specific to one request.
    """

    messages: tuple[ChatMessage, ...]
    prefix_boundaries: tuple[int, ...] = (1,)


class GenerationOptions(msgspec.Struct, frozen=True):
    max_tokens: int = 256
    temperature: float = 0.0
    """0 is greedy decoding; speculation only runs greedy, where its output is provably identical."""
    top_p: float = 1.0
    seed: int = 0
    stop: tuple[str, ...] = ()
    speculation: SpeculationMode = "auto"


class Usage(msgspec.Struct):
    input_tokens: int = 0
    cached_input_tokens: int = 0
    output_tokens: int = 0
    draft_tokens_proposed: int = 0
    draft_tokens_accepted: int = 0


class TextDelta(msgspec.Struct, frozen=True):
    text: str


class Finished(msgspec.Struct, frozen=True):
    text: str
    finish_reason: FinishReason
    usage: Usage
    model_id: str


class LLMError(RuntimeError):
    """A backend could not produce an answer (model missing, server down, prompt too long)."""


class LLMBackend(Protocol):
    model_id: str

    def stream(self, prompt: Prompt, options: GenerationOptions,
               cancel: threading.Event | None = None) -> AsyncIterator[TextDelta | Finished]:
        """Text deltas as they are decoded, then exactly one ``Finished``; stops at once on ``cancel``."""
        ...

    async def close(self) -> None: ...


@runtime_checkable
class CountsTokens(Protocol):
    """A backend that knows its context window: the cloud fits prompts to it before generating (an
    OpenAI-compatible server budgets its own context and does not implement this)."""

    def prompt_tokens(self, prompt: Prompt) -> int: ...

    def prompt_budget(self, max_tokens: int) -> int:
        """Prompt tokens that leave room for an answer of ``max_tokens``."""
        ...
