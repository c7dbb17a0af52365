"""fp32 ONNX export -> int4 weights (MatMulNBits) with a ``logits_to_keep`` input.

Runs in the isolated export environment (onnxruntime's quantizer needs onnx_ir).
Usage: python _quantize_script.py FP32_DIR OUT ACCURACY_LEVEL
"""

import shutil
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def step(message: str) -> None:
    print(f"STEP {message}", flush=True)


def keep_last_logits(model: onnx.ModelProto) -> None:
    """Slice the final hidden states to the last ``logits_to_keep`` rows before the LM head.

    A 1,000-token prefill otherwise multiplies every row by the 576x49152 head and copies
    200 MB of logits that nobody reads; decoding needs the last row, verification k+1 rows.
    """
    graph = model.graph
    head = next(n for n in graph.node if "logits" in n.output)
    hidden = head.input[0]
    graph.input.append(helper.make_tensor_value_info("logits_to_keep", TensorProto.INT64, [1]))
    graph.initializer.extend([
        numpy_helper.from_array(np.array([np.iinfo(np.int64).max], dtype=np.int64), "keep_slice_end"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "keep_slice_axis"),
    ])
    nodes = [
        helper.make_node("Neg", ["logits_to_keep"], ["keep_slice_start"], name="keep_neg"),
        helper.make_node("Slice", [hidden, "keep_slice_start", "keep_slice_end", "keep_slice_axis"],
                         ["kept_hidden"], name="keep_slice"),
    ]
    head.input[0] = "kept_hidden"
    index = list(graph.node).index(head)
    for offset, node in enumerate(nodes):
        graph.node.insert(index + offset, node)


def untie_lm_head(model: onnx.ModelProto) -> None:
    """Give the LM head its own transposed weight so the quantizer can make it int4.

    The export ties it to the embedding through a runtime Transpose node, which the quantizer
    cannot see through; left in fp32 the 576x49152 head alone reads 113 MB per decoded token.
    """
    graph = model.graph
    head = next(n for n in graph.node if "logits" in n.output)
    transpose = next((n for n in graph.node if n.op_type == "Transpose" and head.input[1] in n.output), None)
    if transpose is None:
        return
    weights = {i.name: i for i in graph.initializer}
    source = numpy_helper.to_array(weights[transpose.input[0]])
    graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(source.T), "lm_head.weight_t"))
    head.input[1] = "lm_head.weight_t"
    graph.node.remove(transpose)


def main() -> None:
    source, out, accuracy_level = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    step("loading the fp32 export")
    model = onnx.load(str(source / "model.onnx"), load_external_data=True)
    keep_last_logits(model)
    untie_lm_head(model)
    step(f"quantizing weights to int4 (MatMulNBits, block 32, accuracy level {accuracy_level})")
    quantizer = MatMulNBitsQuantizer(model, block_size=32, is_symmetric=True, accuracy_level=accuracy_level)
    quantizer.process()
    out.mkdir(parents=True, exist_ok=True)
    onnx.save_model(quantizer.model.model, str(out / "model.onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="model.onnx.data", size_threshold=1024)
    for path in source.iterdir():
        if path.suffix == ".json" or path.name.endswith(".jinja"):
            shutil.copyfile(path, out / path.name)
    step("done")


if __name__ == "__main__":
    main()
