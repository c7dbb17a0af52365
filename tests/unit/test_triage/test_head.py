"""The intent head: a regression for the catalog's languages, a class-mean vote added for others."""

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


def test_in_another_language_a_rare_intent_still_wins_its_own_examples() -> None:
    # 40 examples against 3: the balanced regression and the class mean keep the rare one reachable.
    x, labels = _clusters(1, {"weather": 40, "snooze_alarm": 3})
    head = train_intent_head(x, labels)
    rare = [i for i, label in enumerate(labels) if label == "snooze_alarm"]
    votes = head.probabilities(x[rare], transfer=True).argmax(axis=1)
    assert all(head.classes[int(k)] == "snooze_alarm" for k in votes)


def test_the_transfer_path_adds_cosines_to_the_class_means_to_a_balanced_regression() -> None:
    from sklearn.linear_model import LogisticRegression

    x, labels = _clusters(4, {"a": 10, "b": 10, "c": 6})
    head = train_intent_head(x, labels)
    regression = LogisticRegression(C=100.0, max_iter=3000, class_weight="balanced").fit(x, labels)
    means = np.stack([x[np.asarray(labels) == c].mean(axis=0) for c in head.classes])
    means /= np.linalg.norm(means, axis=1, keepdims=True)
    logits = x @ regression.coef_.T + regression.intercept_ + (x @ means.T) / 0.05
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(head.probabilities(x, transfer=True), expected, rtol=1e-3, atol=1e-5)
    assert not np.allclose(head.probabilities(x), head.probabilities(x, transfer=True))


def test_saved_head_gives_the_same_probabilities() -> None:
    x, labels = _clusters(2, {"a": 10, "b": 10})
    head = train_intent_head(x, labels)
    assert head.transfer is not None
    loaded = IntentHead.from_arrays(head.to_arrays())
    np.testing.assert_array_equal(loaded.probabilities(x), head.probabilities(x))
    np.testing.assert_array_equal(loaded.probabilities(x, transfer=True), head.probabilities(x, transfer=True))


def test_a_head_saved_without_a_transfer_path_answers_every_language_with_its_regression() -> None:
    x, labels = _clusters(3, {"a": 10, "b": 10})
    head = train_intent_head(x, labels)
    arrays = head.to_arrays()
    del arrays["transfer_weights"], arrays["transfer_bias"]
    legacy = IntentHead.from_arrays(arrays)
    np.testing.assert_array_equal(legacy.probabilities(x, transfer=True), legacy.probabilities(x))
    logits = x @ head.weights.T + head.bias
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(legacy.probabilities(x), expected, rtol=1e-5)
