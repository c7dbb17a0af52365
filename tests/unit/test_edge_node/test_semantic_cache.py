"""The semantic answer cache: 120 hand-written pairs in 8 languages (negations, order ids, amounts,
dates, product names, true paraphrases). A cached answer for a question that differs in one of those
details is a wrong answer, so false hits must be zero; the hit rate on paraphrases is reported."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from edge_node.semantic_cache import SemanticCache, signature

PAIRS = [json.loads(line) for line in (Path(__file__).parents[2] / "data" / "semantic_cache_pairs.jsonl")
         .read_text(encoding="utf-8").splitlines()]


def _outcomes(encoder, min_similarity=0.8):
    outcomes = []
    for pair in PAIRS:
        cache = SemanticCache(min_similarity=min_similarity)
        cache.store(encoder.encode_one(pair["cached"]), pair["cached"], "cached answer", pair["lang"])
        hit = cache.lookup(encoder.encode_one(pair["query"]), pair["query"], pair["lang"]) is not None
        outcomes.append((pair, hit))
    return outcomes


def test_the_guard_set_is_large_and_multilingual():
    assert len(PAIRS) >= 100
    assert len({p["lang"] for p in PAIRS}) == 8
    assert Counter(p["kind"] for p in PAIRS).keys() >= {"negation", "order_id", "amount", "date", "product",
                                                        "paraphrase"}


def test_no_false_hits_and_paraphrases_hit(encoder):
    outcomes = _outcomes(encoder)
    false_hits = [p for p, hit in outcomes if hit and not p["same"]]
    paraphrase = [hit for p, hit in outcomes if p["same"]]
    rate = sum(paraphrase) / len(paraphrase)
    print(f"semantic cache: false hits {len(false_hits)} / {len(outcomes) - len(paraphrase)}, "
          f"paraphrase hit rate {rate:.2f} ({sum(paraphrase)}/{len(paraphrase)})")
    assert false_hits == []
    assert rate >= 0.5


def test_without_the_signature_guard_the_embedding_alone_would_serve_wrong_answers(encoder):
    near = [p for p in PAIRS if not p["same"]
            and float(encoder.encode_one(p["cached"]) @ encoder.encode_one(p["query"])) >= 0.8]
    assert len(near) >= 30, "the guard matters: many different questions look alike to the encoder"


@pytest.mark.parametrize(("a", "b"), [("Can I return it?", "Can't I return it?"),
                                      ("order A-1001", "order A-1002"), ("over 50 EUR", "over 50 USD"),
                                      ("on 3 March", "on 3 April"), ("the Alpine Jacket", "the Summit Jacket")])
def test_signatures_differ_on_the_details_that_change_the_answer(a, b):
    assert signature(a) != signature(b)


def test_entries_expire_and_a_new_catalog_drops_everything(encoder):
    cache = SemanticCache(min_similarity=0.8, ttl_s=60)
    vector = encoder.encode_one("Do you ship to Norway?")
    cache.store(vector, "Do you ship to Norway?", "Yes.", "en", now=1000.0)
    assert cache.lookup(vector, "Do you ship to Norway?", "en", now=1030.0) is not None
    assert cache.lookup(vector, "Do you ship to Norway?", "de", now=1030.0) is None
    assert cache.lookup(vector, "Do you ship to Norway?", "en", now=1061.0) is None
    cache.store(vector, "Do you ship to Norway?", "Yes.", "en")
    cache.invalidate("new-catalog-hash")
    assert len(cache) == 0
