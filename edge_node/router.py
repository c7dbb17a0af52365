"""Turn an analysis into one of four decisions: answer, action, clarify or escalate."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import msgspec

from edge_node.phrases import phrase
from edge_node.signals import ConversationSignals, dispute_signals

if TYPE_CHECKING:
    from edge_node.understanding import Analysis
    from triage.bundle.layout import Calibration
    from triage.catalog import Catalog

__all__ = ["Decision", "DecisionKind", "Router", "escalation_threshold", "hardness"]

DecisionKind = Literal["answer", "action", "clarify", "escalate"]


class Decision(msgspec.Struct, frozen=True):
    kind: DecisionKind
    text: str
    lang: str
    intent: str | None
    confidence: float
    faq_id: str | None = None
    action: str | None = None
    options: list[str] = []
    """Quick replies offered with ``clarify``."""
    reason: str = ""


_NO_CONVERSATION = ConversationSignals(repeated=False, wants_human=False, frustration=0, rising_frustration=False,
                                       follow_up=False)


def escalation_threshold(cost_quality: float) -> float:
    """The one knob: 0 escalates only near-certain disputes, 1 escalates anything with a hint of one."""
    return 0.95 - 0.9 * min(1.0, max(0.0, cost_quality))


def hardness(a: Analysis, conversation: ConversationSignals) -> tuple[float, list[str]]:
    """How much a message needs the big model, in [0, 1], and why."""
    score, why = a.cloud_probability, []
    if a.cloud_probability >= 0.5:
        why.append(f"dispute intent p={a.cloud_probability:.2f}")
    if a.unrecognised:  # in the shop's domain, but nothing here knows it: the big model should answer
        score = max(score, 0.6)
        why.append("no confident edge answer")
    elif a.intent is not None and a.faq_id is None:
        uncertainty = 1.0 - a.intent_probability  # a shaky intent answer is worse than a cloud answer
        if uncertainty > score:
            score = uncertainty
            why.append(f"uncertain intent p={a.intent_probability:.2f}")
    dispute = dispute_signals(a.text)
    if dispute.words:
        score = max(score, 0.8)
        why.append("dispute words: " + ", ".join(sorted(set(dispute.words))))
    if dispute.amount and dispute.order_id:
        score = max(score, 0.6)
        why.append("amount and order id")
    if conversation.wants_human:
        score = 1.0
        why.append("asks for a human")
    if conversation.repeated:  # the edge's answer did not help: stop repeating it
        score = max(score, 0.85)
        why.append("repeated question")
    if conversation.rising_frustration:
        score = max(score, 0.85)
        why.append("rising frustration")
    if conversation.follow_up:
        score = max(score, 0.85)
        why.append("follow-up that needs the previous turn")
    return score, why


class Router:
    """Edge policy: answer what the catalog answers in the shopper's language, escalate the rest.

    Escalation is one comparison: the message's hardness (dispute-intent probability, dispute
    words, amount + order id, asking for a human, a repeated question, rising frustration, a
    follow-up) against the threshold set by ``cost_quality``. Language coverage is absolute: with
    no answer written in the shopper's language, the message escalates whatever the knob says.
    """

    def __init__(self, catalog: Catalog, calibration: Calibration, cost_quality: float | None = None) -> None:
        self.catalog = catalog
        self.calibration = calibration
        self.cost_quality = calibration.cost_quality if cost_quality is None else cost_quality
        self._default_lang = catalog.storefront.default_language

    def _label(self, intent: str, lang: str) -> str:
        """A quick reply the shopper can send back: their own language's shortest example, else the
        description (written in the storefront's default language). Sent back, an example is
        understood at once and keeps the conversation in the shopper's language."""
        found = self.catalog.intent(intent)
        examples = found.examples.get(lang) or []
        if lang != self._default_lang and examples:
            return min(examples, key=len)
        return found.description or (min(examples, key=len) if examples else intent.replace("_", " "))

    def decide(self, a: Analysis, conversation: ConversationSignals | None = None) -> Decision:
        lang = a.lang
        score, why = hardness(a, conversation or _NO_CONVERSATION)
        if score >= escalation_threshold(self.cost_quality):
            return self._escalate(a, "; ".join(why) or "hard message", score)
        if a.faq_id is not None and (a.intent is None or a.faq_similarity >= a.intent_similarity):
            answer = self.catalog.faq(a.faq_id).answers.get(lang)
            if answer is None:
                return self._escalate(a, "no FAQ answer written in the shopper's language")
            return Decision("answer", answer, lang, None, a.faq_similarity, faq_id=a.faq_id, reason="faq")
        if a.intent is None:
            fallback = self.catalog.storefront.fallback.get(lang) or phrase(
                "out_of_scope", lang, self._default_lang
            )
            return Decision("clarify", fallback, lang, None, a.intent_probability, reason="out of scope")
        intent = self.catalog.intent(a.intent)
        margin = a.intent_probability - a.runner_up_probability
        if a.runner_up and a.runner_up != "oos" and margin < self.calibration.clarify_margin:
            options = [self._label(a.intent, lang), self._label(a.runner_up, lang)]
            text = phrase("clarify", lang, self._default_lang, options=" / ".join(options))
            return Decision("clarify", text, lang, a.intent, a.intent_probability, options=options,
                            reason="two intents too close")
        answer = intent.answers.get(lang)
        if answer is None:
            return self._escalate(a, "no answer written in the shopper's language")
        kind: DecisionKind = "action" if intent.action else "answer"
        return Decision(kind, answer, lang, intent.name, a.intent_probability, action=intent.action,
                        reason="intent")

    def _escalate(self, a: Analysis, reason: str, confidence: float | None = None) -> Decision:
        text = phrase("handoff", a.lang, self._default_lang)
        return Decision("escalate", text, a.lang, a.intent,
                        a.intent_probability if confidence is None else confidence, reason=reason)
