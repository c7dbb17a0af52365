"""Train the intent head and fit the out-of-scope thresholds on the catalog's own examples."""

from __future__ import annotations

import warnings
from collections import Counter
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from triage.bundle.density import DENSITY_MIN_EXAMPLES_PER_DIMENSION, ClassDensity
from triage.bundle.layout import Calibration, CatalogScope
from triage.bundle.ngrams import NgramVocabulary, NgramWeights

if TYPE_CHECKING:
    from numpy.typing import NDArray
    from scipy.sparse import spmatrix

__all__ = ["OOS_LABEL", "HeldOut", "IntentHead", "fit_calibration", "fit_catalog_scope",
           "held_out_confidence", "reads_density", "reads_ngrams", "train_intent_head"]

OOS_LABEL = "oos"
# Share of in-scope catalog examples we accept to reject as out of scope when fitting
# the thresholds: low, because a wrongly rejected shopper costs more than a clarify.
_IN_SCOPE_REJECT_RATE = 0.005
_REGULARISATION_C = 10.0
_TRANSFER_C = 100.0
# Examples an intent (the catalog's median) from which the regression reads n-grams: with ~10 an
# intent they learn the catalog's phrasing instead of the intent (the demo catalog, 7 an intent, on
# shoppers' messages 0.688 -> 0.649; xSID nl/tr 0.880/0.913 -> 0.860/0.893), with ~100 they add half
# a point to a point (Banking77 and CLINC150; docs/benchmarks.md, fourteenth session).
NGRAM_MIN_EXAMPLES = 30
# Cosine temperature of the class-mean vote: class means sit 0.1-0.3 apart in cosine, so the
# vote's logits span a few units, like the regression's.
_CENTROID_TEMPERATURE = 0.05


def _softmax(logits: NDArray[np.float32]) -> NDArray[np.float32]:
    logits -= logits.max(axis=-1, keepdims=True)
    np.exp(logits, out=logits)
    logits /= logits.sum(axis=-1, keepdims=True)
    return logits


