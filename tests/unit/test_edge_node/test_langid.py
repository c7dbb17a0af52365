"""Language id is deterministic, restricted to the catalog, and sensible on short messages."""

from __future__ import annotations

import pytest

from edge_node.langid import LanguageIdentifier, LanguageProbabilities, OutsideCatalogLanguages

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


@pytest.mark.parametrize("text", ["hi", "ok", "no", "hello", "help", "refund"])
def test_a_first_short_message_without_evidence_gets_the_storefront_default(
        langid: LanguageIdentifier, text: str) -> None:
    # py3langid scored these pt/pt/pt/it/nl/de at 0.12-0.26 over the catalog's languages.
    assert langid.identify(text) == "en"


def test_a_first_short_message_with_evidence_keeps_its_language() -> None:
    langid = LanguageIdentifier(LANGS, "en")
    assert langid.identify("dziękuję") == "pl"
    assert langid.identify("spedizione") == "it"


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


@pytest.mark.parametrize(
    "text",
    ["Wann kommt meine Bestellung endlich an?", "Where is my order", "je voudrais un remboursement",
     "Zet alle wekkers uit voor morgen", "obrigado pela ajuda"],
)
def test_one_pass_over_all_languages_equals_a_model_restricted_to_the_catalog(text: str) -> None:
    # Renormalising the full softmax over the catalog's languages is the restricted softmax, so
    # the identifier and the outside check can share one py3langid pass per message.
    from py3langid.langid import MODEL_FILE
    from py3langid.langid import LanguageIdentifier as NaiveBayes

    restricted = NaiveBayes.from_model_file(MODEL_FILE, norm_probs=True)
    restricted.set_languages(LANGS)
    expected_lang, expected_p = restricted.classify(text)
    lang, p = LanguageIdentifier(LANGS, "en")._detect(text)
    assert lang == expected_lang
    assert p == pytest.approx(expected_p, abs=1e-4)


def test_the_identifier_and_the_outside_check_share_one_pass() -> None:
    probabilities = LanguageProbabilities()
    langid = LanguageIdentifier(["en", "de"], "en", probabilities=probabilities)
    outside = OutsideCatalogLanguages({"en"}, probabilities)
    text = "Wann kommt meine Bestellung endlich an?"
    assert langid.identify(text) == "de"
    first = probabilities.of(text)
    assert outside.outside(text)
    assert probabilities.of(text) is first  # the second question reused the first pass


def test_a_message_in_a_thin_catalog_language_is_told_apart() -> None:
    catalog = OutsideCatalogLanguages({"en", "de", "zh"}, thin={"de", "zh"})
    assert catalog.thin("Ich möchte meine Bestellung stornieren, bitte", "de")
    assert catalog.thin("我想取消我的订单", "zh")
    assert not catalog.thin("I would like to cancel my order, please", "en")
    assert not catalog.thin("Danke", "de")  # short: its language is a guess, the catalog path answers
    assert not catalog.outside("Ich möchte meine Bestellung stornieren, bitte")  # thin is not outside
