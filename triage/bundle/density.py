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
# Directions of largest variance the precision matrix keeps exactly; the rest count as the
# shrinkage's variance alone. 64 of 512 separated CLINC150's out-of-scope messages as well as all
# 512 (in scope at 88% recall 0.958 against 0.955; 32: 0.954), and a message reads a 512 x 214
# matrix instead of 512 x 662 (the full one: 43-69 us a call against 27-31 us; docs/benchmarks.md).
_RANK = 64


class ClassDensity:
    """Class means and the shared precision matrix of the features the catalog regression reads,
    as ``scale * I - basis @ basis.T``: the shrunk covariance's inverse where ``basis`` spans its
    ``_RANK`` directions of largest variance."""

    def __init__(self, means: NDArray[np.float32], basis: NDArray[np.float32], scale: float) -> None:
        self.means = means
        self.basis = basis
        self.scale = scale
        wide = means.astype(np.float64) @ basis.astype(np.float64)  # (C, k)
        self._constant = (scale * (means.astype(np.float64) ** 2).sum(axis=1) - (wide ** 2).sum(axis=1)
                          ).astype(np.float32)
        # One product a message: x P mu_c for every class mean and x B, side by side (P mu_c without P).
        cross = scale * means.astype(np.float64) - wide @ basis.T.astype(np.float64)  # (C, D)
        self._stacked = np.ascontiguousarray(np.hstack([cross.T, basis]), dtype=np.float32)

    @classmethod
    def fit(cls, x: NDArray[np.float32], labels: list[str]) -> ClassDensity:
        y = np.asarray(labels)
        classes = sorted(set(labels))
        means = np.stack([x[y == c].mean(axis=0) for c in classes]).astype(np.float32)
        centred = (x - means[np.searchsorted(np.asarray(classes), y)]).astype(np.float64)
        covariance = (centred.T @ centred) / max(1, len(x) - len(classes))
        shrinkage = max(_SHRINKAGE * float(np.trace(covariance)) / len(covariance), 1e-12)
        variances, directions = np.linalg.eigh(covariance)
        top = np.argsort(variances)[::-1][:_RANK]
        # (C + lambda)^-1 = I / lambda - sum_i (1 / lambda - 1 / (v_i + lambda)) d_i d_i^T
        weights = 1.0 / shrinkage - 1.0 / (np.maximum(variances[top], 0.0) + shrinkage)
        basis = (directions[:, top] * np.sqrt(weights)[None, :]).astype(np.float32)
        return cls(means, basis, 1.0 / shrinkage)

    @property
    def precision(self) -> NDArray[np.float64]:
        """The precision matrix the distances use (for checks; the edge never forms it)."""
        out: NDArray[np.float64] = (self.scale * np.eye(self.basis.shape[0])
                                    - self.basis.astype(np.float64) @ self.basis.T.astype(np.float64))
        return out

    def distances(self, x: NDArray[np.float32]) -> NDArray[np.float32]:
        """Squared Mahalanobis distance of each row of ``x`` to its nearest class mean."""
        classes = len(self.means)
        products = x @ self._stacked
        along = products[:, classes:]
        quadratic = self.scale * (x * x).sum(axis=1) - (along * along).sum(axis=1)
        nearest = (self._constant[None, :] - 2.0 * products[:, :classes]).min(axis=1)
        out: NDArray[np.float32] = np.maximum(quadratic + nearest, 0.0).astype(np.float32, copy=False)
        return out

    def to_arrays(self) -> dict[str, NDArray[np.generic]]:
        return {"density_means": self.means, "density_basis": self.basis,
                "density_scale": np.asarray(self.scale, dtype=np.float64)}

    @classmethod
    def from_arrays(cls, arrays: dict[str, NDArray[np.generic]]) -> ClassDensity | None:
        if "density_means" not in arrays:
            return None
        return cls(np.asarray(arrays["density_means"], dtype=np.float32),
                   np.asarray(arrays["density_basis"], dtype=np.float32), float(arrays["density_scale"]))
