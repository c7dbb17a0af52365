"""The OpenAI-compatible backend against a real server: llama.cpp's, on the same SmolLM2 GGUF."""

from __future__ import annotations

import threading

import pytest

from bench.peers import llama_cpp_server
from cloud_core.llm.base import ChatMessage, Finished, GenerationOptions, LLMError, Prompt, TextDelta
from cloud_core.llm.build import fetch_gguf
from cloud_core.llm.openai_compat import OpenAICompatBackend

pytestmark = pytest.mark.slow

PROMPT = Prompt((ChatMessage("system", "You are the support assistant of Demo Shop. Refunds take 10 days."),
                 ChatMessage("user", "How long does a refund take?")))


@pytest.fixture(scope="module")
def server_url():
    with llama_cpp_server(fetch_gguf()) as url:
        yield url


async def _run(backend, options, cancel=None):
    events = [e async for e in backend.stream(PROMPT, options, cancel)]
    assert isinstance(events[-1], Finished)
    return [e.text for e in events[:-1] if isinstance(e, TextDelta)], events[-1]


async def test_streams_deltas_and_reports_usage(server_url):
    backend = OpenAICompatBackend(server_url, model="smollm2")
    try:
        deltas, final = await _run(backend, GenerationOptions(max_tokens=32))
        assert len(deltas) > 3 and "".join(deltas) == final.text
        assert "refund" in final.text.lower()
        assert final.usage.input_tokens > 20 and 0 < final.usage.output_tokens <= 32
        assert final.finish_reason in {"stop", "length"}
    finally:
        await backend.close()


async def test_max_tokens_and_stop_are_passed_through(server_url):
    backend = OpenAICompatBackend(server_url)
    try:
        _, short = await _run(backend, GenerationOptions(max_tokens=4))
        assert short.usage.output_tokens <= 4 and short.finish_reason == "length"
        _, full = await _run(backend, GenerationOptions(max_tokens=32))
        word = full.text.split()[2]
        _, stopped = await _run(backend, GenerationOptions(max_tokens=32, stop=(word,)))
        assert word not in stopped.text
    finally:
        await backend.close()


async def test_cancel_ends_the_stream(server_url):
    backend = OpenAICompatBackend(server_url)
    cancel = threading.Event()
    cancel.set()
    try:
        _, final = await _run(backend, GenerationOptions(max_tokens=200), cancel)
        assert final.finish_reason == "cancelled"
    finally:
        await backend.close()


async def test_an_unreachable_server_is_a_clear_error():
    backend = OpenAICompatBackend("http://127.0.0.1:9/v1")
    try:
        with pytest.raises(LLMError, match="cannot reach the model server"):
            await _run(backend, GenerationOptions(max_tokens=4))
    finally:
        await backend.close()
