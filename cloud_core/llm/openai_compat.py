"""Backend for any OpenAI-compatible server (vLLM, TGI, llama.cpp's server) for production-size models.

Streams ``/chat/completions`` as server-sent events. Prefix caching is the server's job there
(vLLM's automatic prefix caching, llama.cpp's ``cache_prompt``); cached-input tokens are read
from the usage block where the server reports them.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import httpx

from cloud_core.llm._text import render_chatml
from cloud_core.llm.base import Finished, GenerationOptions, LLMError, Prompt, TextDelta, Usage

if TYPE_CHECKING:
    import threading
    from collections.abc import AsyncIterator

__all__ = ["OpenAICompatBackend"]

_FINISH = {"stop": "stop", "length": "length", "eos": "stop"}


class OpenAICompatBackend:
    def __init__(self, base_url: str, model: str = "", api_key: str = "", timeout_s: float = 120.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.model_id = model or "openai-compatible"
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(base_url=self.base_url, headers=headers,
                                         timeout=httpx.Timeout(timeout_s, connect=5.0))

    async def close(self) -> None:
        await self._client.aclose()

    async def _count_prompt(self, prompt: Prompt) -> int:
        """Prompt tokens by the server's tokenizer: vLLM's /tokenize, else llama-cpp-python's extras."""
        messages = [{"role": m.role, "content": m.content} for m in prompt.messages]
        root = self.base_url.removesuffix("/v1")
        attempts: list[tuple[str, dict[str, Any], str]] = [
            (f"{root}/tokenize", {"model": self.model_id, "messages": messages}, "count"),
            (f"{root}/extras/tokenize/count", {"input": render_chatml(prompt.messages)}, "count"),
        ]
        for url, body, field in attempts:
            try:
                response = await self._client.post(url, json=body)
            except httpx.HTTPError:
                continue
            if response.status_code == 200 and field in response.json():
                return int(response.json()[field])
        return sum(len(m.content) for m in prompt.messages) // 4  # last resort: about 4 characters a token

    def _body(self, prompt: Prompt, options: GenerationOptions) -> dict[str, Any]:
        body: dict[str, Any] = {
            "messages": [{"role": m.role, "content": m.content} for m in prompt.messages],
            "max_tokens": options.max_tokens,
            "temperature": options.temperature,
            "top_p": options.top_p,
            "stream": True,
            "stream_options": {"include_usage": True},
            "cache_prompt": True,  # llama.cpp: reuse the KV cache of the shared prefix
        }
        if self.model_id != "openai-compatible":
            body["model"] = self.model_id
        if options.seed:
            body["seed"] = options.seed
        if options.stop:
            body["stop"] = list(options.stop)
        return body

    async def complete_with_tools(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]],
                                  tool_choice: Any, max_tokens: int) -> tuple[dict[str, Any], tuple[int, int]]:
        """One non-streamed chat completion with the OpenAI tools API: the assistant message (content and/or
        ``tool_calls``) and (input, output) tokens. Greedy: a procedure is not a place for sampling."""
        body: dict[str, Any] = {"messages": messages, "tools": tools, "tool_choice": tool_choice,
                                "max_tokens": max_tokens, "temperature": 0.0, "cache_prompt": True}
        if self.model_id != "openai-compatible":
            body["model"] = self.model_id
        try:
            response = await self._client.post("/chat/completions", json=body)
        except httpx.HTTPError as exc:
            raise LLMError(f"cannot reach the model server at {self.base_url}: {exc}") from exc
        if response.status_code != 200:
            raise LLMError(f"{self.base_url} answered HTTP {response.status_code}: {response.text[:300]}")
        data = response.json()
        choices = data.get("choices") or [{}]
        usage = data.get("usage") or {}
        return dict(choices[0].get("message") or {}), (int(usage.get("prompt_tokens", 0)),
                                                       int(usage.get("completion_tokens", 0)))

    async def stream(self, prompt: Prompt, options: GenerationOptions,
                     cancel: threading.Event | None = None) -> AsyncIterator[TextDelta | Finished]:
        text: list[str] = []
        usage = Usage()
        finish = "stop"
        chunks = 0
        try:
            async with self._client.stream("POST", "/chat/completions", json=self._body(prompt, options)) as response:
                if response.status_code != 200:
                    detail = (await response.aread()).decode(errors="replace")[:300]
                    raise LLMError(f"{self.base_url} answered HTTP {response.status_code}: {detail}")
                async for line in response.aiter_lines():
                    if cancel is not None and cancel.is_set():
                        finish = "cancelled"
                        break
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    chunk = json.loads(data)
                    for choice in chunk.get("choices") or []:
                        piece = (choice.get("delta") or {}).get("content") or ""
                        if piece:
                            chunks += 1
                            text.append(piece)
                            yield TextDelta(piece)
                        if choice.get("finish_reason"):
                            finish = _FINISH.get(choice["finish_reason"], "stop")
                    if chunk.get("usage"):
                        reported = chunk["usage"]
                        usage.input_tokens = int(reported.get("prompt_tokens", 0))
                        usage.output_tokens = int(reported.get("completion_tokens", 0))
                        details = reported.get("prompt_tokens_details") or {}
                        usage.cached_input_tokens = int(details.get("cached_tokens") or 0)
                    timings = chunk.get("timings") or {}
                    if "cache_n" in timings:  # llama.cpp reports its prefix reuse here
                        usage.cached_input_tokens = int(timings["cache_n"])
            if not usage.input_tokens:
                # Some servers (llama-cpp-python) send no usage when streaming: they stream one token
                # per chunk, and the prompt is counted with the server's own tokenizer.
                usage.output_tokens = chunks
                usage.input_tokens = await self._count_prompt(prompt)
        except httpx.HTTPError as exc:
            raise LLMError(f"cannot reach the model server at {self.base_url}: {exc}") from exc
        yield Finished(text="".join(text), finish_reason=finish, usage=usage,  # type: ignore[arg-type]
                       model_id=self.model_id)
