"""One LLM runtime, measured in its own process (so peak RSS is its own). Run by bench/llm.py.

Imports nothing of the project except for ``--runtime onnx``: the transformers peer runs in the
export tool environment and the llama.cpp peer in its own, neither of which has the project.
Usage: python _llm_runner.py --runtime onnx|hf|llamacpp --spec SPEC.json --out RESULT.json
"""

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path


def measure(runtime, stream):
    """(seconds to first text, decode tokens/s after it, output tokens, text, total seconds).

    Tokens are counted on the finished text with the runtime's own tokenizer: streamed pieces are
    words (transformers' streamer) or several tokens (a speculation step), not tokens.
    """
    start = time.perf_counter()
    first = None
    pieces = []
    for piece in stream:
        if first is None:
            first = time.perf_counter()
        pieces.append(piece)
    end = time.perf_counter()
    first = first or end
    text = "".join(pieces)
    count = runtime.count(text)
    rate = (count - 1) / (end - first) if count > 1 and end > first else 0.0
    return first - start, rate, count, text, end - start


def lookup_speedup(runtime, system, user, tries):
    """(wall time without / with prompt lookup, best of ``tries`` each way; whether every text was the same)."""
    plains = [measure(runtime, runtime.stream(system, user, 96, "off")) for _ in range(tries)]
    lookeds = [measure(runtime, runtime.stream(system, user, 96, "prompt_lookup")) for _ in range(tries)]
    same = all(x[3] == plains[0][3] for x in plains + lookeds)
    return min(p[4] for p in plains) / min(x[4] for x in lookeds), same


class Onnx:
    def __init__(self, spec):
        sys.path.insert(0, spec["root"])
        from cloud_core.llm.onnx import OnnxBackend, OnnxLM

        self.lm = OnnxLM(Path(spec["onnx_model"]), threads=spec["threads"])
        self.backend = OnnxBackend(self.lm, prefix_cache_bytes=512 << 20)

    def stream(self, system, user, max_tokens, speculation="off", cache=False):
        from cloud_core.llm.base import ChatMessage, GenerationOptions, Prompt, TextDelta

        prompt = Prompt((ChatMessage("system", system), ChatMessage("user", user)))
        options = GenerationOptions(max_tokens=max_tokens, speculation=speculation)
        # Token count, not text pieces: deltas can hold several tokens after a speculation step.
        self.last = None
        for event in self.backend.generate(prompt, options, use_prefix_cache=cache):
            if isinstance(event, TextDelta):
                yield event.text
            else:
                self.last = event

    def reset(self):
        self.backend.prefix_cache = type(self.backend.prefix_cache)(512 << 20)

    def count(self, text):
        return len(self.lm.tokenizer.encode(text, add_special_tokens=False).ids)


class HF:
    def __init__(self, spec):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        torch.set_num_threads(spec["threads"])
        self.torch = torch
        self.tok = AutoTokenizer.from_pretrained(spec["hf_model"])
        self.model = AutoModelForCausalLM.from_pretrained(spec["hf_model"], dtype=torch.float32).eval()

    def stream(self, system, user, max_tokens, speculation="off", cache=False):
        from threading import Thread

        from transformers import TextIteratorStreamer

        text = (f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n"
                "<|im_start|>assistant\n")
        ids = self.tok(text, return_tensors="pt", add_special_tokens=False)
        streamer = TextIteratorStreamer(self.tok, skip_prompt=True, skip_special_tokens=True)
        kwargs = dict(**ids, max_new_tokens=max_tokens, do_sample=False, streamer=streamer,
                      eos_token_id=self.tok.convert_tokens_to_ids("<|im_end|>"))
        if speculation == "prompt_lookup":
            kwargs["prompt_lookup_num_tokens"] = 8
        worker = Thread(target=lambda: self.model.generate(**kwargs))
        with self.torch.inference_mode():
            worker.start()
            yield from (p for p in streamer if p)
            worker.join()

    def reset(self):
        pass

    def count(self, text):
        return len(self.tok(text, add_special_tokens=False)["input_ids"])


