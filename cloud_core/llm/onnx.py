"""The ONNX Runtime backend: our own decode loop over the int4 model, with prefix cache and speculation.

The model (``cloud_core.llm.build``) is optimum's ``text-generation-with-past`` export with int4
weights and a ``logits_to_keep`` input, so a long prefill computes logits only for the rows
decoding needs. Prefill always runs as [shared prefix][rest] chunks, whether the prefix came from
the cache or not, so cached and uncached answers are the same computation and the same text.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import TYPE_CHECKING

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from cloud_core.llm._text import IncrementalText, turn_texts
from cloud_core.llm.base import Finished, GenerationOptions, LLMError, Prompt, TextDelta, Usage
from cloud_core.llm.kv import KVCache, PrefixCache, prefix_key
from cloud_core.llm.speculation import AdaptiveSpeculation, Drafter, PromptLookupDrafter

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator
    from pathlib import Path

__all__ = ["OnnxBackend", "OnnxLM", "StepStats"]


class StepStats:
    """Counters one generation leaves behind (for usage and metrics)."""

    def __init__(self) -> None:
        self.prefill_s = 0.0
        self.first_token_s = 0.0
        self.decode_steps = 0
        self.speculation_disabled = False


class OnnxLM:
    """One ONNX causal LM: a forward pass over new tokens given a KV cache."""

    def __init__(self, folder: Path, threads: int = 0) -> None:
        model = folder / "model.onnx"
        if not model.is_file():
            raise LLMError(f"no model at {model}: run `triage cloud build-model` first")
        meta = json.loads((folder / "export.json").read_text())
        self.num_layers: int = meta["num_hidden_layers"]
        self.kv_heads: int = meta["num_key_value_heads"]
        self.head_dim: int = meta["head_dim"]
        self.context_window: int = meta["max_position_embeddings"]
        self.eos_token_id: int = meta["eos_token_id"]
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.outputs = [o.name for o in self.session.get_outputs()]
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.model_id = meta.get("model_id", folder.name)
        self.in_place = meta.get("graph") == "fused"
        """GroupQueryAttention appends to the KV buffers in place (see ``cloud_core.llm.kv``)."""
        self.min_rows: int = int(meta.get("min_rows", 1))
        """Rows every forward pass carries, so one kernel path computes every row (see ``forward``)."""

    def empty_cache(self, capacity: int = 256) -> KVCache:
        return KVCache.empty(self.num_layers, self.kv_heads, self.head_dim, capacity=capacity,
                             in_place=self.in_place)

    def resume(self, frozen: KVCache, capacity: int) -> KVCache:
        """A prefix-cache entry as the start of a new sequence with room for ``capacity`` tokens."""
        return frozen.thawed(capacity) if self.in_place else frozen

    def forward(self, token_ids: list[int], cache: KVCache, keep: int = 1) -> tuple[np.ndarray, KVCache]:
        """Logits of the last ``keep`` new positions and the cache extended by ``token_ids``.

        With int8 activations (MatMulNBits accuracy level 4) a one-row matmul takes another kernel
        than a multi-row one, and their results differ in the last bits (on AVX2-only CPUs by up
        to 0.5 in a logit), so a k-token verification would disagree with one-token decoding.
        Multi-row results are row-independent, bit for bit, whatever the pass's length or start.
        So no matmul ever gets one row: a one-token step re-feeds the previous token (its keys and
        values come out identical), and the LM head always keeps at least ``min_rows`` rows
        (keeping one row made verification differ from decoding by ~1e-5 on AVX2, not on VNNI).
        """
        ids = list(token_ids)
        keep = min(keep, len(ids))
        if cache.in_place and len(ids) < self.min_rows <= cache.length + len(ids):
            back = self.min_rows - len(ids)
            ids = cache.tokens[cache.length - back:] + ids
            cache = cache.cropped(cache.length - back)
        n, past = len(ids), cache.length
        rows_kept = min(n, max(keep, self.min_rows))  # the LM head, too, never multiplies a single row
        cache = cache.with_capacity(past + n)
        binding = cache.binding  # set only for the in-place layout
        if binding is None:
            binding = self.session.io_binding()
            for layer, (key, value) in enumerate(cache.layers):
                binding.bind_ortvalue_input(f"past_key_values.{layer}.key", key)
                binding.bind_ortvalue_input(f"past_key_values.{layer}.value", value)
                if cache.in_place:
                    binding.bind_ortvalue_output(f"present.{layer}.key", key)
                    binding.bind_ortvalue_output(f"present.{layer}.value", value)
            if not cache.in_place:
                for name in self.outputs[1:]:
                    binding.bind_output(name, "cpu")
        feeds = {
            "input_ids": np.asarray([ids], dtype=np.int64),
            "attention_mask": np.ones((1, past + n), dtype=np.int64),
            "position_ids": np.arange(past, past + n, dtype=np.int64)[None, :],
            "logits_to_keep": np.asarray([rows_kept], dtype=np.int64),
        }
        for name, value in feeds.items():
            if name in self.inputs:
                binding.bind_cpu_input(name, value)
        binding.bind_output(self.outputs[0], "cpu")
        self.session.run_with_iobinding(binding)
        values = binding.get_outputs()  # in binding order; re-binding logits keeps its (last) place
        logits = values[-1].numpy()[0, -keep:]
        tokens = cache.tokens + ids
        if cache.in_place:
            return logits, KVCache(cache.layers, tokens, in_place=True, binding=binding)
        layers = [(values[2 * i], values[2 * i + 1]) for i in range(self.num_layers)]
        return logits, KVCache(layers, tokens, in_place=False)


def _sample(logits: np.ndarray, options: GenerationOptions, rng: np.random.Generator) -> int:
    if options.temperature <= 0:
        return int(np.argmax(logits))
    scaled = logits.astype(np.float64) / options.temperature
    probs = np.exp(scaled - scaled.max())
    probs /= probs.sum()
    if options.top_p < 1.0:
        order = np.argsort(-probs)
        cumulative = np.cumsum(probs[order])
        keep = order[: int(np.searchsorted(cumulative, options.top_p)) + 1]
        mask = np.zeros_like(probs)
        mask[keep] = probs[keep]
        probs = mask / mask.sum()
    return int(rng.choice(len(probs), p=probs))


class OnnxBackend:
    """Streams answers from an ``OnnxLM``, one generation per worker thread."""

    def __init__(self, lm: OnnxLM, prefix_cache_bytes: int = 256 << 20, speculation_k: int = 8,
                 draft: Drafter | None = None) -> None:
        self.lm = lm
        self.model_id = lm.model_id
        self.prefix_cache = PrefixCache(prefix_cache_bytes)
        self.speculation_k = speculation_k
        self.draft_model = draft
        self.on_speculation: Callable[[int, int], None] | None = None

    async def close(self) -> None:
        return None

    def encode_prompt(self, prompt: Prompt) -> tuple[list[int], list[int]]:
        """Token ids of the whole prompt and the token offsets of its prefix boundaries.

        Each message is tokenized on its own: ChatML turns start and end with special tokens, so
        tokenizing per turn gives the same ids as the whole text while making the boundaries exact.
        """
        chunks = turn_texts(prompt.messages)
        ids: list[int] = []
        offsets: list[int] = []
        for index, chunk in enumerate(chunks):
            ids += self.lm.tokenizer.encode(chunk, add_special_tokens=False).ids
            if index + 1 in prompt.prefix_boundaries and index + 1 < len(prompt.messages) + 1:
                offsets.append(len(ids))
        return ids, sorted(set(offsets))

    def prompt_tokens(self, prompt: Prompt) -> int:
        return len(self.encode_prompt(prompt)[0])

    def prompt_budget(self, max_tokens: int) -> int:
        """Prompt tokens that leave room for an answer of ``max_tokens`` in the context window."""
        return self.lm.context_window - self._reserve(max_tokens)

    def _reserve(self, max_tokens: int) -> int:
        """KV room an answer needs beyond its prompt: its tokens, a draft in flight, the re-fed row."""
        return max_tokens + self.speculation_k + 2

    def _prefill(self, ids: list[int], boundaries: list[int], usage: Usage,
                 use_cache: bool, capacity: int) -> tuple[np.ndarray, KVCache]:
        """Prefill in chunks that end at every prefix boundary, reusing the longest cached one.

        The chunking is the same with or without a cache hit, so the result is bit-identical.
        """
        cache = self.lm.empty_cache(capacity)
        keys = [prefix_key(self.model_id, ids[:end]) for end in boundaries]
        start = 0
        if use_cache:
            for end, key in reversed(list(zip(boundaries, keys, strict=True))):
                hit = self.prefix_cache.get(key)
                if hit is not None:
                    cache, start = self.lm.resume(hit, capacity), end
                    usage.cached_input_tokens = end
                    break
        for end, key in zip(boundaries, keys, strict=True):
            if end <= start:
                continue
            _, cache = self.lm.forward(ids[start:end], cache)
            if use_cache:
                self.prefix_cache.put(key, cache.frozen())
            start = end
        return self.lm.forward(ids[start:], cache)

    def generate(self, prompt: Prompt, options: GenerationOptions, cancel: threading.Event | None = None,
                 use_prefix_cache: bool = True, stats: StepStats | None = None) -> Iterator[TextDelta | Finished]:
        """Blocking generator; run it in a worker thread (``stream`` does)."""
        stats = stats or StepStats()
        ids, boundaries = self.encode_prompt(prompt)
        budget = self.lm.context_window - len(ids)
        if budget <= 0:
            raise LLMError(f"prompt of {len(ids)} tokens does not fit the {self.lm.context_window}-token context")
        max_tokens = min(options.max_tokens, budget)
        usage = Usage(input_tokens=len(ids))
        start = time.perf_counter()
        capacity = len(ids) + self._reserve(max_tokens)
        logits, cache = self._prefill(ids, boundaries, usage, use_prefix_cache, capacity)
        stats.prefill_s = time.perf_counter() - start
        rng = np.random.default_rng(options.seed)
        text = IncrementalText(self.lm.tokenizer, options.stop)
        drafter = self._drafter(options)
        adaptive = AdaptiveSpeculation(k=min(3, self.speculation_k), max_k=self.speculation_k)
        context = list(ids)
        output: list[int] = []
        finish = "length"
        next_token = _sample(logits[-1], options, rng)
        while True:
            if cancel is not None and cancel.is_set():
                finish = "cancelled"
                break
            if next_token == self.lm.eos_token_id:
                finish = "stop"
                break
            accepted = [next_token]
            output.append(next_token)
            context.append(next_token)
            if len(output) >= max_tokens:
                delta = text.push(accepted)
                if delta:
                    yield TextDelta(delta)
                break
            room = max_tokens - len(output)
            drafts = drafter.propose(context, min(adaptive.k, room)) \
                if drafter is not None and adaptive.enabled else []
            free = False
            if not drafts and isinstance(drafter, PromptLookupDrafter) and self.lm.min_rows > 1 and room > 1:
                free, drafts = True, drafter.guess(context)  # the step runs two rows anyway: the guess is free
            if drafts:
                logits, cache = self.lm.forward([next_token, *drafts], cache, keep=len(drafts) + 1)
                greedy = np.argmax(logits, axis=-1)
                n_ok = 0
                while n_ok < len(drafts) and int(greedy[n_ok]) == drafts[n_ok] and drafts[n_ok] != self.lm.eos_token_id:
                    n_ok += 1
                good = drafts[:n_ok]
                output.extend(good)
                context.extend(good)
                accepted.extend(good)
                cache = cache.cropped(cache.length - (len(drafts) - n_ok))
                next_token = int(greedy[n_ok])
                if free:
                    adaptive.tick()
                else:
                    adaptive.record(len(drafts), n_ok)
                usage.draft_tokens_proposed += len(drafts)
                usage.draft_tokens_accepted += n_ok
                if self.on_speculation is not None:
                    self.on_speculation(len(drafts), n_ok)
            else:
                adaptive.tick()
                logits, cache = self.lm.forward([next_token], cache)
                next_token = _sample(logits[-1], options, rng)
            stats.decode_steps += 1
            if stats.first_token_s == 0.0:
                stats.first_token_s = time.perf_counter() - start
            delta = text.push(accepted)
            if delta:
                yield TextDelta(delta)
            if text.stopped:
                finish = "stop"
                break
            if len(output) >= max_tokens:
                break
        rest = text.flush()
        if rest:
            yield TextDelta(rest)
        stats.speculation_disabled = adaptive.pauses > 0
        usage.output_tokens = len(output)
        yield Finished(text=text.text, finish_reason=finish, usage=usage, model_id=self.model_id)  # type: ignore[arg-type]

    def _drafter(self, options: GenerationOptions) -> Drafter | None:
        if options.temperature > 0 or options.speculation == "off":
            return None
        if options.speculation == "draft_model":
            if self.draft_model is None:
                raise LLMError("speculation=draft_model needs a draft model configured on the cloud core")
            return self.draft_model
        return PromptLookupDrafter()  # its index belongs to this generation's sequence

    async def stream(self, prompt: Prompt, options: GenerationOptions,
                     cancel: threading.Event | None = None) -> AsyncIterator[TextDelta | Finished]:
        cancel = cancel or threading.Event()
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[TextDelta | Finished | BaseException | None] = asyncio.Queue()

        def post(item: TextDelta | Finished | BaseException | None) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the consumer's loop is gone: nobody is listening any more
                cancel.set()

        def work() -> None:
            try:
                for event in self.generate(prompt, options, cancel):
                    post(event)
            except BaseException as exc:  # handed to the consumer, which re-raises it
                post(exc)
            finally:
                post(None)

        worker = threading.Thread(target=work, name="onnx-generate", daemon=True)
        worker.start()
        try:
            while (event := await queue.get()) is not None:
                if isinstance(event, BaseException):
                    raise event
                yield event
        finally:
            cancel.set()
