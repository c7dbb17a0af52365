"""transformers checkpoint -> our fused llama graph (ONNX Runtime contrib ops) -> int4 weights.

optimum's export of this 135M model is ~3,000 small nodes; at one token per step their per-node
cost, not the weights, sets the decode speed. This graph has 11 nodes a layer: one
SkipSimplifiedLayerNormalization per residual add, packed QKV and gate/up projections, and
GroupQueryAttention doing rotary, the KV append and causal attention in one kernel. Its inputs and
outputs are those of the optimum export our runtime already drives (position_ids aside: the
attention derives positions from the mask), and before quantizing, its fp32 logits are checked
against optimum's fp32 export, which stays the reference.

Runs in the isolated export environment. Usage:
python _graph_script.py HF_DIR OPTIMUM_FP32_DIR OUT ACCURACY_LEVEL
"""

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

MS = "com.microsoft"
MAX_FP32_DIFF = 2e-3
"""Largest logit difference to optimum's fp32 export we accept (float reassociation is ~1e-4)."""


def step(message: str) -> None:
    print(f"STEP {message}", flush=True)


class Graph:
    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []

    def const(self, name: str, value: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(self, op_type: str, inputs: list[str], outputs: list[str], domain: str = "", **attrs: object) -> list[str]:
        self.nodes.append(helper.make_node(op_type, inputs, outputs, name=f"{outputs[0]}/{op_type}",
                                           domain=domain, **attrs))
        return outputs

    def linear(self, x: str, name: str, weight: np.ndarray) -> str:
        """``x @ weight.T``; a MatMul with a constant weight, which the int4 quantizer turns into MatMulNBits."""
        return self.op("MatMul", [x, self.const(f"{name}.weight_t", weight.T.astype(np.float32))], [name])[0]


def rotary_caches(head_dim: int, theta: float, max_positions: int) -> tuple[np.ndarray, np.ndarray]:
    inverse = 1.0 / theta ** (np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)
    angles = np.outer(np.arange(max_positions, dtype=np.float64), inverse)
    return np.cos(angles).astype(np.float32), np.sin(angles).astype(np.float32)


def build_graph(config: dict, weights: dict[str, np.ndarray]) -> onnx.ModelProto:
    layers, heads, kv_heads = config["num_hidden_layers"], config["num_attention_heads"], config["num_key_value_heads"]
    head_dim = config.get("head_dim") or config["hidden_size"] // heads
    eps = float(config["rms_norm_eps"])
    g = Graph()
    inputs = [
        helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"]),
        helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "total"]),
        helper.make_tensor_value_info("logits_to_keep", TensorProto.INT64, [1]),
    ]
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", "kept", config["vocab_size"]])]
    for i in range(layers):
        for kind in ("key", "value"):
            inputs.append(helper.make_tensor_value_info(f"past_key_values.{i}.{kind}", TensorProto.FLOAT,
                                                        ["batch", kv_heads, "past", head_dim]))
            outputs.append(helper.make_tensor_value_info(f"present.{i}.{kind}", TensorProto.FLOAT,
                                                         ["batch", kv_heads, "total", head_dim]))
    cos, sin = rotary_caches(head_dim, float(config["rope_theta"]), int(config["max_position_embeddings"]))
    g.const("cos_cache", cos)
    g.const("sin_cache", sin)
    g.const("one", np.array([1], np.int64))
    g.const("axis_1", np.array([1], np.int64))
    g.const("index_1", np.array(1, np.int64))
    # GroupQueryAttention's lengths: seqlens_k = tokens so far - 1, total_sequence_length a scalar.
    g.op("ReduceSum", ["attention_mask", "axis_1"], ["mask_sum"], keepdims=0)
    g.op("Sub", ["mask_sum", "one"], ["seqlens_k_64"])
    g.op("Cast", ["seqlens_k_64"], ["seqlens_k"], to=TensorProto.INT32)
    g.op("Shape", ["attention_mask"], ["mask_shape"])
    g.op("Gather", ["mask_shape", "index_1"], ["total_64"], axis=0)
    g.op("Cast", ["total_64"], ["total_sequence_length"], to=TensorProto.INT32)
    embedding = weights["model.embed_tokens.weight"].astype(np.float32)
    residual = g.op("Gather", [g.const("embed_tokens", embedding), "input_ids"], ["embedded"], axis=0)[0]
    pending: str | None = None
    for i in range(layers):
        p = f"model.layers.{i}."
        norm = g.const(f"{p}input_layernorm", weights[p + "input_layernorm.weight"])
        if pending is None:
            x = g.op("SimplifiedLayerNormalization", [residual, norm], [f"l{i}.attn_in"], axis=-1, epsilon=eps)[0]
        else:
            x, _, _, residual = g.op("SkipSimplifiedLayerNormalization", [pending, residual, norm],
                                     [f"l{i}.attn_in", f"l{i}.mean0", f"l{i}.inv0", f"l{i}.residual0"],
                                     domain=MS, epsilon=eps)
        qkv_weight = np.concatenate([weights[p + f"self_attn.{n}_proj.weight"] for n in "qkv"], axis=0)
        qkv = g.linear(x, f"l{i}.qkv", qkv_weight)
        past = [f"past_key_values.{i}.key", f"past_key_values.{i}.value"]
        attention = g.op("GroupQueryAttention",
                         [qkv, "", "", *past, "seqlens_k", "total_sequence_length", "cos_cache", "sin_cache"],
                         [f"l{i}.attention", f"present.{i}.key", f"present.{i}.value"], domain=MS,
                         num_heads=heads, kv_num_heads=kv_heads, do_rotary=1, rotary_interleaved=0,
                         scale=float(1.0 / np.sqrt(head_dim)))[0]
        projected = g.linear(attention, f"l{i}.o", weights[p + "self_attn.o_proj.weight"])
        post = g.const(f"{p}post_attention_layernorm", weights[p + "post_attention_layernorm.weight"])
        m, _, _, residual = g.op("SkipSimplifiedLayerNormalization", [projected, residual, post],
                                 [f"l{i}.mlp_in", f"l{i}.mean1", f"l{i}.inv1", f"l{i}.residual1"],
                                 domain=MS, epsilon=eps)
        gate_up = g.linear(m, f"l{i}.gate_up", np.concatenate(
            [weights[p + "mlp.gate_proj.weight"], weights[p + "mlp.up_proj.weight"]], axis=0))
        gate, up = g.op("Split", [gate_up], [f"l{i}.gate", f"l{i}.up"], axis=-1, num_outputs=2)
        sigmoid = g.op("Sigmoid", [gate], [f"l{i}.sigmoid"])[0]
        silu = g.op("Mul", [gate, sigmoid], [f"l{i}.silu"])[0]
        act = g.op("Mul", [silu, up], [f"l{i}.act"])[0]
        pending = g.linear(act, f"l{i}.down", weights[p + "mlp.down_proj.weight"])
    assert pending is not None
    final = g.const("final_norm", weights["model.norm.weight"])
    hidden = g.op("SkipSimplifiedLayerNormalization", [pending, residual, final],
                  ["final_hidden", "final_mean", "final_inv", "final_residual"], domain=MS, epsilon=eps)[0]
    # Only the last ``logits_to_keep`` rows reach the 576x49152 head: decoding needs one, verification k+1.
    g.const("keep_end", np.array([np.iinfo(np.int64).max], np.int64))
    g.op("Neg", ["logits_to_keep"], ["keep_start"])
    kept = g.op("Slice", [hidden, "keep_start", "keep_end", "axis_1"], ["kept_hidden"])[0]
    head = weights.get("lm_head.weight", embedding)  # untied copy: the quantizer only sees constant weights
    g.op("MatMul", [kept, g.const("lm_head.weight_t", head.T.astype(np.float32))], ["logits"])
    graph = helper.make_graph(g.nodes, "llama-fused", inputs, outputs, g.initializers)
    return helper.make_model(graph, ir_version=10, opset_imports=[helper.make_opsetid("", 21),
                                                                   helper.make_opsetid(MS, 1)])


