"""The word and character n-grams the catalog regression reads beside the adapted layers."""

from __future__ import annotations

import csv
import unicodedata

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from edge_node.redaction import redact
from tests.conftest import shared_data
from triage.bundle.head import (
    NGRAM_MIN_EXAMPLES,
    OOS_LABEL,
    IntentHead,
    held_out_confidence,
    reads_ngrams,
    train_intent_head,
)
from triage.bundle.ngrams import NgramVocabulary, NgramWeights, message_ngrams


@pytest.fixture(scope="module")
def banking_texts() -> list[str]:
    with shared_data("banking77", "train.csv").open(newline="", encoding="utf-8") as fh:
        return [row["text"] for row in csv.DictReader(fh)][:3000]


def _nfkc_lower(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def test_the_vectors_are_scikit_learns_tfidf_of_words_and_characters_within_words(banking_texts: list[str]) -> None:
    train, test = banking_texts[:2500], [*banking_texts[2500:], "  Whitespace\tRUNS  and ünïcode, côté   "]
    vocabulary = NgramVocabulary.fit(train)
    words = TfidfVectorizer(ngram_range=(1, 2), min_df=2, preprocessor=_nfkc_lower).fit(train)
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), min_df=2, preprocessor=_nfkc_lower).fit(train)
    assert vocabulary.words == list(words.get_feature_names_out())
    assert vocabulary.chars == list(chars.get_feature_names_out())
    expected = sp.hstack([words.transform(test), chars.transform(test)]).toarray()
    pointers, indices, values = vocabulary.matrix(test)
    ours = sp.csr_matrix((values, indices, pointers), shape=expected.shape).toarray()
    np.testing.assert_allclose(ours, expected, atol=1e-6)


def test_a_word_and_a_character_ngram_of_the_same_letters_stay_two_features() -> None:
    vocabulary = NgramVocabulary.fit(["top up", "top up now"])
    assert "top" in vocabulary.words and "top" in vocabulary.chars
    rows, values = vocabulary.vector("top")
    word, char = vocabulary.words.index("top"), len(vocabulary.words) + vocabulary.chars.index("top")
    assert {word, char} <= set(rows.tolist())
    assert np.all(values > 0)


def test_a_message_with_no_known_ngram_adds_nothing_to_the_logits() -> None:
    vocabulary = NgramVocabulary.fit(["where is my card", "where is my card now"])
    weights = NgramWeights(vocabulary, np.ones((len(vocabulary), 3), dtype=np.float32))
    rows, values = vocabulary.vector("日本語")
    assert len(rows) == len(values) == 0
    np.testing.assert_array_equal(weights.logits(["日本語", ""]), np.zeros((2, 3), np.float32))


def test_a_word_counted_once_gives_the_same_vector_the_next_time(banking_texts: list[str]) -> None:
    vocabulary = NgramVocabulary.fit(banking_texts)
    first = [vocabulary.vector(t) for t in banking_texts[:200]]
    again = [vocabulary.vector(t) for t in banking_texts[:200]]
    for (rows, values), (rows2, values2) in zip(first, again, strict=True):
        np.testing.assert_array_equal(rows, rows2)
        np.testing.assert_array_equal(values, values2)


def test_message_ngrams_are_lower_case_words_pairs_and_padded_character_runs() -> None:
    words, chars = message_ngrams("Lost CARD")
    assert words == ["lost", "card", "lost card"]
    assert " lo" in chars and "card " in chars and " lost" in chars
    assert " lost " not in chars and "lost card" not in chars  # at most five characters, within a word


def _two_intents_one_word_apart() -> tuple[np.ndarray, list[str], list[str]]:
    """Both intents' examples sit on the same point of the dense space: only a word tells them apart."""
    rng = np.random.default_rng(0)
    point = rng.normal(size=16).astype(np.float32)
    point /= np.linalg.norm(point)
    lost = [f"my card is lost {w}" for w in ("today", "again", "somewhere", "in town", "at home", "now")]
    stolen = [f"my card was stolen {w}" for w in ("today", "again", "somewhere", "in town", "at home", "now")]
    return np.tile(point, (12, 1)), ["lost"] * 6 + ["stolen"] * 6, lost + stolen