class IntentHead:
    """Logistic regression on the embedding (or on the encoder's adapted output, ``adapted``, with
    the message's n-grams beside it, ``ngrams``), plus a nearest-class-mean vote over the embedding
    for other languages.

    For a message in a language the catalog has examples in, the regression alone decides, as
    it was fitted to. For a language the catalog has no examples in (an English-only catalog
    asked in Dutch), the cosines to each class mean over a temperature are added to the
    regression's logits: class means carry over to an untrained language better than a
    regression fitted on English alone, because a translated message moves away from the
    English examples in directions the regression can weigh heavily. xSID with an English-only
    catalog at the out-of-scope operating point: de/it/nl/tr/zh 0.81/0.87/0.71/0.79/0.81 with the
    regression alone (docs/benchmarks.md has the numbers with the vote). The vote is kept out of
    the catalog's own languages because it makes the head confident on in-domain messages of
    intents the catalog lacks, which should escalate (the learning loop's pass 1 edge share went
    from 0.68 to 0.86 and its accuracy fell from 0.81 to 0.63).
    """

    def __init__(
        self,
        weights: NDArray[np.float32],
        bias: NDArray[np.float32],
        classes: list[str],
        transfer: tuple[NDArray[np.float32], NDArray[np.float32]] | None = None,
        adapted: bool = False,
        embedding_regression: tuple[NDArray[np.float32], NDArray[np.float32]] | None = None,
        ngrams: NgramWeights | None = None,
        density: ClassDensity | None = None,
    ) -> None:
        self.weights = weights
        self.bias = bias
        self.classes = classes
        self.transfer = transfer
        """(weights, bias) for languages without examples: the class-mean cosines over the
        temperature, folded into a class-balanced regression's weights (one GEMV either way)."""
        self.adapted = adapted
        """The regression (``weights``, ``bias``) reads the encoder's ``adapted`` output, its last
        layers trained on the catalog's intents (``triage.bundle.adapter``); the transfer path reads
        the embedding either way."""
        self.embedding_regression = embedding_regression
        """For an adapted head: the regression over the embedding, which checks a thin language's vote."""
        self.ngrams = ngrams
        """The regression's weights on the message's word and character n-grams (``triage.bundle.ngrams``),
        fitted with ``weights``: the catalog path adds them, the transfer path has none."""
        self.density = density
        """Class means and shared covariance of what the catalog regression reads (the adapted output):
        the catalog path's out-of-scope score reads the distance to the nearest intent."""

    def probabilities(self, x: NDArray[np.float32], *, transfer: bool = False,
                      texts: list[str] | None = None) -> NDArray[np.float32]:
        """``transfer``: the message's language has no examples in the catalog, or too few
        (``thin_language_share``); ``x`` is then the embedding, else what the regression reads
        (the ``adapted`` output where ``self.adapted``). ``texts``: the messages of ``x``, whose
        n-grams the catalog regression reads where the head has them."""
        if transfer and self.transfer is not None:
            weights, bias = self.transfer
            return _softmax(x @ weights.T + bias)
        if transfer and self.adapted:  # its regression reads another space than the embedding
            raise ValueError("this adapted head has no transfer path for the embedding: rebuild the bundle")
        logits = x @ self.weights.T + self.bias
        if self.ngrams is not None:
            if texts is None or len(texts) != len(x):
                raise ValueError("this head also reads the messages' n-grams: pass their texts")
            logits += self.ngrams.logits(texts)
        return _softmax(logits)

    def embedding_probabilities(self, embeddings: NDArray[np.float32]) -> NDArray[np.float32]:
        """The catalog regression over the embedding (the thin-language check), adapted head or not."""
        if not self.adapted:
            return self.probabilities(embeddings)
        if self.embedding_regression is None:
            raise ValueError("this adapted head has no regression over the embedding: rebuild the bundle")
        weights, bias = self.embedding_regression
        return _softmax(embeddings @ weights.T + bias)

    def to_arrays(self) -> dict[str, NDArray[np.generic]]:
        arrays: dict[str, NDArray[np.generic]] = {
            "weights": self.weights, "bias": self.bias, "classes": np.asarray(self.classes),
        }
        if self.transfer is not None:
            arrays["transfer_weights"], arrays["transfer_bias"] = self.transfer
        if self.adapted:
            arrays["adapted"] = np.asarray(True)
        if self.embedding_regression is not None:
            arrays["embedding_weights"], arrays["embedding_bias"] = self.embedding_regression
        if self.ngrams is not None:
            arrays.update(self.ngrams.to_arrays())
        if self.density is not None:
            arrays.update(self.density.to_arrays())
        return arrays

    @classmethod
    def from_arrays(cls, arrays: dict[str, NDArray[np.generic]]) -> IntentHead:
        transfer = None
        if "transfer_weights" in arrays:
            transfer = (np.asarray(arrays["transfer_weights"], dtype=np.float32),
                        np.asarray(arrays["transfer_bias"], dtype=np.float32))
        return cls(
            np.asarray(arrays["weights"], dtype=np.float32),
            np.asarray(arrays["bias"], dtype=np.float32),
            [str(c) for c in arrays["classes"]],
            transfer,
            bool(arrays["adapted"]) if "adapted" in arrays else False,
            (np.asarray(arrays["embedding_weights"], dtype=np.float32),
             np.asarray(arrays["embedding_bias"], dtype=np.float32)) if "embedding_weights" in arrays else None,
            NgramWeights.from_arrays(arrays),
            ClassDensity.from_arrays(arrays),
        )


def _class_means(x: NDArray[np.float32], labels: list[str], classes: list[str]) -> NDArray[np.float32]:
    y = np.asarray(labels)
    means = np.stack([x[y == c].mean(axis=0) for c in classes]).astype(np.float32)
    means /= np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)
    return means


def _regression(x: NDArray[np.float32] | spmatrix, labels: list[str], c: float,
                balanced: bool) -> tuple[NDArray[np.float32], NDArray[np.float32], list[str]]:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, max_iter=3000, class_weight="balanced" if balanced else None)
    model.fit(x, labels)
    weights = np.asarray(model.coef_, dtype=np.float32)
    bias = np.asarray(model.intercept_, dtype=np.float32)
    if weights.shape[0] == 1:  # sklearn keeps one row for two classes; make it a softmax pair
        weights = np.vstack([-weights / 2, weights / 2])
        bias = np.concatenate([-bias / 2, bias / 2])
    return weights, bias, [str(c) for c in model.classes_]


def _fit(x: NDArray[np.float32], labels: list[str], *, transfer: bool = True) -> IntentHead:
    classes = sorted(set(labels))
    if len(classes) == 1:
        dim = x.shape[1]
        return IntentHead(np.zeros((1, dim), np.float32), np.zeros(1, np.float32), classes)
    weights, bias, names = _regression(x, labels, _REGULARISATION_C, balanced=False)
    if not transfer:
        return IntentHead(weights, bias, names)
    # The transfer path: balanced (a catalog's intents have very different example counts, xSID
    # 1 to 40, and a rare one should not lose every close call in a language it was never seen
    # in) and less regularised, its logits summed with the class-mean vote's.
    t_weights, t_bias, t_names = _regression(x, labels, _TRANSFER_C, balanced=True)
    assert t_names == names
    t_weights = t_weights + _class_means(x, labels, names) / np.float32(_CENTROID_TEMPERATURE)
    return IntentHead(weights, bias, names, (t_weights.astype(np.float32), t_bias))


