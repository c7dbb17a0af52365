"""The intent head: a class-balanced regression and a class-mean vote, as one log-linear model."""

from __future__ import annotations

import numpy as np

from triage.bundle.head import IntentHead, train_intent_head


def _clusters(seed: int, per_class: dict[str, int]) -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    centres = {name: rng.normal(size=32) for name in per_class}
    rows, labels = [], []
    for name, count in per_class.items():
        for _ in range(count):
            v = centres[name] + 0.6 * rng.normal(size=32)
            rows.append(v / np.linalg.norm(v))
            labels.append(name)
    return np.asarray(rows, dtype=np.float32), labels


def test_probabilities_are_a_distribution_over_the_catalog_intents() -> None:
    x, labels = _clusters(0, {"track_order": 20, "cancel_order": 20, "refund": 20})
    head = train_intent_head(x, labels)
    probs = head.probabilities(x)
    assert head.classes == ["cancel_order", "refund", "track_order"]
    assert probs.shape == (60, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert (np.asarray(head.classes)[probs.argmax(axis=1)] == np.asarray(labels)).mean() >= 0.95


def test_a_rare_intent_still_wins_its_own_examples() -> None:
    # 40 examples against 3: the balanced regression and the class mean keep the rare one reachable.
    x, labels = _clusters(1, {"weather": 40, "snooze_alarm": 3})
    head = train_intent_head(x, labels)
    rare = [i for i, label in enumerate(labels) if label == "snooze_alarm"]
    assert all(head.classes[int(k)] == "snooze_alarm" for k in head.probabilities(x[rare]).argmax(axis=1))


def test_the_vote_adds_cosines_to_the_class_means_to_the_regression_logits() -> None:
    x, labels = _clusters(4, {"a": 10, "b": 10, "c": 10})
    head = train_intent_head(x, labels)
    assert head.centroids is not None
    logits = x @ head.weights.T + head.bias + (x @ head.centroids.T) / 0.05
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(head.probabilities(x), expected, rtol=1e-4, atol=1e-6)


def test_saved_head_gives_the_same_probabilities() -> None:
    x, labels = _clusters(2, {"a": 10, "b": 10})
    head = train_intent_head(x, labels)
    assert head.centroids is not None
    loaded = IntentHead.from_arrays(head.to_arrays())
    np.testing.assert_array_equal(loaded.probabilities(x), head.probabilities(x))


def test_a_head_saved_before_class_means_loads_as_a_plain_regression() -> None:
    x, labels = _clusters(3, {"a": 10, "b": 10})
    head = train_intent_head(x, labels)
    arrays = head.to_arrays()
    del arrays["centroids"]
    legacy = IntentHead.from_arrays(arrays)
    logits = x @ head.weights.T + head.bias
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(legacy.probabilities(x), expected, rtol=1e-5)
