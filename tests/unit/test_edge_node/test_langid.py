"""Language id is deterministic, restricted to the catalog, and sensible on short messages."""

from __future__ import annotations

import pytest

from edge_node.langid import LanguageIdentifier, OutsideCatalogLanguages

LANGS = ["en", "de", "fr", "es", "it", "pt", "nl", "pl", "zh", "ar"]


@pytest.fixture(scope="module", params=["py3langid", "langdetect"])
def langid(request: pytest.FixtureRequest) -> LanguageIdentifier:
    return LanguageIdentifier(LANGS, "en", backend=request.param)


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Where is my order? It has been a week.", "en"),
        ("Wann kommt meine Bestellung endlich an?", "de"),
        ("Je voudrais retourner mes chaussures, elles sont trop petites.", "fr"),
        ("¿Tenéis tarjetas regalo?", "es"),
        ("我的包裹什么时候到", "zh"),
        ("أين طلبي", "ar"),
        ("Zapomniałem hasła do konta", "pl"),
    ],
)
def test_identifies_clear_messages(langid: LanguageIdentifier, text: str, lang: str) -> None:
    assert langid.identify(text) == lang


def test_is_deterministic(langid: LanguageIdentifier) -> None:
    text = "ok danke"
    assert len({langid.identify(text) for _ in range(20)}) == 1


def test_empty_and_digit_only_text_fall_back_instead_of_raising(langid: LanguageIdentifier) -> None:
    assert langid.identify("") == "en"
    assert langid.identify("123 !!!") == "en"
    assert langid.identify("123 !!!", previous="de") == "de"


def test_short_ambiguous_message_keeps_the_session_language(langid: LanguageIdentifier) -> None:
    assert langid.identify("ok", previous="nl") == "nl"


def test_only_catalog_languages_are_returned() -> None:
    narrow = LanguageIdentifier(["en", "de"], "en")
    assert narrow.identify("Buongiorno, dov'è il mio ordine?") in {"en", "de"}


@pytest.fixture(scope="module")
def english_catalog() -> OutsideCatalogLanguages:
    return OutsideCatalogLanguages({"en"})


@pytest.mark.parametrize(
    "text",
    [
        "Zet alle wekkers uit voor morgen",  # Dutch: its mass is split with af/de/fy
        "Yarın Patrick'i okuldan almak için olan hatırlatıcıyı sil.",
        "Wann kommt meine Bestellung endlich an?",
        "我的包裹什么时候到",
    ],
)
def test_other_languages_are_outside_an_english_catalog(english_catalog: OutsideCatalogLanguages, text: str) -> None:
    assert english_catalog.outside(text)
    assert english_catalog.catalog_probability(text) < 0.1


@pytest.mark.parametrize(
    "text",
    [
        "Where is my order? It has been a week.",
        "cancel ordedr 00004587345",  # the number is dropped: digits looked foreign
        "check invoice #37777",
        "wekker aan",  # too short to tell: the catalog's own path answers it
    ],
)
def test_english_and_short_messages_stay_inside(english_catalog: OutsideCatalogLanguages, text: str) -> None:
    assert not english_catalog.outside(text)


def test_a_language_with_examples_is_inside() -> None:
    catalog = OutsideCatalogLanguages({"en", "de", "zh-TW"})
    assert not catalog.outside("Wann kommt meine Bestellung endlich an?")
    assert not catalog.outside("我的包裹什么时候到")
    assert catalog.outside("Siparişim nerede, bir haftadır bekliyorum")