def reads_ngrams(labels: list[str]) -> bool:
    """Whether a catalog with these example labels gets n-grams beside the adapted layers."""
    counts = [n for label, n in Counter(labels).items() if label != OOS_LABEL]
    return bool(counts) and float(np.median(counts)) >= NGRAM_MIN_EXAMPLES


def _ngram_regression(
    x: NDArray[np.float32], texts: list[str], labels: list[str],
) -> tuple[NDArray[np.float32], NDArray[np.float32], list[str], NgramWeights | None]:
    """The catalog regression over ``x`` and the examples' n-grams side by side (each n-gram family
    of unit length, as ``x`` is); without any n-gram seen twice, over ``x`` alone."""
    vocabulary = NgramVocabulary.fit(texts)
    if not len(vocabulary):
        return (*_regression(x, labels, _REGULARISATION_C, balanced=False), None)
    import scipy.sparse as sp

    pointers, indices, values = vocabulary.matrix(texts)
    grams = sp.csr_matrix((values, indices, pointers), shape=(len(texts), len(vocabulary)))
    weights, bias, names = _regression(sp.hstack([sp.csr_matrix(x), grams]).tocsr(), labels,
                                       _REGULARISATION_C, balanced=False)
    dim = x.shape[1]
    return (np.ascontiguousarray(weights[:, :dim]), bias, names,
            NgramWeights(vocabulary, np.ascontiguousarray(weights[:, dim:].T)))


def reads_density(labels: list[str], dim: int) -> bool:
    """Whether a catalog with these example labels gets the class density over ``dim`` adapted features."""
    return sum(label != OOS_LABEL for label in labels) >= DENSITY_MIN_EXAMPLES_PER_DIMENSION * dim


def _density(x: NDArray[np.float32], labels: list[str]) -> ClassDensity:
    keep = np.asarray([label != OOS_LABEL for label in labels], dtype=bool)
    return ClassDensity.fit(x[keep], [label for label, k in zip(labels, keep, strict=True) if k])


def train_intent_head(x: NDArray[np.float32], labels: list[str],
                      adapted_x: NDArray[np.float32] | None = None, texts: list[str] | None = None, *,
                      density: bool = False) -> IntentHead:
    """The head over the examples' embeddings ``x``; with ``adapted_x`` (the encoder's adapted
    output for the same examples) the catalog regression reads that instead, with ``texts``
    (the examples) their n-grams beside it, and with ``density`` the class density of ``adapted_x``."""
    head = _fit(x, labels)
    if adapted_x is None or len(head.classes) < 2:
        return head
    if texts is None:
        weights, bias, names = _regression(adapted_x, labels, _REGULARISATION_C, balanced=False)
        ngrams = None
    else:
        weights, bias, names, ngrams = _ngram_regression(adapted_x, texts, labels)
    assert names == head.classes
    return IntentHead(weights, bias, names, head.transfer, adapted=True,
                      embedding_regression=(head.weights, head.bias), ngrams=ngrams,
                      density=_density(adapted_x, labels) if density else None)


