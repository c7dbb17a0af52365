"""Building the model's prompt from an escalation: what changes least comes first.

1. instructions + shop policy: the same for every customer (prefix boundary 1);
2. this customer's facts and summary: the same across the customer's escalations (boundary 2);
3. earlier turns, the conversation, then the case (passages, order, amount) and the message.
The prefix cache reuses 1 across customers and 1+2 across one customer's escalations.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from cloud_core.llm.base import ChatMessage, Prompt

if TYPE_CHECKING:
    from collections.abc import Sequence

    from cloud_core.memory import Fact, StoredTurn

__all__ = ["CaseFacts", "EscalationInput", "build_prompt", "grounding_context", "instructions"]

LANGUAGE_NAMES = {"en": "English", "de": "German", "fr": "French", "es": "Spanish", "it": "Italian",
                  "pt": "Portuguese", "nl": "Dutch", "pl": "Polish", "ar": "Arabic", "tr": "Turkish",
                  "zh": "Chinese"}

INSTRUCTIONS = (
    "You are the customer support assistant of the online shop {tenant}. Answer the customer's last message "
    "politely and briefly, in {language}. Use only the facts given to you in this conversation: never invent "
    "order numbers, amounts, dates, deadlines, phone numbers or policies. If a fact you need is missing, say "
    "that a colleague will check it."
)


class CaseFacts(msgspec.Struct, frozen=True):
    order_id: str = ""
    amount: str = ""
    channel: str = ""
    extra: dict[str, str] = msgspec.field(default_factory=dict)


class EscalationInput(msgspec.Struct, frozen=True):
    tenant: str
    lang: str
    message: str
    conversation: tuple[tuple[str, str], ...] = ()
    """(role, text) with role ``user`` or ``assistant``, oldest first."""
    intent: str = ""
    passages: tuple[str, ...] = ()
    case: CaseFacts = CaseFacts()


def _memory_block(summary: str, facts: Sequence[Fact]) -> str:
    lines = [f"Summary of earlier contacts: {summary}"] if summary else []
    lines += [f"- {fact.key.replace('_', ' ')}: {fact.value}" for fact in facts]
    return "\n".join(lines)


def instructions(case: EscalationInput) -> str:
    """The fixed part of the system prompt: never part of an answer (the repetition guard is seeded with it)."""
    language = LANGUAGE_NAMES.get(case.lang, case.lang or "the customer's language")
    return INSTRUCTIONS.format(tenant=case.tenant, language=language)


def build_prompt(case: EscalationInput, summary: str = "", facts: Sequence[Fact] = (),
                 turns: Sequence[StoredTurn] = (), policy: str = "") -> Prompt:
    system = instructions(case)
    if policy:
        system += f"\n\nShop policies:\n{policy}"
    messages = [ChatMessage("system", system)]
    boundaries = [1]
    memory = _memory_block(summary, facts)
    if memory:
        messages.append(ChatMessage("system", f"What we know about this customer:\n{memory}"))
        boundaries.append(2)
    if turns:
        earlier = "\n".join(f"- {turn.role}: {turn.text}" for turn in turns)
        messages.append(ChatMessage("system", f"Earlier messages of this customer:\n{earlier}"))
    for role, text in case.conversation:
        messages.append(ChatMessage("assistant" if role == "assistant" else "user", text))
    details = [f"Relevant help article: {p}" for p in case.passages]
    if case.case.order_id:
        details.append(f"Order id: {case.case.order_id}")
    if case.case.amount:
        details.append(f"Amount: {case.case.amount}")
    details += [f"{key}: {value}" for key, value in sorted(case.case.extra.items())]
    if case.intent:
        details.append(f"Topic: {case.intent.replace('_', ' ')}")
    final = "\n".join([*details, f"Customer: {case.message}"]) if details else case.message
    messages.append(ChatMessage("user", final))
    return Prompt(tuple(messages), prefix_boundaries=tuple(boundaries))


def grounding_context(prompt: Prompt) -> str:
    """Everything the model was told: the claims of an answer must come from here."""
    return "\n".join(message.content for message in prompt.messages)
