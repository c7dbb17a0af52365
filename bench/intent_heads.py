"""Candidate intent heads over the served encoder's embeddings, side by side (issue #23's groundwork).

What a better head could reach before any of it is built into bundles: the same int8 embeddings
the edge serves, heads from scikit-learn, on the dev protocols of ``../shared/data/README.md``:

- Banking77, stratified folds of ``train.csv`` (the bench's fold split): arg-max accuracy.
- CLINC150 ``train`` -> ``val`` + ``oos_val``: arg-max in-scope accuracy, and in-scope accuracy
  when the out-of-scope threshold is set so that 88% of ``oos_val`` is rejected. That threshold is
  picked on the evaluation rows themselves, so it is a ceiling (an oracle), not an operating point.

Heads: the edge's logistic regression (C=10); the same with word (1-2) and character (2-5) TF-IDF
features beside the embedding; a 512-unit MLP; out-of-scope scores from the maximum probability,
Mahalanobis distance to the class means (shared covariance), and both z-scored and summed.

Usage: python bench/intent_heads.py [--folds 2] [--out docs/intent_heads.json]
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import msgspec  # noqa: E402
import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from bench.quality import DATA  # noqa: E402
from triage.cpu import cpu_info, describe  # noqa: E402
from triage.progress import progress_bar  # noqa: E402

OOS_RECALL = 0.88


def _encoder() -> Any:
    from triage.encoder.build import ENCODER_FILE, TOKENIZER_FILE, cached_encoder
    from triage.encoder.runtime import Encoder

    folder = cached_encoder()
    return Encoder(folder / ENCODER_FILE, folder / TOKENIZER_FILE)


def _features(kind: str, train_text: list[str], test_text: list[str], x_train: Any, x_test: Any) -> tuple[Any, Any]:
    if kind == "embedding":
        return x_train, x_test
    from scipy.sparse import csr_matrix, hstack
    from sklearn.feature_extraction.text import TfidfVectorizer

    words = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2)
    a = hstack([csr_matrix(x_train), words.fit_transform(train_text), chars.fit_transform(train_text)]).tocsr()
    b = hstack([csr_matrix(x_test), words.transform(test_text), chars.transform(test_text)]).tocsr()
    return a, b


def _fit(head: str, x: Any, y: Any) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if head == "mlp":
            return MLPClassifier(hidden_layer_sizes=(512,), alpha=1e-3, max_iter=200, random_state=0).fit(x, y)
        return LogisticRegression(C=10.0, max_iter=3000).fit(x, y)


HEADS = {"logistic regression (the edge's)": ("embedding", "lr"),
         "logistic regression + TF-IDF words and characters": ("tfidf", "lr"),
         "MLP, 512 units": ("embedding", "mlp")}


def banking77(encoder: Any, folds: int, progress: Any) -> dict[str, float]:
    with (DATA / "banking77" / "train.csv").open(newline="", encoding="utf-8") as fh:
        rows = [(r["text"], r["category"]) for r in csv.DictReader(fh)]
    texts = [t for t, _ in rows]
    y = np.asarray([label for _, label in rows])
    x = encoder.encode(texts)
    by_label: dict[str, list[int]] = {}
    for i, label in enumerate(y):
        by_label.setdefault(str(label), []).append(i)
    fold_of = np.zeros(len(y), dtype=int)
    for indices in by_label.values():  # the split of bench/fine_intents.py
        random.Random(0).shuffle(indices)
        for k, i in enumerate(indices):
            fold_of[i] = k % 5
    task = progress.add_task("Banking77 heads x folds", total=len(HEADS) * folds)
    out = {}
    for name, (features, head) in HEADS.items():
        accuracies = []
        for fold in range(folds):
            train, test = fold_of != fold, fold_of == fold
            a, b = _features(features, [texts[i] for i in np.flatnonzero(train)],
                             [texts[i] for i in np.flatnonzero(test)], x[train], x[test])
            accuracies.append(float((_fit(head, a, y[train]).predict(b) == y[test]).mean()))
            progress.advance(task)
        out[name] = float(np.mean(accuracies))
    return out


def _at_recall(in_scores: Any, out_scores: Any, correct: Any, recall: float) -> float:
    """In-scope accuracy when the threshold rejects ``recall`` of the out-of-scope rows (high score: in scope)."""
    threshold = float(np.quantile(out_scores, recall))
    return float(((in_scores > threshold) & correct).mean())


def _mahalanobis(x_train: Any, y_train: Any, classes: Any) -> Any:
    means = np.stack([x_train[y_train == c].mean(axis=0) for c in classes])
    centred = x_train - means[np.searchsorted(classes, y_train)]
    precision = np.linalg.inv(np.cov(centred.T) + 1e-3 * np.eye(x_train.shape[1]))
    constant = ((means @ precision) * means).sum(axis=1)

    def score(z: Any) -> Any:  # minus the distance to the nearest class mean
        zp = z @ precision
        return -((zp * z).sum(axis=1)[:, None] - 2 * zp @ means.T + constant[None]).min(axis=1)

    return score


def clinc150(encoder: Any, progress: Any) -> dict[str, dict[str, float]]:
    data = json.loads((DATA / "clinc150" / "data_full_trainval.json").read_text(encoding="utf-8"))
    train_text = [t for t, _ in data["train"]]
    y_train = np.asarray([label for _, label in data["train"]])
    val_text = [t for t, _ in data["val"]]
    y_val = np.asarray([label for _, label in data["val"]])
    oos_text = [t for t, _ in data["oos_val"]]
    x_train, x_val, x_oos = (encoder.encode(t) for t in (train_text, val_text, oos_text))
    task = progress.add_task("CLINC150 heads", total=len(HEADS))
    out: dict[str, dict[str, float]] = {}
    maha = _mahalanobis(x_train, y_train, np.unique(y_train))
    m_val, m_oos = maha(x_val), maha(x_oos)
    for name, (features, head) in HEADS.items():
        a, b = _features(features, train_text, val_text + oos_text, x_train, np.vstack([x_val, x_oos]))
        model = _fit(head, a, y_train)
        probabilities = model.predict_proba(b)
        p_val, p_oos = probabilities[: len(val_text)], probabilities[len(val_text):]
        correct = model.classes_[p_val.argmax(axis=1)] == y_val
        top_val, top_oos = p_val.max(axis=1), p_oos.max(axis=1)

        def z(values: Any, ref: Any) -> Any:
            return (values - ref.mean()) / ref.std()

        combined_val = z(top_val, top_val) + z(m_val, m_val)
        combined_oos = z(top_oos, top_val) + z(m_oos, m_val)
        out[name] = {"argmax": float(correct.mean()),
                     "max_probability": _at_recall(top_val, top_oos, correct, OOS_RECALL),
                     "mahalanobis": _at_recall(m_val, m_oos, correct, OOS_RECALL),
                     "both": _at_recall(combined_val, combined_oos, correct, OOS_RECALL)}
        progress.advance(task)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--folds", type=int, default=2, help="Banking77 folds of the 5 to run (5: all)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    started = time.perf_counter()
    encoder = _encoder()
    with progress_bar() as progress:
        banking = banking77(encoder, args.folds, progress)
        clinc = clinc150(encoder, progress)
    table = Table(title=f"Intent heads over the served int8 embeddings (Banking77 {args.folds} of 5 folds; CLINC150 "
                        f"val, out-of-scope threshold at {OOS_RECALL:.0%} recall picked on val: a ceiling)")
    for col in ("head", "Banking77 arg-max", "CLINC arg-max", "CLINC in-scope: max prob", "Mahalanobis", "both"):
        table.add_column(col, justify="right")
    for name in HEADS:
        c = clinc[name]
        table.add_row(name, f"{banking[name]:.4f}", f"{c['argmax']:.4f}", f"{c['max_probability']:.4f}",
                      f"{c['mahalanobis']:.4f}", f"{c['both']:.4f}")
    Console(width=200).print(table)
    print(f"bars of #23: Banking77 >= 0.93 (after rejections), CLINC in-scope >= 0.95 at out-of-scope recall >= 0.88; "
          f"{time.perf_counter() - started:.0f} s")
    print(describe())
    if args.out:
        Path(args.out).write_text(json.dumps({"cpu": msgspec.to_builtins(cpu_info()), "banking77_folds": args.folds,
                                              "banking77": banking, "clinc150": clinc}, indent=2) + "\n")


if __name__ == "__main__":
    main()
