"""py3langid's one pass per message serves both the identifier and the outside check."""

from __future__ import annotations

import pytest

from edge_node.langid import LanguageIdentifier, LanguageProbabilities, OutsideCatalogLanguages
from edge_node.langid.py3langid_backend import Py3LangidDetector

LANGS = ["en", "de", "fr", "es", "it", "pt", "nl", "pl", "zh", "ar"]


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
    lang, p = Py3LangidDetector(LANGS).detect(text)
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


@pytest.mark.parametrize(
    "text",
    ["Wann kommt meine Bestellung endlich an?", "Where is my order 10234?", "Срочно верните деньги",
     "我的订单在哪里", "ok", "Hoe was ik mijn regenjas?"],
)
def test_the_probabilities_read_by_column_are_py3langids_own_ranking(text: str) -> None:
    # Serving reads py3langid's score vector by column instead of its sorted (language, probability)
    # list; both must say the same of every language, aliases folded into one label.
    from py3langid.langid import MODEL_FILE
    from py3langid.langid import LanguageIdentifier as NaiveBayes

    from edge_node.langid._scripts import NUMBERS

    expected = dict(NaiveBayes.from_model_file(MODEL_FILE, norm_probs=True).rank(NUMBERS.sub(" ", text)))
    ranked = LanguageProbabilities().ranked(text)
    assert [code for code, _ in ranked][:3] == list(expected)[:3]
    assert dict(ranked) == pytest.approx(expected, abs=1e-7)
    assert sum(p for _, p in ranked) == pytest.approx(1.0, abs=1e-4)


def test_a_tie_between_catalog_languages_goes_to_the_greater_code_as_before() -> None:
    # Text without a single byte n-gram py3langid knows (digits are dropped first) gets the uniform
    # distribution.
    detector = Py3LangidDetector(["en", "de", "pt"])
    lang, p = detector.detect("12345")
    assert (lang, p) == ("pt", pytest.approx(1 / 3))
