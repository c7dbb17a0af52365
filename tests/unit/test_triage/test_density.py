"""The distance to the nearest intent, and the catalog score's threshold chosen on held-out examples."""

from __future__ import annotations

import numpy as np
import pytest

from triage.bundle.density import ClassDensity
from triage.bundle.head import OOS_LABEL, HeldOut, IntentHead, fit_catalog_scope, reads_density


def _clusters(seed: int = 0, per_class: int = 60, dim: int = 16) -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(3, dim)) * 3
    x = np.vstack([c + rng.normal(size=(per_class, dim)) * np.linspace(0.2, 2.0, dim) for c in centres])
    labels = [name for name in "abc" for _ in range(per_class)]
    return x.astype(np.float32), labels


def test_the_distance_is_the_squared_mahalanobis_distance_to_the_nearest_class_mean() -> None:
    x, labels = _clusters()
    density = ClassDensity.fit(x, labels)
    # 16 dimensions, fewer than the rank kept: the precision is the shrunk covariance's inverse itself
    y = np.asarray(labels)
    centred = x - density.means[np.searchsorted(np.asarray(["a", "b", "c"]), y)]
    covariance = centred.T.astype(np.float64) @ centred / (len(x) - 3)
    covariance += 0.1 * np.trace(covariance) / len(covariance) * np.eye(len(covariance))
    np.testing.assert_allclose(density.precision, np.linalg.inv(covariance), rtol=1e-4, atol=1e-4)
    queries = np.random.default_rng(1).normal(size=(20, x.shape[1])).astype(np.float32) * 3
    precision = density.precision.astype(np.float64)
    expected = np.min([[(q - m) @ precision @ (q - m) for m in density.means.astype(np.float64)] for q in queries],
                      axis=1)
    np.testing.assert_allclose(density.distances(queries), expected, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(density.means[1], x[y == "b"].mean(axis=0), atol=1e-5)


def test_in_many_dimensions_the_precision_keeps_the_directions_of_largest_variance() -> None:
    """Beyond the rank kept, a direction counts as having the shrinkage's variance alone: exact where
    its own variance is far below that (CLINC150's measured quality is in docs/benchmarks.md)."""
    rng = np.random.default_rng(3)
    spread = np.r_[np.linspace(3.0, 1.0, 40), np.full(88, 0.01)]
    x = (rng.normal(size=(4000, 128)) * spread).astype(np.float32)
    labels = ["a" if i % 2 else "b" for i in range(4000)]
    density = ClassDensity.fit(x, labels)
    assert density.basis.shape == (128, 64)
    exact = np.linalg.inv(np.cov(x.T) + 0.1 * np.trace(np.cov(x.T)) / 128 * np.eye(128))
    queries = (rng.normal(size=(50, 128)) * spread * 2).astype(np.float32)
    expected = np.min([[(q - m) @ exact @ (q - m) for m in density.means] for q in queries], axis=1)
    np.testing.assert_allclose(density.distances(queries), expected, rtol=0.02)


def test_a_message_unlike_every_intent_is_farther_than_any_of_theirs() -> None:
    x, labels = _clusters()
    density = ClassDensity.fit(x, labels)
    held, _ = _clusters(seed=2)  # other draws... of other clusters: nothing in common with the catalog
    own = density.distances(x)
    assert np.median(density.distances(held)) > np.quantile(own, 0.99)


def test_too_few_examples_for_the_covariance_still_fit_thanks_to_the_shrinkage() -> None:
    x, labels = _clusters(per_class=3, dim=32)  # 9 rows, 32 dimensions: a singular covariance
    assert np.isfinite(ClassDensity.fit(x, labels).distances(x)).all()
    assert not reads_density(["a"] * 1000 + [OOS_LABEL] * 2000, 512)  # negatives do not count
    assert reads_density(["a"] * 1024 + ["b"] * 1024, 512)


def test_the_head_keeps_its_density_through_the_bundle_arrays() -> None:
    x, labels = _clusters()
    head = IntentHead(np.zeros((3, x.shape[1]), np.float32), np.zeros(3, np.float32), ["a", "b", "c"],
                      adapted=True, density=ClassDensity.fit(x, labels))
    loaded = IntentHead.from_arrays(head.to_arrays())
    assert loaded.density is not None
    np.testing.assert_array_equal(loaded.density.distances(x), head.density.distances(x))  # type: ignore[union-attr]
    assert IntentHead.from_arrays({k: v for k, v in head.to_arrays().items() if not k.startswith("density")}
                                  ).density is None


def _held_out() -> HeldOut:
    rng = np.random.default_rng(0)
    confidence = np.clip(rng.normal(0.9, 0.1, 1000), 0, 1).astype(np.float32)
    return HeldOut(confidence, rng.normal(100, 10, 1000).astype(np.float32))


def test_the_catalog_score_rejects_one_in_a_hundred_held_out_examples() -> None:
    held = _held_out()
    scope = fit_catalog_scope(held)
    assert scope is not None and held.distance is not None
    scores = np.asarray([scope.score(float(p), float(d)) for p, d in zip(held.confidence, held.distance,
                                                                            strict=True)])
    assert (scores < scope.min_score).mean() == pytest.approx(0.01, abs=0.002)
    assert abs(scores.mean()) < 1e-3  # each half standardised on the held-out examples: their sum centres on 0
    # a sure message near an intent passes; as sure but far from every intent, it does not
    assert scope.score(0.99, 100.0) > scope.min_score > scope.score(0.99, 160.0)


def test_a_head_without_a_density_has_no_catalog_score() -> None:
    assert fit_catalog_scope(HeldOut(_held_out().confidence)) is None