class LlamaCpp:
    def __init__(self, spec):
        from llama_cpp import Llama

        self.llm = Llama(spec["gguf"], n_ctx=4096, n_threads=spec["threads"], n_threads_batch=spec["threads"],
                         verbose=False)

    def stream(self, system, user, max_tokens, speculation="off", cache=False):
        if not cache:
            self.llm.reset()
        chunks = self.llm.create_chat_completion(
            [{"role": "system", "content": system}, {"role": "user", "content": user}],
            max_tokens=max_tokens, temperature=0.0, stream=True)
        for chunk in chunks:
            piece = chunk["choices"][0]["delta"].get("content")
            if piece:
                yield piece

    def reset(self):
        self.llm.reset()

    def count(self, text):
        return len(self.llm.tokenize(text.encode(), add_bos=False, special=False))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runtime", required=True, choices=["onnx", "hf", "llamacpp"])
    parser.add_argument("--spec", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    spec = json.loads(Path(args.spec).read_text())
    runtime = {"onnx": Onnx, "hf": HF, "llamacpp": LlamaCpp}[args.runtime](spec)
    result = {"runtime": args.runtime}
    repeats = spec["repeats"]

    # Warm-up: first calls allocate arenas and pick kernels.
    measure(runtime, runtime.stream(spec["neutral_system"], spec["questions"][0], 8))

    for size in ("300",) if spec.get("decode_only") else ("300", "1200"):
        ttfts, rates = [], []
        for i in range(repeats):
            runtime.reset()
            ttft, rate, count, _, _ = measure(runtime, runtime.stream(
                spec["systems"][size], spec["questions"][i % len(spec["questions"])], spec["decode_tokens"]))
            ttfts.append(ttft)
            if count >= 16:
                rates.append(rate)
        result[f"ttft_{size}_ms"] = statistics.median(ttfts) * 1000
        result[f"decode_{size}_tok_s"] = statistics.median(rates) if rates else 0.0

    if spec.get("decode_only"):
        Path(args.out).write_text(json.dumps(result, indent=2))
        return

    if args.runtime in ("onnx", "llamacpp"):
        # A shared 1k-token prefix: the first question fills the cache, the next ones reuse it.
        runtime.reset()
        cached = []
        for i, question in enumerate(spec["questions"][: repeats + 1]):
            ttft = measure(runtime, runtime.stream(spec["systems"]["1200"], question, 4, cache=True))[0]
            if i:
                cached.append(ttft)
        result["ttft_1200_cached_ms"] = statistics.median(cached) * 1000

    if args.runtime in ("onnx", "hf"):
        # Same greedy text with and without prompt lookup: the speed-up is the ratio of wall times.
        # Best of `repeats` each way: the answers are short, the machine noisy.
        runs = [lookup_speedup(runtime, spec["neutral_system"], quote, repeats) for quote in spec["quoting"]]
        speedups, same = [r for r, _ in runs], all(s for _, s in runs)
        result["prompt_lookup_speedup"] = statistics.median(speedups)
        result["prompt_lookup_speedups"] = speedups
        result["prompt_lookup_identical"] = same

    if args.runtime == "onnx":
        # The served default on a dispute's long grounded prompt: the questions against the 1,200-token
        # policy, whose answers quote it only now and then. What drafting costs where it seldom pays
        # (the drafter's own work per step, rejected rows) shows as a ratio below 1.
        policy = spec["systems"]["1200"]
        runs = [lookup_speedup(runtime, policy, question, 2) for question in spec["questions"][:repeats]]
        ratios, same = [r for r, _ in runs], all(s for _, s in runs)
        result["long_prompt_lookup_speedup"] = statistics.median(ratios)
        result["long_prompt_lookup_speedups"] = ratios
        result["long_prompt_lookup_identical"] = same

    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    Path(args.out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