def _out_of_fold_confidence(x: NDArray[np.float32], labels: list[str]) -> NDArray[np.float32] | None:
    """Probability each in-scope example gets for its own label from a head that never saw it."""
    counts = Counter(labels)
    folds = min(5, min(counts.values()))
    if folds < 2 or len(counts) < 2:
        return None
    from sklearn.model_selection import StratifiedKFold

    y = np.asarray(labels)
    out = np.zeros(len(labels), dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for train, test in StratifiedKFold(folds, shuffle=True, random_state=0).split(x, y):
            if len(set(y[train])) < 2:
                return None
            # The thresholds are fitted on the catalog's own languages: the regression alone.
            head = _fit(x[train], list(y[train]), transfer=False)
            probs = head.probabilities(x[test])
            out[test] = probs.max(axis=1)
    in_scope: NDArray[np.float32] = out[y != OOS_LABEL]
    return in_scope


def _leave_one_out_similarity(x: NDArray[np.float32], groups: list[str]) -> NDArray[np.float32]:
    """Cosine of each row to its nearest other row of the same group (exact duplicates excluded)."""
    y = np.asarray(groups)
    best = np.full(len(groups), -1.0, dtype=np.float32)
    for group in set(groups):
        rows = np.flatnonzero(y == group)
        if len(rows) < 2:
            continue
        sims = x[rows] @ x[rows].T
        sims[sims > 0.9999] = -1.0  # itself and verbatim duplicates
        best[rows] = sims.max(axis=1)
    return best[best > -1.0]


class HeldOut(NamedTuple):
    """What a head fitted without them says of held-out in-scope catalog examples."""

    confidence: NDArray[np.float32]
    """Top probability of each example."""
    distance: NDArray[np.float32] | None = None
    """Distance of each example to the nearest class mean (a head with a class density)."""


def held_out_confidence(train_x: NDArray[np.float32], train_labels: list[str],
                        held_x: NDArray[np.float32], held_labels: list[str], *,
                        train_texts: list[str] | None = None,
                        held_texts: list[str] | None = None, density: bool = False) -> HeldOut | None:
    """The regression fitted on the rest, on each in-scope held-out example.

    For an adapted head the out-of-fold confidence is no measure: the layers under it were trained
    on every example, so each fold's regression is surer of them than the head will be of a new
    message, and the threshold rejects good ones (docs/benchmarks.md, thirteenth session). With the
    texts, the regression reads their n-grams too, its vocabulary drawn from the training part;
    with ``density``, the class density of the training part measures the distances."""
    if len(set(train_labels)) < 2:
        return None
    keep = np.asarray([label != OOS_LABEL for label in held_labels], dtype=bool)
    if not keep.any():
        return None
    if train_texts is None or held_texts is None:
        head = _fit(train_x, train_labels, transfer=False)
        texts = None
    else:
        weights, bias, names, ngrams = _ngram_regression(train_x, train_texts, train_labels)
        head = IntentHead(weights, bias, names, ngrams=ngrams)
        texts = [t for t, k in zip(held_texts, keep, strict=True) if k]
    confidence: NDArray[np.float32] = head.probabilities(held_x[keep], texts=texts).max(axis=1)
    distance = _density(train_x, train_labels).distances(held_x[keep]) if density else None
    return HeldOut(confidence, distance)


def fit_catalog_scope(held: HeldOut) -> CatalogScope | None:
    """The catalog score's standardisation and the threshold below which 1% of the held-out
    in-scope examples fall, as the probability's own rule. Summing the two halves moves the out-of-scope
    messages below it, not the in-scope ones: CLINC150 val at this rule 0.952 / 0.84 with the
    probability alone, 0.954 / 0.91 with the sum (docs/benchmarks.md, fifteenth session)."""
    if held.distance is None or len(held.confidence) < 2:
        return None
    p_mean, p_std = float(held.confidence.mean()), max(float(held.confidence.std()), 1e-6)
    d_mean, d_std = float(held.distance.mean()), max(float(held.distance.std()), 1e-6)
    scores = (held.confidence - p_mean) / p_std + (d_mean - held.distance) / d_std
    return CatalogScope(p_mean, p_std, d_mean, d_std, min_score=round(float(np.quantile(scores, 0.01)), 4))


def fit_calibration(
    intent_x: NDArray[np.float32],
    intent_labels: list[str],
    faq_x: NDArray[np.float32],
    faq_ids: list[str],
    held_out: HeldOut | None = None,
) -> Calibration:
    """Thresholds at which only ``_IN_SCOPE_REJECT_RATE`` of held-out catalog examples fall short.

    ``intent_x`` are the examples' embeddings (the similarity floor compares a message's embedding
    with them, and the out-of-fold regressions here measure the head's confidence over them);
    ``held_out`` that confidence where the build measured it otherwise (an adapted head's,
    ``held_out_confidence``), with the class density's distances where the head has one
    (``fit_catalog_scope``).
    """
    in_scope = [label != OOS_LABEL for label in intent_labels]
    sims = _leave_one_out_similarity(intent_x[np.asarray(in_scope, dtype=bool)],
                                     [lab for lab, keep in zip(intent_labels, in_scope, strict=True) if keep])
    min_sim = float(np.quantile(sims, _IN_SCOPE_REJECT_RATE)) if len(sims) else 0.5
    confidence = held_out.confidence if held_out is not None else _out_of_fold_confidence(intent_x, intent_labels)
    min_prob = float(np.quantile(confidence, 0.01)) if confidence is not None and len(confidence) else 0.3
    faq_sims = _leave_one_out_similarity(faq_x, faq_ids) if len(faq_ids) else np.zeros(0, np.float32)
    faq_sim = float(np.quantile(faq_sims, 0.05)) if len(faq_sims) else 0.65
    return Calibration(
        # Floors only bind on tiny catalogs; they are low because a translated message sits
        # farther from English examples than the held-out English ones we calibrate on.
        intent_min_probability=round(float(np.clip(min_prob, 0.1, 0.5)), 4),
        intent_min_similarity=round(float(np.clip(min_sim, 0.2, 0.65)), 4),
        faq_min_similarity=round(float(np.clip(faq_sim, 0.55, 0.8)), 4),
        catalog_scope=fit_catalog_scope(held_out) if held_out is not None else None,
    )
