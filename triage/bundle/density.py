"""How far a message lies from every intent: Mahalanobis distance to the nearest class mean.

The head's top probability says which intent wins, not whether the message resembles any of them:
a softmax over 150 intents is sure of an out-of-scope message that shares two words with one. The
distance to the nearest class mean under the catalog's shared covariance (a Gaussian per intent,
one covariance for all) sees what the regression's few directions do not, and summed with the
probability it separates CLINC150's out-of-scope messages better than either alone
(docs/benchmarks.md, fifteenth session).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["DENSITY_MIN_EXAMPLES_PER_DIMENSION", "ClassDensity"]

# In-scope examples per feature dimension from which a catalog gets the distance: a shared
# 512 x 512 covariance from fewer rows is mostly the shrinkage (the demo catalog has ~200).
DENSITY_MIN_EXAMPLES_PER_DIMENSION = 4
# Share of the mean variance added to the covariance's diagonal: 0.1 measured best of
# 0.001 / 0.01 / 0.1 for the summed score on CLINC150 (the distance alone prefers more, too).
_SHRINKAGE = 0.1


class ClassDensity:
    """Class means and the shared precision matrix of the features the catalog regression reads."""

    def __init__(self, means: NDArray[np.float32], precision: NDArray[np.float32]) -> None:
        self.means = means
        self.precision = precision
        projected = means @ precision  # (C, D): P is symmetric
        self._constant = (projected * means).sum(axis=1)
        # One product a message: x P (the quadratic term) and the means' cross terms side by side.
        self._stacked = np.ascontiguousarray(np.hstack([precision, projected.T]), dtype=np.float32)

    @classmethod
    def fit(cls, x: NDArray[np.float32], labels: list[str]) -> ClassDensity:
        y = np.asarray(labels)
        classes = sorted(set(labels))
        means = np.stack([x[y == c].mean(axis=0) for c in classes]).astype(np.float32)
        centred = x - means[np.searchsorted(np.asarray(classes), y)]
        covariance = (centred.T.astype(np.float64) @ centred) / max(1, len(x) - len(classes))
        covariance += _SHRINKAGE * np.trace(covariance) / len(covariance) * np.eye(len(covariance))
        precision = np.linalg.inv(covariance)
        return cls(means, ((precision + precision.T) / 2).astype(np.float32))

    @staticmethod
    def applies(dim: int, in_scope_examples: int) -> bool:
        """Whether a catalog of ``in_scope_examples`` over ``dim`` features gets the distance."""
        return in_scope_examples >= DENSITY_MIN_EXAMPLES_PER_DIMENSION * dim

    def distances(self, x: NDArray[np.float32]) -> NDArray[np.float32]:
        """Squared Mahalanobis distance of each row of ``x`` to its nearest class mean."""
        dim = x.shape[1]
        products = x @ self._stacked
        quadratic = (products[:, :dim] * x).sum(axis=1)
        nearest = (self._constant[None, :] - 2.0 * products[:, dim:]).min(axis=1)
        out: NDArray[np.float32] = np.maximum(quadratic + nearest, 0.0).astype(np.float32)
        return out

    def to_arrays(self) -> dict[str, NDArray[np.generic]]:
        return {"density_means": self.means, "density_precision": self.precision}

    @classmethod
    def from_arrays(cls, arrays: dict[str, NDArray[np.generic]]) -> ClassDensity | None:
        if "density_means" not in arrays:
            return None
        return cls(np.asarray(arrays["density_means"], dtype=np.float32),
                   np.asarray(arrays["density_precision"], dtype=np.float32))
