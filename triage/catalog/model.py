"""The catalog's data model: what a storefront can answer, in which languages."""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import Annotated, Literal

import msgspec

__all__ = ["ACTION_REPLIES", "PROMPTS", "Action", "ActionKind", "Catalog", "FaqEntry", "Intent", "Storefront", "Tier"]

Tier = Literal["edge", "cloud"]
ActionKind = Literal["order_status", "cancel_order", "refund_status"]

# What each action kind may say, and the typed fields each reply may use (``{eta:date}``).
_ORDER = ("order_id",)
_SHIPMENT = (*_ORDER, "carrier", "tracking_number", "shipped_on:date")
ACTION_REPLIES: dict[str, dict[str, tuple[str, ...]]] = {
    "order_status": {
        "processing": _ORDER,
        "shipped": (*_SHIPMENT, "eta:date"),
        "overdue": (*_SHIPMENT, "eta:date"),
        "delivered": (*_SHIPMENT, "delivered_on:date"),
        "lost": _SHIPMENT,
        "returned": _ORDER,
        "cancelled": _ORDER,
    },
    "cancel_order": {
        "done": (*_ORDER, "total:money"),
        "not_cancellable": _ORDER,
        "already_cancelled": _ORDER,
    },
    "refund_status": {
        "refunded": (*_ORDER, "amount:money", "refunded_on:date"),
        "none": _ORDER,
    },
}
PROMPTS: dict[str, tuple[str, ...]] = {
    "ask_order_id": (),
    "ask_email": _ORDER,
    "pick_order": (),
    "not_verified": (),
    "no_orders": (),
    "shop_unavailable": (),
}
"""What every action may need to ask or admit, whatever its kind."""


class Intent(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Something a shopper wants done or known, recognised from example utterances."""

    name: str
    """Stable identifier, e.g. ``track_order``; used in answers, metrics and labels."""
    examples: dict[str, list[str]]
    """Example utterances per language code; other languages are reached cross-lingually."""
    tier: Tier = "edge"
    """``edge``: answered by the edge node; ``cloud``: always escalated (disputes)."""
    answers: dict[str, str] = {}
    """Answer template per language; an intent without one for the shopper's language escalates."""
    action: str | None = None
    """Storefront webhook this intent triggers (e.g. ``order_status``) instead of a plain answer."""
    description: str = ""
    label: str = ""
    """The source data's own name for this intent where it is not a valid ``name`` (Banking77's
    ``reverted_card_payment?``): what ``triage eval`` compares a prediction with. Empty: the name."""


class FaqEntry(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A question with a fixed answer, found by similarity to its question variants."""

    id: str
    questions: dict[str, list[str]]
    answers: dict[str, str]
    topic: str = ""


class Action(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Something the edge does against the shop's API (``triage.connector``) for an intent."""

    name: str
    """What intents refer to (``action = "order_status"``)."""
    kind: ActionKind
    """What it runs: ``order_status`` and ``refund_status`` (reads) or ``cancel_order`` (a write)."""
    replies: dict[str, dict[str, str]]
    """Reply template per outcome and language: ``replies.shipped.de = "... {eta:date}"``."""


class Storefront(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Who the catalog belongs to and which languages it speaks."""

    id: str
    name: str
    default_language: str
    languages: list[str]
    out_of_scope: dict[str, list[str]] = {}
    """Messages the shop does not handle (chit-chat, other domains): negatives for calibration."""
    fallback: dict[str, str] = {}
    """What to say per language when a message is out of scope."""
    thin_language_share: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)] = 0.75
    """A language with fewer intent examples than this share of the best-covered language's is
    scored by the class-mean vote, like a language the catalog lacks, and its pick must also top the
    regression fitted on the examples (xSID, ten examples: 3-10 points more right answers for -2 to +5
    points of wrong ones; ``bench/thin_languages.py``). 0 puts every language with an example on the
    regression alone."""
    order_id_pattern: str = r"[0-9]{4,12}"
    """How this shop's order numbers look, so actions find one in a message (a regular expression)."""


class Catalog(msgspec.Struct, forbid_unknown_fields=True):
    storefront: Storefront
    intents: list[Intent]
    faqs: list[FaqEntry]
    actions: list[Action] = []
    prompts: dict[str, dict[str, str]] = {}
    """What actions ask or admit, per prompt and language (``PROMPTS``)."""

    def content_hash(self) -> str:
        """Hash of the canonical JSON form: two catalogs that answer alike hash alike."""
        return hashlib.sha256(msgspec.json.encode(self, order="sorted")).hexdigest()

    def example_counts(self) -> dict[str, int]:
        """Intent examples per language, most first."""
        counts = Counter(lang for intent in self.intents for lang, texts in intent.examples.items() for _ in texts)
        return dict(counts.most_common())

    def well_covered_languages(self) -> set[str]:
        """The languages with enough intent examples to be scored by the regression fitted on them.

        Before ``thin_language_share`` any example at all put a language on that path: on xSID, ten
        Dutch examples beside 150 English ones took Dutch from 0.867 (vote) to 0.71-0.72; the regression
        only beats the vote from about three quarters of English's count (docs/benchmarks.md).
        """
        counts = self.example_counts()
        most = max(counts.values(), default=0)
        return {lang for lang, count in counts.items() if count >= self.storefront.thin_language_share * most}

    def intent(self, name: str) -> Intent:
        for intent in self.intents:
            if intent.name == name:
                return intent
        raise KeyError(name)

    def action(self, name: str) -> Action:
        for action in self.actions:
            if action.name == name:
                return action
        raise KeyError(name)

    def faq(self, faq_id: str) -> FaqEntry:
        for entry in self.faqs:
            if entry.id == faq_id:
                return entry
        raise KeyError(faq_id)
