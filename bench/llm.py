"""Cloud LLM runtimes side by side on the same prompts: our fused ONNX int4 graph, optimum's ONNX graph
in int4 (same loop), transformers fp32 and llama.cpp on the GGUF.

Each runtime runs in its own process (peak RSS is its own) on the same machine in the same run:
decode tokens/s, time to first token at ~300 and ~1,200 prompt tokens, TTFT when a 1k-token
shared prefix is cached, prompt-lookup speed-up on answers that quote their context and on the
1,200-token policy prompt (the served default on a dispute, quoted only now and then), peak RSS.
Ratios are what to read; absolute times move with the machine's load, so the decode ratio to
llama.cpp is the median over ``--rounds`` alternating decode-only runs of the two.

Usage: python bench/llm.py [--threads 2] [--repeats 3] [--rounds 5] [--out docs/llm_bench.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import msgspec  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from bench.peers import LLAMA_CPP_ENV  # noqa: E402
from cloud_core.llm.build import EXPORT_ENV, build_model, fetch_gguf, hf_folder  # noqa: E402
from triage.cpu import cpu_info, describe  # noqa: E402

SECTIONS = [
    "Returns: items can be returned within 30 days of delivery in their original packaging, with the receipt.",
    "Refunds are paid within 10 business days to the original payment method once the return is inspected.",
    "Standard delivery takes 3 to 5 business days; express delivery takes 1 business day and costs 9.90 EUR.",
    "Orders above 50 EUR ship for free within the EU. Customs duties outside the EU are paid by the customer.",
    "Damaged items must be reported within 48 hours of delivery with photos of the item and of the packaging.",
    "A parcel that has not arrived 10 business days after dispatch is investigated with the carrier.",
    "Chargebacks: please contact us first; a chargeback freezes the order until the bank decides.",
    "Gift cards are valid for 3 years and cannot be exchanged for cash. Vouchers cannot be combined.",
    "Invoices are available in the account under Orders; a corrected invoice can be issued within 14 days.",
    "Customer service is open Monday to Friday from 9:00 to 18:00 and answers e-mails within 24 hours.",
    "Price matching: we match the price of an identical item sold by an EU retailer within 7 days of purchase.",
    "Warranty: electronics have a 2-year warranty; the warranty does not cover water damage or misuse.",
]
QUESTIONS = [
    "My parcel has not arrived after two weeks, what can you do?",
    "The jacket I received is torn, how do I get a replacement?",
    "I was charged twice for order A-1001, please help.",
    "Can I still return the shoes I bought last month?",
    "Why has my refund not arrived yet?",
]
# Answers that quote their context: the model copies long runs of the message or policy.
_MESSAGE = ("I ordered a blue winter jacket in size M with order number A-1001 on 3 March and it arrived damaged: "
            "the zip is broken and there is a hole in the left sleeve.")
QUOTING = [
    f"Correct the grammar of this text:\n{_MESSAGE}",
    f"Make a bullet list of the facts in this message:\n{_MESSAGE}",
    f"Summarize: {SECTIONS[0]} {SECTIONS[1]}",
]


def _system(tokenizer, target: int) -> str:
    text = "You are the support assistant of Demo Shop. Answer using only these policies."
    index = 0
    while len(tokenizer.encode(text, add_special_tokens=False).ids) < target:
        text += f"\n{index + 1}. {SECTIONS[index % len(SECTIONS)]}"
        index += 1
    return text


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--decode-tokens", type=int, default=96)
    parser.add_argument("--runtimes", default="onnx,onnx-optimum,hf,llamacpp")
    parser.add_argument("--rounds", type=int, default=5,
                        help="decode ours vs llama.cpp: alternating decode-only rounds, the ratio is their median")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    from tokenizers import Tokenizer

    console = Console(stderr=True)
    model = build_model()
    tokenizer = Tokenizer.from_file(str(model / "tokenizer.json"))
    systems = {"300": _system(tokenizer, 270), "1200": _system(tokenizer, 1170)}
    spec = {
        "root": str(ROOT), "threads": args.threads, "repeats": args.repeats, "decode_tokens": args.decode_tokens,
        "onnx_model": str(model), "hf_model": str(hf_folder()), "gguf": str(fetch_gguf()),
        "systems": systems, "questions": QUESTIONS, "quoting": QUOTING,
        "neutral_system": "You are a helpful assistant.",
    }
    runtimes = args.runtimes.split(",")
    models = {"onnx": model}
    if "onnx-optimum" in runtimes:
        models["onnx-optimum"] = build_model(graph="optimum")
    pythons = {"onnx": Path(sys.executable), "onnx-optimum": Path(sys.executable), "hf": EXPORT_ENV.ensure(),
               "llamacpp": LLAMA_CPP_ENV.ensure()}
    results = {}
    def run(runtime: str, tmp: Path, **extra: object) -> dict[str, float] | None:
        spec_file = tmp / f"{runtime}-spec.json"
        spec_file.write_text(json.dumps({**spec, "onnx_model": str(models.get(runtime, model)), **extra}))
        out = tmp / f"{runtime}.json"
        done = subprocess.run([str(pythons[runtime]), "-u" if runtime.startswith("onnx") else "-I",
                               str(ROOT / "bench" / "_llm_runner.py"), "--runtime", runtime.split("-")[0],
                               "--spec", str(spec_file), "--out", str(out)], capture_output=True, text=True,
                              check=False)
        if done.returncode != 0:
            console.print(f"[red]{runtime} failed[/red]: {done.stderr[-2000:]}")
            return None
        return dict(json.loads(out.read_text()))

    results = {}
    ratios: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for runtime in runtimes:
            with console.status(f"measuring {runtime}"):
                result = run(runtime, Path(tmp))
            if result is not None:
                results[runtime] = result
        if "onnx" in results and "llamacpp" in results:
            # The machine is shared: alternate short decode-only runs so drift hits both runtimes alike.
            ratios.append(results["onnx"]["decode_300_tok_s"] / results["llamacpp"]["decode_300_tok_s"])
            for index in range(args.rounds - 1):
                with console.status(f"decode round {index + 2}/{args.rounds}"):
                    ours, peer = run("onnx", Path(tmp), decode_only=True), run("llamacpp", Path(tmp), decode_only=True)
                if ours and peer:
                    ratios.append(ours["decode_300_tok_s"] / peer["decode_300_tok_s"])

    names = {"onnx": "ours: fused graph, ONNX Runtime int4",
             "onnx-optimum": "optimum's graph, ONNX Runtime int4", "hf": "transformers fp32",
             "llamacpp": "llama.cpp Q4_1"}
    table = Table(title=f"cloud LLM runtimes, SmolLM2-135M-Instruct, {args.threads} threads")
    for column in ("runtime", "decode tok/s", "TTFT 300", "TTFT 1200", "TTFT 1200 cached", "prompt lookup",
                   "peak RSS"):
        table.add_column(column, justify="right" if column != "runtime" else "left")
    for runtime, r in results.items():
        lookup = (f"{r['prompt_lookup_speedup']:.2f}x{'' if r['prompt_lookup_identical'] else ' (differs)'}"
                  if "prompt_lookup_speedup" in r else "-")
        cached = f"{r['ttft_1200_cached_ms']:.0f} ms" if "ttft_1200_cached_ms" in r else "-"
        table.add_row(names[runtime], f"{r['decode_300_tok_s']:.1f}", f"{r['ttft_300_ms']:.0f} ms",
                      f"{r['ttft_1200_ms']:.0f} ms", cached, lookup, f"{r['peak_rss_mb']:.0f} MB")
    Console(width=160).print(table)
    print(describe())
    summary: dict[str, float] = {}
    if ratios:
        summary["decode_vs_llamacpp"] = statistics.median(ratios)
        Console().print("decode ours / llama.cpp per round: " + ", ".join(f"{r:.2f}" for r in ratios))
    if "onnx" in results:
        summary["cached_prefix_ttft_ratio"] = results["onnx"]["ttft_1200_cached_ms"] / results["onnx"]["ttft_1200_ms"]
        summary["prompt_lookup_speedup"] = results["onnx"]["prompt_lookup_speedup"]
        summary["long_prompt_lookup_speedup"] = results["onnx"]["long_prompt_lookup_speedup"]
        Console().print("prompt lookup on the 1,200-token policy prompt (answers quote it now and then), per question: "
                        + ", ".join(f"{r:.2f}" for r in results["onnx"]["long_prompt_lookup_speedups"])
                        + ("" if results["onnx"]["long_prompt_lookup_identical"] else " (text differs)"))
    for key, value in summary.items():
        Console().print(f"{key}: {value:.2f}")
    if args.out:
        Path(args.out).write_text(json.dumps({"cpu": msgspec.to_builtins(cpu_info()), "threads": args.threads,
                                              "results": results, "summary": summary,
                                              "decode_ratio_rounds": ratios}, indent=2) + "\n")


if __name__ == "__main__":
    main()