def test_the_ngrams_tell_apart_intents_the_dense_features_cannot() -> None:
    x, labels, texts = _two_intents_one_word_apart()
    head = train_intent_head(x, labels, adapted_x=x, texts=texts)
    assert head.ngrams is not None
    new = ["I think my card is lost", "someone says my card was stolen"]
    probs = head.probabilities(x[:2], texts=new)
    assert [head.classes[i] for i in probs.argmax(axis=1)] == ["lost", "stolen"]
    plain = train_intent_head(x, labels, adapted_x=x)
    np.testing.assert_allclose(plain.probabilities(x[:2]), 0.5, atol=1e-3)  # without them: a coin


def test_a_head_with_ngrams_refuses_to_score_without_the_texts_and_survives_the_bundle() -> None:
    x, labels, texts = _two_intents_one_word_apart()
    head = train_intent_head(x, labels, adapted_x=x, texts=texts)
    with pytest.raises(ValueError, match="pass their texts"):
        head.probabilities(x)
    loaded = IntentHead.from_arrays(head.to_arrays())
    assert loaded.ngrams is not None and loaded.ngrams.vocabulary.words == head.ngrams.vocabulary.words
    # stored in half precision: the probabilities move in the third digit at most
    np.testing.assert_allclose(loaded.probabilities(x, texts=texts), head.probabilities(x, texts=texts), atol=2e-3)
    # the transfer path of other languages reads the embedding alone, n-grams or not
    np.testing.assert_array_equal(loaded.probabilities(x, transfer=True), head.probabilities(x, transfer=True))


def test_the_held_out_confidence_reads_the_ngrams_of_the_held_out_texts() -> None:
    x, labels, texts = _two_intents_one_word_apart()
    train = [i for i in range(12) if i % 6]
    held = [i for i in range(12) if not i % 6]
    with_texts = held_out_confidence(x[train], [labels[i] for i in train], x[held], [labels[i] for i in held],
                                     train_texts=[texts[i] for i in train], held_texts=[texts[i] for i in held])
    without = held_out_confidence(x[train], [labels[i] for i in train], x[held], [labels[i] for i in held])
    assert with_texts is not None and without is not None
    assert with_texts.confidence.min() > 0.6 and without.confidence.max() < 0.51


def test_a_decomposed_accent_and_full_width_letters_count_as_the_catalogs_own() -> None:
    vocabulary = NgramVocabulary.fit(["où est ma commande", "où est ma carte"])
    composed = vocabulary.vector("où est ma commande")
    for variant in (unicodedata.normalize("NFD", "où est ma commande"), "ｏù ｅｓｔ ma commande"):
        rows, values = vocabulary.vector(variant)
        np.testing.assert_array_equal(rows, composed[0])
        np.testing.assert_allclose(values, composed[1], rtol=1e-6)


def test_redaction_placeholders_of_learnt_examples_are_no_ngrams() -> None:
    """The learning loop adds redacted messages to the catalog; the live message has the number."""
    learnt = redact("my card 4111 1111 1111 1111 was charged twice, write to anna@example.com")
    assert "[card number]" in learnt and "[e-mail]" in learnt
    words, chars = message_ngrams(learnt + " " + redact("refund to DE89 3704 0044 0532 0130 00 please"))
    assert not {"number", "card number", "mail", "iban"} & set(words)
    assert "card" in words and "charged" in words
    assert not any("mai" in c or "umb" in c for c in chars)


def test_only_a_catalog_with_tens_of_examples_an_intent_weighs_its_words() -> None:
    few = ["a"] * 7 + ["b"] * 9 + [OOS_LABEL] * 500  # out-of-scope negatives are no intent's examples
    many = ["a"] * 100 + ["b"] * NGRAM_MIN_EXAMPLES + ["c"] * 12
    assert not reads_ngrams(few)
    assert reads_ngrams(many)
    assert not reads_ngrams([OOS_LABEL] * 100)
