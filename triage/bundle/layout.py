"""File names inside a bundle and the records that describe its index rows."""

from __future__ import annotations

from typing import Literal

import msgspec

__all__ = [
    "CALIBRATION_FILE",
    "CATALOG_FILE",
    "EXEMPLARS_FILE",
    "HEAD_FILE",
    "INDEX_FILE",
    "Calibration",
    "CatalogScope",
    "Exemplar",
]

INDEX_FILE = "index.faiss"
EXEMPLARS_FILE = "exemplars.json"
HEAD_FILE = "intent_head.npz"
CALIBRATION_FILE = "calibration.json"
CATALOG_FILE = "catalog.json"


class Exemplar(msgspec.Struct, array_like=True):
    """One row of the FAISS index: an intent example, an FAQ question or an out-of-scope negative."""

    kind: Literal["intent", "faq", "oos"]
    target: str
    lang: str
    text: str


class CatalogScope(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """The catalog path's out-of-scope score: the head's top probability and the distance to the
    nearest intent (``triage.bundle.density``), each standardised on held-out in-scope examples, summed."""

    probability_mean: float
    probability_std: float
    distance_mean: float
    distance_std: float
    min_score: float
    """Below this score a message on the catalog path is out of scope."""

    def score(self, probability: float, distance: float) -> float:
        return ((probability - self.probability_mean) / self.probability_std
                + (self.distance_mean - distance) / self.distance_std)


class Calibration(msgspec.Struct, forbid_unknown_fields=True):
    """Thresholds fitted on the catalog itself at build time (and refitted by ``triage calibrate``)."""

    intent_min_probability: float
    """Below this intent-head probability a message is out of scope (on the catalog path only
    where ``catalog_scope`` is unset)."""
    intent_min_similarity: float
    """Below this cosine to the nearest intent example a message is out of scope."""
    faq_min_similarity: float
    """An FAQ answer needs at least this cosine to one of its question variants."""
    catalog_scope: CatalogScope | None = None
    """Where the head has a class density: the score that replaces ``intent_min_probability`` for
    messages in the catalog's own languages (other languages keep the probability)."""
    clarify_margin: float = 0.15
    """When the top two intents are closer than this in probability, ask which one was meant."""
    cost_quality: float = 0.2
    """The router's single trade-off knob: 0 = cheapest (answer at the edge), 1 = safest (escalate).

    0.2 until ``triage calibrate`` fits it: disputes and low-confidence answers go to the cloud, while
    a young catalog's merely unfamiliar phrasings get the edge's answer or a clarifying question
    (at 0.5 and up, every uncertain or unrecognised message escalates: see docs/benchmarks.md)."""
