"""The encoder's last dense layers, adapted to a catalog's intents at build time.

The encoder pools a message into 512 features and turns them into its embedding with six dense
layers (``d0 p1 d1 d2 p3 d3`` of ``triage.encoder.graph``). Fine-grained intents (Banking77's 77,
CLINC150's 150) sit close together in the general-purpose embedding; a few epochs of
classification training on the catalog's examples, starting from the encoder's own weights,
pull them apart (docs/benchmarks.md has the measurements). Only these layers move: the pooled
features below them, and with them what the encoder shares across languages, stay as served.

The adapted layers feed the intent head's regression for the catalog's own languages (and for a
short message in the catalog's script, which language id cannot place, ``edge_node.langid``). FAQ
retrieval, the similarity floors, the semantic cache and the class-mean vote for other languages
keep the encoder's own embedding: a layer trained to tell intents apart also pulls two different
questions of one intent together, and trained on one language it moves that language's messages
away from the others' (xSID, English-only catalog: mean of seven languages 0.897 -> 0.881 when the
vote read the adapted layers too). The bundle's encoder runs the adapted copy beside the original
as another output, in int8 with a scale per output column (one scale per matrix, the encoder's
own recipe, moved the trained layers' output to cosine 0.97; a scale per column keeps 0.999).

The head's out-of-scope threshold needs its confidence on examples it never saw; the layers under
it saw every example, so a second copy trained without a fifth of them measures it.

Training is plain numpy differentiated by ``autograd``: six matrices do not need a deep learning
framework's download, and the build stays in the serving environment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np

from triage.bundle.head import OOS_LABEL
from triage.encoder.graph import HEAD_LAYERS
from triage.progress import progress_bar

if TYPE_CHECKING:
    from collections.abc import Mapping

    from numpy.typing import NDArray

__all__ = ["AdapterTraining", "apply_layers", "held_out_rows", "tune_adapter"]

_EPS = 1e-12
_CLASSES = "classes"
"""The trained vector per intent beside the layers: only the layers leave the build."""


class AdapterTraining(msgspec.Struct, frozen=True, kw_only=True):
    """How the layers are trained: classification over cosine similarity to a learnt vector per
    intent, Adam from the encoder's weights, a few passes over the examples. The defaults sit on
    the plateau of what was measured (docs/benchmarks.md, thirteenth session)."""

    epochs: int = 10
    """Passes over the examples; 20 over-fitted Banking77's folds."""
    step_size: float = 1e-4
    """Adam's step: small, so the layers stay near what the encoder shares across languages."""
    batch: int = 32
    scale: float = 20.0
    """Multiplies the cosines into logits: the classifier's temperature."""
    seed: int = 0
    """Orders the batches, so a catalog builds to the same bundle every time."""

    def describe(self) -> str:
        """Part of the bundle's cache key."""
        return f"adapter-cosine-ce-s{self.scale}-adam32-{self.step_size}-e{self.epochs}-b{self.batch}-seed{self.seed}"


def _forward(xp: Any, layers: Mapping[str, Any], features: NDArray[np.float32]) -> Any:
    """The layers as ``triage.encoder.graph`` wires them, on ``numpy`` or ``autograd.numpy`` (``xp``)."""

    def relu(v: Any) -> Any:
        return xp.maximum(v, 0.0)

    tanh = xp.tanh
    y0 = relu(features @ layers["d0"])
    y1 = relu(features @ layers["p1"] + y0 @ layers["d1"])
    y2 = relu(y1 @ layers["d2"])
    z = tanh(y1 @ layers["p3"] + y2 @ layers["d3"])
    return z / xp.sqrt(xp.maximum(xp.sum(z * z, axis=-1, keepdims=True), _EPS))


def apply_layers(layers: Mapping[str, NDArray[np.float32]], features: NDArray[np.float32]) -> NDArray[np.float32]:
    """The layers' unit-length output for each row of ``features`` [N, 512], in float32 numpy: what
    training reads (the served encoder runs an int8 copy of the layers, ``triage.encoder.build``)."""
    out: NDArray[np.float32] = _forward(np, layers, np.asarray(features, dtype=np.float32))
    return out.astype(np.float32, copy=False)