def _run(session: object, config: dict, ids: list[int], past: list[np.ndarray] | None, keep: int) -> tuple:
    layers, kv_heads = config["num_hidden_layers"], config["num_key_value_heads"]
    head_dim = config.get("head_dim") or config["hidden_size"] // config["num_attention_heads"]
    if past is None:
        past = [np.zeros((1, kv_heads, 0, head_dim), np.float32)] * (2 * layers)
    done = past[0].shape[2]
    names = {i.name for i in session.get_inputs()}  # type: ignore[attr-defined]
    feeds = {"input_ids": np.asarray([ids], np.int64), "attention_mask": np.ones((1, done + len(ids)), np.int64),
             "position_ids": np.arange(done, done + len(ids), dtype=np.int64)[None, :],
             "logits_to_keep": np.asarray([keep], np.int64)}
    feeds = {k: v for k, v in feeds.items() if k in names}
    for i in range(layers):
        feeds[f"past_key_values.{i}.key"], feeds[f"past_key_values.{i}.value"] = past[2 * i], past[2 * i + 1]
    out = session.run(None, feeds)  # type: ignore[attr-defined]
    return out[0][0], out[1:]


def check_against_reference(model: onnx.ModelProto, reference: Path, config: dict) -> float:
    """Largest logit difference to optimum's export over a prefill, a 3-token chunk and two single steps."""
    import onnxruntime as ort

    ours = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    theirs = ort.InferenceSession(str(reference / "model.onnx"), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    prompt = [1, *rng.integers(3, config["vocab_size"], 40).tolist()]
    chunks = [prompt, rng.integers(3, 1000, 3).tolist(), [17], [42]]
    worst, past_ours, past_theirs = 0.0, None, None
    for chunk in chunks:
        logits_ours, past_ours = _run(ours, config, chunk, past_ours, len(chunk))
        logits_theirs, past_theirs = _run(theirs, config, chunk, past_theirs, len(chunk))
        worst = max(worst, float(np.abs(logits_ours - logits_theirs[-len(chunk):]).max()))
    return worst


def main() -> None:
    hf, reference, out, accuracy_level = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
    from safetensors.numpy import load_file

    config = json.loads((hf / "config.json").read_text())
    if config.get("model_type") != "llama":
        raise SystemExit(f"the fused graph covers llama-architecture models, not {config.get('model_type')}")
    step("building the fused graph from the checkpoint")
    model = build_graph(config, load_file(str(hf / "model.safetensors")))
    step("checking fp32 logits against optimum's export")
    diff = check_against_reference(model, reference, config)
    print(f"max |logit difference| to optimum fp32: {diff:.2e}", flush=True)
    if not diff < MAX_FP32_DIFF:
        raise SystemExit(f"fused graph disagrees with optimum's export by {diff:.3g} (limit {MAX_FP32_DIFF})")
    step(f"quantizing weights to int4 (MatMulNBits, block 32, accuracy level {accuracy_level})")
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    quantizer = MatMulNBitsQuantizer(model, block_size=32, is_symmetric=True, accuracy_level=accuracy_level)
    quantizer.process()
    out.mkdir(parents=True, exist_ok=True)
    onnx.save_model(quantizer.model.model, str(out / "model.onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="model.onnx.data", size_threshold=1024)
    for path in reference.iterdir():
        if path.suffix == ".json" or path.name.endswith(".jinja"):
            shutil.copyfile(path, out / path.name)
    meta = json.loads((out / "export.json").read_text())
    meta["graph"] = "fused"
    meta["fp32_max_logit_diff_to_optimum"] = diff
    (out / "export.json").write_text(json.dumps(meta, indent=2))
    step("done")


if __name__ == "__main__":
    main()
