"""Whether a message is outside the catalog's languages, or in one with too few examples."""

from __future__ import annotations

import pytest

from edge_node.langid import OutsideCatalogLanguages


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


def test_a_message_in_a_thin_catalog_language_is_told_apart() -> None:
    catalog = OutsideCatalogLanguages({"en", "de", "zh"}, thin={"de", "zh"})
    assert catalog.thin("Ich möchte meine Bestellung stornieren, bitte", "de")
    assert catalog.thin("我想取消我的订单", "zh")
    assert not catalog.thin("I would like to cancel my order, please", "en")
    assert not catalog.thin("Danke", "de")  # short: its language is a guess, the catalog path answers
    assert not catalog.outside("Ich möchte meine Bestellung stornieren, bitte")  # thin is not outside
