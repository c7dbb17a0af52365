"""The served graph is our fused one; optimum's export of the same checkpoint is its reference.

Fusing may change how fast a token comes, never which token: at the same int4 accuracy level the
fused model gives the logits and the greedy text of optimum's export. The served model multiplies
with int8 activations (level 4); every matmul it runs has at least two rows (the LM head too), so
decoding one token at a time, verifying k drafts at once and prefilling in chunks agree bit for bit
(on AVX2-only and on AVX-512 VNNI CPUs alike: a one-row matmul is what takes another kernel).
"""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

from cloud_core.llm.build import build_model
from cloud_core.llm.onnx import OnnxLM

pytestmark = pytest.mark.slow

PROMPT = ("<|im_start|>system\nYou are the support assistant of Demo Shop. Refunds are paid within 10 business "
          "days.<|im_end|>\n<|im_start|>user\nHow long does a refund take for order A-1001?<|im_end|>\n"
          "<|im_start|>assistant\n")


@pytest.fixture(scope="module")
def optimum_lm() -> OnnxLM:
    return OnnxLM(build_model(graph="optimum"), threads=2)


@pytest.fixture(scope="module")
def fused_level1_lm() -> OnnxLM:
    return OnnxLM(build_model(graph="fused", accuracy_level=1), threads=2)


def _greedy(lm: OnnxLM, ids: list[int], steps: int, split: int | None = None) -> tuple[np.ndarray, list[int]]:
    cache = lm.empty_cache()
    if split:
        _, cache = lm.forward(ids[:split], cache)
        ids = ids[split:]
    logits, cache = lm.forward(ids, cache)
    first = logits[-1].copy()
    out: list[int] = []
    for _ in range(steps):
        out.append(int(np.argmax(logits[-1])))
        logits, cache = lm.forward([out[-1]], cache)
    return first, out


def test_the_served_model_is_the_fused_graph_checked_against_optimum_at_build_time(llm_folder) -> None:
    meta = json.loads((llm_folder / "export.json").read_text())
    assert meta["graph"] == "fused"
    assert meta["fp32_max_logit_diff_to_optimum"] < 2e-3
    assert (meta["accuracy_level"], meta["min_rows"]) == (4, 2)


def test_fused_graph_has_a_dozen_nodes_per_layer_where_optimum_has_about_a_hundred(llm_folder) -> None:
    fused = onnx.load(str(llm_folder / "model.onnx"), load_external_data=False)
    ops = [n.op_type for n in fused.graph.node]
    layers = json.loads((llm_folder / "export.json").read_text())["num_hidden_layers"]
    assert ops.count("GroupQueryAttention") == layers
    assert len(ops) <= 12 * layers + 20


def test_fused_and_optimum_graphs_at_the_same_accuracy_level_give_the_same_logits_and_text(
        fused_level1_lm, optimum_lm) -> None:
    ids = optimum_lm.tokenizer.encode(PROMPT).ids
    first_fused, text_fused = _greedy(fused_level1_lm, ids, 24)
    first_optimum, text_optimum = _greedy(optimum_lm, ids, 24)
    assert np.abs(first_fused - first_optimum).max() < 1e-3
    assert text_fused == text_optimum


def _teacher_forced(lm: OnnxLM, ids: list[int], continuation: list[int]) -> np.ndarray:
    """Logits at every step of ``continuation`` fed as given (one pass: no divergence can cascade)."""
    _, cache = lm.forward(ids[:-1], lm.empty_cache())
    logits, _ = lm.forward([ids[-1], *continuation[:-1]], cache, keep=len(continuation))
    return logits


def test_int8_activations_of_the_served_model_keep_optimums_decisive_greedy_choices(llm, optimum_lm) -> None:
    # int8 activations round differently per ISA (on an AVX2-only EPYC the greedy texts part at a
    # token where optimum's top two logits are 0.12 apart). So both models are fed optimum's greedy
    # answer, and wherever optimum prefers its token by a clear margin, the served model must too.
    ids = llm.tokenizer.encode(PROMPT).ids
    _, reference = _greedy(optimum_lm, ids, 48)
    theirs = _teacher_forced(optimum_lm, ids, reference)
    ours = _teacher_forced(llm, ids, reference)
    top2 = np.sort(theirs, axis=-1)[:, -2:]
    decisive = (top2[:, 1] - top2[:, 0]) > 0.5
    assert decisive.sum() >= 30
    assert np.array_equal(ours.argmax(-1)[decisive], theirs.argmax(-1)[decisive])


def test_chunked_prefill_and_one_pass_prefill_agree_bit_for_bit(llm) -> None:
    ids = llm.tokenizer.encode(PROMPT).ids
    whole, text_whole = _greedy(llm, ids, 16)
    for split in (len(ids) // 2, len(ids) - 1):  # the second leaves a one-token chunk, which is re-fed
        chunked, text_chunked = _greedy(llm, ids, 16, split=split)
        assert np.array_equal(whole, chunked)
        assert text_whole == text_chunked


def test_verifying_k_tokens_at_once_equals_decoding_them_one_by_one_bit_for_bit(llm) -> None:
    ids = llm.tokenizer.encode(PROMPT).ids
    _, continuation = _greedy(llm, ids, 5)
    _, cache = llm.forward(ids, llm.empty_cache())
    together, _ = llm.forward(continuation, cache, keep=len(continuation))
    _, cache = llm.forward(ids, llm.empty_cache())
    one_by_one = []
    for token in continuation:
        logits, cache = llm.forward([token], cache)
        one_by_one.append(logits[-1])
    assert np.array_equal(together, np.stack(one_by_one))
