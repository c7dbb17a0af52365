"""The edge understands a shopper in their language and answers in it."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import msgspec
import numpy as np
import pytest

from edge_node.knowledge import Knowledge, load_knowledge
from edge_node.service import EdgeService
from edge_node.understanding import Understanding
from triage.bundle.build import build_bundle
from triage.bundle.density import ClassDensity
from triage.bundle.head import IntentHead
from triage.bundle.layout import CatalogScope
from triage.catalog import write_catalog
from triage.catalog.model import Catalog, FaqEntry, Intent, Storefront
from triage.config import EdgeConfig
from triage.encoder.graph import ADAPTED_OUTPUT

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture(scope="module")
def edge_service(demo_bundle: Path) -> EdgeService:
    return EdgeService.from_bundle(demo_bundle, EdgeConfig())


@pytest.mark.parametrize(
    ("text", "lang", "faq"),
    [
        ("How much is shipping?", "en", "shipping_cost"),
        ("Was kostet der Versand?", "de", "shipping_cost"),
        ("Vendez-vous des cartes cadeaux ?", "fr", "gift_cards"),
        ("¿A qué países enviáis?", "es", "shipping_countries"),
        ("Avete uno sconto per studenti?", "it", "student_discount"),
        ("Como lavo o meu casaco impermeável?", "pt", "jacket_care"),
        ("Wat zijn de openingstijden van de winkel?", "nl", "store_hours"),
        ("Czy macie aplikację mobilną?", "pl", "mobile_app"),
    ],
)
def test_faq_answered_in_the_shoppers_language(edge_service: EdgeService, text: str, lang: str, faq: str) -> None:
    reply = edge_service.reply(text, None)
    assert reply.decision.kind == "answer"
    assert reply.decision.faq_id == faq
    assert reply.decision.lang == lang
    assert reply.decision.text == edge_service.knowledge.catalog.faq(faq).answers[lang]


def test_order_tracking_is_an_action(edge_service: EdgeService) -> None:
    reply = edge_service.reply("Wo ist meine Bestellung?", None)
    assert reply.decision.kind == "action"
    assert reply.decision.intent == "track_order"
    assert reply.decision.action == "order_status"
    assert reply.decision.lang == "de"


@pytest.mark.parametrize(
    "text", ["my parcel never arrived", "I was charged twice for my order", "I will file a chargeback with my bank",
             "my lawyer will contact you", "the jacket arrived torn"]
)
def test_disputes_escalate(edge_service: EdgeService, text: str) -> None:
    reply = edge_service.reply(text, None)
    assert reply.decision.kind == "escalate"


@pytest.mark.parametrize("text", ["what's the weather like in Paris tomorrow", "write me a poem about cats"])
def test_out_of_scope_gets_a_clarifying_fallback(edge_service: EdgeService, text: str) -> None:
    reply = edge_service.reply(text, None)
    assert reply.decision.kind == "clarify"
    assert reply.decision.intent is None


def test_the_conversation_can_make_an_easy_message_hard(edge_service: EdgeService) -> None:
    assert edge_service.reply("Where is my order?", None).decision.kind != "escalate"
    earlier = ["Where is my order?", "I still don't know where my order is"]
    repeated = edge_service.reply("Where is my order?", "en", earlier)
    assert repeated.decision.kind == "escalate" and "repeated question" in repeated.decision.reason
    human = edge_service.reply("Can I talk to a real person please", "en", ["Where is my order?"])
    assert human.decision.kind == "escalate" and "human" in human.decision.reason
    follow_up = edge_service.reply("and what about the other one?", "en", ["How do I return the shoes?"])
    assert follow_up.decision.kind == "escalate"


def test_the_knob_at_zero_keeps_borderline_disputes_at_the_edge(demo_bundle) -> None:
    from edge_node.router import Router

    service = EdgeService.from_bundle(demo_bundle, EdgeConfig())
    analysis = service.understanding.analyze("Order A-10023 shows 59.90 EUR, is that the final price?")
    assert Router(service.knowledge.catalog, service.knowledge.calibration, 1.0).decide(analysis).kind == "escalate"
    assert Router(service.knowledge.catalog, service.knowledge.calibration, 0.0).decide(analysis).kind != "escalate"


@pytest.mark.parametrize(("lang", "options"), [
    ("de", ["Mir wurde doppelt abgebucht", "Ich möchte meine Bestellung ändern"]),
    ("en", ["charged twice", "change an order"]),
    ("nl", ["charged twice", "change an order"]),  # no Dutch examples: the descriptions
])
def test_clarifying_options_are_in_the_shoppers_language(edge_service: EdgeService, lang: str,
                                                         options: list[str]) -> None:
    from edge_node.understanding import Analysis

    close_call = Analysis(text="...", lang=lang, intent="charged_twice", intent_probability=0.45,
                          runner_up="change_order", runner_up_probability=0.40, intent_similarity=0.8,
                          faq_id=None, faq_similarity=0.0, out_of_scope=False, elapsed_ms=1.0)
    decision = edge_service.router.decide(close_call)
    assert decision.kind == "clarify"
    assert decision.options == options
    assert all(option in decision.text for option in options)


def test_the_demo_shop_fits_only_english_and_still_understands_german(edge_service: EdgeService) -> None:
    assert edge_service.knowledge.catalog.well_covered_languages() == {"en"}
    answer = edge_service.reply("Ich möchte meine Bestellung stornieren", None)
    assert (answer.decision.lang, answer.decision.intent) == ("de", "cancel_order")


def test_the_vote_of_a_thin_language_stands_only_if_the_regression_agrees(edge_service: EdgeService) -> None:
    # "I want to return my order": the vote says cancel_order, the regression track_order. Neither
    # is right, and the shopper gets a clarifying question instead of a wrong answer.
    analysis = edge_service.understanding.analyze("Je veux retourner ma commande")
    assert analysis.lang == "fr"
    assert analysis.intent is None
    assert analysis.unrecognised
    assert edge_service.reply("Je veux retourner ma commande", None).decision.kind == "clarify"


def test_a_faq_question_is_found_however_many_intent_examples_are_closer(tmp_path: Path) -> None:
    # Retrieval used to take the first FAQ among the ten nearest exemplars of every kind, so a
    # catalog with many close intent examples hid a matching question.
    parcel = ["where is my parcel", "where is my parcel now", "where's my parcel", "where is my package",
              "where is my parcel right now", "where is my parcel please", "where is my parcel today",
              "tell me where my parcel is", "where is the parcel", "where is my parcel at the moment",
              "where is my parcel currently", "so where is my parcel", "where is my parcel gone"]
    cancel = ["cancel my order", "please cancel my order", "I want to cancel the order", "stop my order",
              "cancel the purchase", "I no longer want this order"]
    catalog = Catalog(
        storefront=Storefront(id="s", name="S", default_language="en", languages=["en"]),
        intents=[Intent(name="track_order", examples={"en": parcel}, answers={"en": "Tracking."}),
                 Intent(name="cancel_order", examples={"en": cancel}, answers={"en": "Cancelled."})],
        faqs=[FaqEntry(id="tracking_link", questions={"en": ["how can I follow my parcel online"]},
                       answers={"en": "Use the link in your shipping e-mail."})],
    )
    write_catalog(catalog, tmp_path / "catalog")
    knowledge = load_knowledge(build_bundle(tmp_path / "catalog", tmp_path / "bundle"))
    analysis = Understanding(knowledge).analyze("where is my parcel now, can I track it")  # 11th nearest
    assert analysis.intent == "track_order"
    assert analysis.faq_id == "tracking_link"
    assert analysis.faq_similarity >= knowledge.calibration.faq_min_similarity


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("I would like to cancel my order please", "catalog"),  # English: 171 examples
        ("Ich möchte meine Bestellung stornieren", "thin"),  # German: 18
        ("Siparişimi iptal etmek istiyorum lütfen", "outside"),  # Turkish: none
    ],
)
def test_each_message_says_how_it_was_scored_and_the_node_counts_it(edge_service: EdgeService, text: str,
                                                                     path: str) -> None:
    before = edge_service.metrics.scoring.labels(path)._value.get()
    assert edge_service.reply(text, None).analysis.path == path
    assert edge_service.metrics.scoring.labels(path)._value.get() == before + 1


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("I would like to cancel my order please", "catalog"),
        ("Ich möchte meine Bestellung stornieren", "thin"),
        ("Siparişimi iptal etmek istiyorum lütfen", "outside"),
    ],
)
def test_the_catalog_regression_reads_the_adapted_layers_and_other_languages_the_embedding(
        edge_service: EdgeService, text: str, path: str) -> None:
    knowledge = edge_service.knowledge
    assert knowledge.head.adapted  # the demo bundle is built as `triage build` builds it
    embedding, adapted = knowledge.encoder.encode_with(text, ADAPTED_OUTPUT)
    analysis = edge_service.understanding.analyze(text)
    assert analysis.path == path
    assert knowledge.head.ngrams is None  # 7 examples an intent: too few to weigh words (reads_ngrams)
    expected = (knowledge.head.probabilities(adapted[None, :], texts=[text]) if path == "catalog"
                else knowledge.head.probabilities(embedding[None, :], transfer=True))[0]
    assert analysis.intent_probability == pytest.approx(float(expected.max()), abs=1e-5)
    np.testing.assert_allclose(analysis.embedding, embedding, atol=1e-6)  # retrieval and the cache


def _with_catalog_score(knowledge: Knowledge, min_score: float | None, *,
                        min_similarity: float | None = None) -> Understanding:
    """The demo bundle's head with a class density over the demo examples' adapted output, and a
    catalog score of threshold ``min_score`` (the demo catalog is too small to get them from the build)."""
    rows = [e for e in knowledge.exemplars if e.kind == "intent"]
    adapted = np.vstack([knowledge.encoder.encode_with(e.text, ADAPTED_OUTPUT)[1] for e in rows])
    head = knowledge.head
    dense = IntentHead(head.weights, head.bias, head.classes, head.transfer, head.adapted, head.embedding_regression,
                       head.ngrams, ClassDensity.fit(adapted, [e.target for e in rows]))
    scope = None if min_score is None else CatalogScope(probability_mean=0.9, probability_std=0.1,
                                                        distance_mean=100.0, distance_std=50.0, min_score=min_score)
    calibration = msgspec.structs.replace(knowledge.calibration, catalog_scope=scope)
    if min_similarity is not None:
        calibration = msgspec.structs.replace(calibration, intent_min_similarity=min_similarity)
    return Understanding(dataclasses.replace(knowledge, head=dense, calibration=calibration))


def test_the_catalog_score_decides_the_catalogs_own_languages_and_the_probability_the_others(
        edge_service: EdgeService) -> None:
    knowledge = edge_service.knowledge
    english, turkish = "I would like to cancel my order please", "Siparişimi iptal etmek istiyorum lütfen"
    plain = edge_service.understanding
    assert not plain.analyze(english).out_of_scope and not plain.analyze(turkish).out_of_scope
    strict, lenient = _with_catalog_score(knowledge, 1e6), _with_catalog_score(knowledge, -1e6)
    assert strict.analyze(english).out_of_scope  # no message reaches that score
    assert strict.analyze(english).intent_probability == plain.analyze(english).intent_probability
    assert not lenient.analyze(english).out_of_scope
    # Turkish has no examples: the vote scores it, and the density of the adapted output does not apply
    assert strict.analyze(turkish).path == "outside" and not strict.analyze(turkish).out_of_scope


def test_the_catalog_score_replaces_the_similarity_floor_in_the_catalogs_own_languages(
        edge_service: EdgeService) -> None:
    knowledge = edge_service.knowledge
    english, turkish = "I would like to cancel my order please", "Siparişimi iptal etmek istiyorum lütfen"
    floor_only = _with_catalog_score(knowledge, None, min_similarity=0.999)
    scored = _with_catalog_score(knowledge, -1e6, min_similarity=0.999)
    assert floor_only.analyze(english).out_of_scope  # no example is that close
    assert not scored.analyze(english).out_of_scope
    assert scored.analyze(turkish).out_of_scope  # the vote's path keeps the floor