def held_out_rows(labels: list[str], every: int = 5, seed: int = 0) -> NDArray[np.bool_] | None:
    """One in ``every`` examples of each in-scope label that has at least ``every``, drawn with
    ``seed``: what a second adapter trained without them measures the head's confidence on
    (``None`` where no intent has enough examples). Out-of-scope negatives all train it: the
    threshold is measured on in-scope messages only."""
    rng = np.random.default_rng(seed)
    held = np.zeros(len(labels), dtype=bool)
    rows: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        rows.setdefault(label, []).append(i)
    for label in sorted(rows.keys() - {OOS_LABEL}):
        r = rows[label]
        if len(r) >= every:
            held[rng.choice(r, size=len(r) // every, replace=False)] = True
    if not held.any() or len({label for label, h in zip(labels, held, strict=True) if not h}) < 2:
        return None
    return held


def tune_adapter(features: NDArray[np.float32], labels: list[str], start: Mapping[str, NDArray[np.float32]],
                 training: AdapterTraining | None = None, *,
                 what: str = "adapting the encoder's last layers to the intents") -> dict[str, NDArray[np.float32]]:
    """Layers trained from ``start`` (the encoder's own) to classify ``features`` by ``labels``."""
    import autograd.numpy as anp
    from autograd import grad

    t = training or AdapterTraining()
    classes = sorted(set(labels))
    y = np.searchsorted(np.asarray(classes), np.asarray(labels))
    x = np.asarray(features, dtype=np.float32)
    params = {name: np.array(start[name], dtype=np.float32) for name in HEAD_LAYERS}  # copies: the loop updates them
    # Each intent's vector starts at the mean of its examples' embeddings: the first steps then
    # refine a classifier that already works instead of moving the layers towards random targets.
    embedded = _forward(np, params, x)
    params[_CLASSES] = np.stack([embedded[y == k].mean(axis=0) for k in range(len(classes))]).astype(np.float32)

    rng = np.random.default_rng(t.seed)
    batches = [order[i:i + t.batch] for order in (rng.permutation(len(x)) for _ in range(t.epochs))
               for i in range(0, len(x), t.batch)]
    onehot = np.eye(len(classes), dtype=np.float32)

    def loss(p: dict[str, Any], rows: NDArray[np.int64]) -> Any:
        e = _forward(anp, p, x[rows])
        c = p[_CLASSES]
        c = c / anp.sqrt(anp.sum(c * c, axis=1, keepdims=True) + _EPS)
        logits = t.scale * (e @ c.T)
        logits = logits - anp.max(logits, axis=1, keepdims=True)
        log_p = logits - anp.log(anp.sum(anp.exp(logits), axis=1, keepdims=True))
        return -anp.sum(log_p * onehot[y[rows]]) / len(rows)

    gradient = grad(loss)
    # Adam over the named arrays in float32: autograd's own ``adam`` keeps its moments in float64
    # and flattens every parameter into one vector per step, which made the products float64 and
    # the training twice as slow (docs/benchmarks.md, thirteenth session).
    first = {name: np.zeros_like(w) for name, w in params.items()}
    second = {name: np.zeros_like(w) for name, w in params.items()}
    b1, b2, eps = np.float32(0.9), np.float32(0.999), np.float32(1e-8)
    with progress_bar() as progress:
        task = progress.add_task(what, total=len(batches))
        for step, rows in enumerate(batches, start=1):
            g = gradient(params, rows)
            rate = np.float32(t.step_size * np.sqrt(1.0 - 0.999 ** step) / (1.0 - 0.9 ** step))
            for name, w in params.items():
                gw = np.asarray(g[name], dtype=np.float32)
                first[name] = b1 * first[name] + (1 - b1) * gw
                second[name] = b2 * second[name] + (1 - b2) * gw * gw
                w -= rate * first[name] / (np.sqrt(second[name]) + eps)
            if step % 50 == 0:
                progress.update(task, completed=step)
        progress.update(task, completed=len(batches))
    layers = {name: params[name] for name in HEAD_LAYERS}
    if not all(np.isfinite(w).all() for w in layers.values()):
        raise RuntimeError("adapting the encoder's last layers diverged; build with `triage build --no-adapt`")
    return layers
