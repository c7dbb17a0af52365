"""Turn an analysis into one of four decisions: answer, action, clarify or escalate."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import msgspec

from edge_node.phrases import phrase

if TYPE_CHECKING:
    from edge_node.understanding import Analysis
    from triage.bundle.layout import Calibration
    from triage.catalog import Catalog

__all__ = ["Decision", "DecisionKind", "Router"]

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


class Router:
    """Edge policy: answer what the catalog answers in the shopper's language, escalate the rest."""

    def __init__(self, catalog: Catalog, calibration: Calibration) -> None:
        self.catalog = catalog
        self.calibration = calibration
        self._default_lang = catalog.storefront.default_language

    def _label(self, intent: str) -> str:
        found = self.catalog.intent(intent)
        return found.description or intent.replace("_", " ")

    def decide(self, a: Analysis) -> Decision:
        lang = a.lang
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
        if intent.tier == "cloud":
            return self._escalate(a, "cloud-tier intent")
        margin = a.intent_probability - a.runner_up_probability
        if a.runner_up and a.runner_up != "oos" and margin < self.calibration.clarify_margin:
            options = [self._label(a.intent), self._label(a.runner_up)]
            text = phrase("clarify", lang, self._default_lang, options=" / ".join(options))
            return Decision("clarify", text, lang, a.intent, a.intent_probability, options=options,
                            reason="two intents too close")
        answer = intent.answers.get(lang)
        if answer is None:
            return self._escalate(a, "no answer written in the shopper's language")
        kind: DecisionKind = "action" if intent.action else "answer"
        return Decision(kind, answer, lang, intent.name, a.intent_probability, action=intent.action,
                        reason="intent")

    def _escalate(self, a: Analysis, reason: str) -> Decision:
        text = phrase("handoff", a.lang, self._default_lang)
        return Decision("escalate", text, a.lang, a.intent, a.intent_probability, reason=reason)
