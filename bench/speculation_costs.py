"""Where a quoting answer's time goes with and without prompt lookup, on this CPU.

``bench/llm.py`` gives prompt lookup's speed-up on answers that quote their context; this says why it
is what it is here. The served backend generates each of that bench's quoting answers both ways
(best of ``--repeats``), with every forward pass timed by its row count, and prints per answer: the
prefill's share of the plain answer, the cost of a plain step (two rows, see ``OnnxLM.forward``) and
of each further row (a least-squares line through every timed decoding step), the verification
steps and the drafted tokens they accepted, and two bounds from the same costs: the speed-up if every
step's draft were accepted whole at the served maximum length, and the same for the decoding alone.
A CPU whose extra rows are dear (AVX2's int8 kernels) or whose prefill is a large part of a short
answer caps the ratio whatever the drafter does.

Usage: python bench/speculation_costs.py [--repeats 3] [--out docs/speculation_costs.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import msgspec  # noqa: E402
import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from bench.llm import QUOTING  # noqa: E402
from cloud_core.llm.base import ChatMessage, Finished, GenerationOptions, Prompt  # noqa: E402
from cloud_core.llm.build import build_model  # noqa: E402
from cloud_core.llm.onnx import OnnxBackend, OnnxLM  # noqa: E402
from triage.cpu import cpu_info, describe  # noqa: E402

MAX_TOKENS = 96


class TimedLM:
    """The served model with each forward pass logged as (rows fed, milliseconds)."""

    def __init__(self, lm: OnnxLM) -> None:
        self.lm = lm
        self.log: list[tuple[int, int, float]] = []
        """(tokens fed, rows computed, milliseconds) of each pass."""
        self._forward = lm.forward
        lm.forward = self._timed  # type: ignore[method-assign]

    def _timed(self, ids: list[int], cache: Any, keep: int = 1) -> Any:
        start = time.perf_counter()
        out = self._forward(ids, cache, keep)
        self.log.append((len(ids), max(len(ids), self.lm.min_rows), (time.perf_counter() - start) * 1000))
        return out


def _answer(backend: OnnxBackend, timed: TimedLM, question: str, mode: str, repeats: int) -> dict[str, Any]:
    """The fastest of ``repeats`` generations: wall time, its forward passes, text, draft counts."""
    prompt = Prompt((ChatMessage("system", "You are a helpful assistant."), ChatMessage("user", question)))
    prefill_tokens = len(backend.encode_prompt(prompt)[0])
    best: dict[str, Any] | None = None
    for _ in range(repeats):
        timed.log.clear()
        start = time.perf_counter()
        finished = None
        for event in backend.generate(prompt, GenerationOptions(max_tokens=MAX_TOKENS, speculation=mode),
                                      use_prefix_cache=False):
            if isinstance(event, Finished):
                finished = event
        wall = (time.perf_counter() - start) * 1000
        assert finished is not None
        if best is None or wall < best["wall_ms"]:
            fed, steps = 0, []
            for tokens, rows, ms in timed.log:  # the prompt's chunks come first, then one pass a step
                if fed < prefill_tokens:
                    fed += tokens
                    continue
                steps.append((rows, ms))
            best = {"wall_ms": wall, "steps": steps, "text": finished.text,
                    "prefill_ms": sum(ms for _, _, ms in timed.log) - sum(ms for _, ms in steps),
                    "proposed": finished.usage.draft_tokens_proposed, "accepted": finished.usage.draft_tokens_accepted,
                    "tokens": finished.usage.output_tokens}
    assert best is not None
    return best


def _row(question: str, plain: dict[str, Any], looked: dict[str, Any], max_k: int) -> dict[str, Any]:
    steps = plain["steps"] + looked["steps"]
    rows = np.array([r for r, _ in steps], dtype=float)
    ms = np.array([m for _, m in steps], dtype=float)
    per_row, fixed = np.polyfit(rows, ms, 1) if len(set(rows)) > 1 else (float("nan"), float(np.median(ms)))
    plain_step = float(np.median([m for r, m in plain["steps"]])) if plain["steps"] else float("nan")
    verify = [r for r, _ in looked["steps"] if r > 2]
    decode_plain = plain["wall_ms"] - plain["prefill_ms"]
    # Every step's draft accepted whole at the served maximum: max_k + 1 tokens for one (max_k + 1)-row pass.
    whole = (fixed + per_row * (max_k + 1)) / (max_k + 1)
    bound_decode = plain_step / whole
    bound = plain["wall_ms"] / (plain["prefill_ms"] + decode_plain / bound_decode)
    return {
        "question": question[:40], "tokens": plain["tokens"], "identical": plain["text"] == looked["text"],
        "plain_ms": plain["wall_ms"], "lookup_ms": looked["wall_ms"], "speedup": plain["wall_ms"] / looked["wall_ms"],
        "prefill_ms": plain["prefill_ms"], "prefill_share": plain["prefill_ms"] / plain["wall_ms"],
        "plain_step_ms": plain_step, "step_fixed_ms": float(fixed), "per_row_ms": float(per_row),
        "verify_steps": len(verify), "mean_verify_rows": float(np.mean(verify)) if verify else 0.0,
        "proposed": looked["proposed"], "accepted": looked["accepted"],
        "decode_speedup": decode_plain / (looked["wall_ms"] - looked["prefill_ms"]),
        "bound_decode_speedup": bound_decode, "bound_speedup": bound,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    lm = OnnxLM(build_model(), threads=args.threads)
    backend = OnnxBackend(lm)
    timed = TimedLM(lm)
    rows = []
    for question in QUOTING:
        plain = _answer(backend, timed, question, "off", args.repeats)
        looked = _answer(backend, timed, question, "prompt_lookup", args.repeats)
        rows.append(_row(question, plain, looked, backend.speculation_k))
        print(f"{question[:40]!r}: {rows[-1]['speedup']:.2f}x", file=sys.stderr, flush=True)
    table = Table(title=f"Prompt lookup on quoting answers: where the time goes ({args.threads} threads)")
    columns = [("answer tokens", "tokens", "{}"), ("plain / lookup ms", None, ""), ("speed-up", "speedup", "{:.2f}x"),
               ("prefill share", "prefill_share", "{:.0%}"), ("plain step ms", "plain_step_ms", "{:.2f}"),
               ("step = a + b x rows (ms)", None, ""), ("verify steps (mean rows)", None, ""),
               ("drafts accepted", None, ""), ("decode speed-up", "decode_speedup", "{:.2f}x"),
               ("bound: whole drafts (decode)", None, "")]
    for title, _, _ in columns:
        table.add_column(title, justify="right")
    for r in rows:
        cells = []
        for title, key, fmt in columns:
            if key is not None:
                cells.append(fmt.format(r[key]))
            elif title.startswith("plain / lookup"):
                cells.append(f"{r['plain_ms']:.0f} / {r['lookup_ms']:.0f}{'' if r['identical'] else ' (TEXT DIFFERS)'}")
            elif title.startswith("step"):
                cells.append(f"{r['step_fixed_ms']:.2f} + {r['per_row_ms']:.2f}")
            elif title.startswith("verify"):
                cells.append(f"{r['verify_steps']} ({r['mean_verify_rows']:.1f})")
            elif title.startswith("drafts"):
                cells.append(f"{r['accepted']} of {r['proposed']}")
            else:
                cells.append(f"{r['bound_speedup']:.2f}x ({r['bound_decode_speedup']:.2f}x)")
        table.add_row(*cells)
    console = Console(width=220)
    console.print(table)
    print(describe())
    if args.out:
        Path(args.out).write_text(json.dumps({"cpu": msgspec.to_builtins(cpu_info()), "rows": rows}, indent=2) + "\n")
    if not all(r["identical"] for r in rows):
        raise SystemExit("prompt lookup changed a greedy answer: speculation must never change the text")


if __name__ == "__main__":
    main()
