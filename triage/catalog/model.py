"""The catalog's data model: what a storefront can answer, in which languages."""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import Annotated, Literal

import msgspec

__all__ = ["Catalog", "FaqEntry", "Intent", "Storefront", "Tier"]

Tier = Literal["edge", "cloud"]


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


class FaqEntry(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A question with a fixed answer, found by similarity to its question variants."""

    id: str
    questions: dict[str, list[str]]
    answers: dict[str, str]
    topic: str = ""


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


class Catalog(msgspec.Struct, forbid_unknown_fields=True):
    storefront: Storefront
    intents: list[Intent]
    faqs: list[FaqEntry]

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

    def faq(self, faq_id: str) -> FaqEntry:
        for entry in self.faqs:
            if entry.id == faq_id:
                return entry
        raise KeyError(faq_id)
