"""The ONNX Runtime LLM backend on the real int4 SmolLM2: decoding, prefix cache and speculation.

Exactness is the contract: the prefix cache and speculative decoding may change the speed, never
the greedy text.
"""

from __future__ import annotations

import threading
import time

import pytest

from cloud_core.llm.base import ChatMessage, Finished, GenerationOptions, LLMError, Prompt, TextDelta
from cloud_core.llm.onnx import OnnxBackend
from cloud_core.llm.speculation import ModelDrafter

pytestmark = pytest.mark.slow

POLICY = (
    "You are the support assistant of Demo Shop. Returns: items can be returned within 30 days of delivery "
    "in their original packaging. Refunds are paid within 10 business days to the original payment method. "
    "Shipping: standard delivery takes 3 to 5 business days; express delivery takes 1 business day."
)
QUOTING = ("Translate to English: Hello, I ordered a blue winter jacket in size M with order number A-1001 on "
           "3 March and it arrived damaged, the zip is broken and there is a hole in the left sleeve.")
QUESTIONS = [
    "How long does a refund take?",
    "Can I return shoes I wore once?",
    QUOTING,
]


def _prompt(question: str, system: str = POLICY) -> Prompt:
    return Prompt((ChatMessage("system", system), ChatMessage("user", question)))


def _run(backend: OnnxBackend, prompt: Prompt, **options) -> tuple[str, list[str], Finished]:
    events = list(backend.generate(prompt, GenerationOptions(**options)))
    final = events[-1]
    assert isinstance(final, Finished)
    deltas = [e.text for e in events[:-1] if isinstance(e, TextDelta)]
    return final.text, deltas, final


@pytest.fixture(scope="module")
def backend(llm):
    return OnnxBackend(llm, prefix_cache_bytes=256 << 20)


def test_greedy_answers_are_on_topic_and_streamed_as_deltas(backend):
    text, deltas, final = _run(backend, _prompt("How long does a refund take?"), max_tokens=48)
    assert "".join(deltas) == text
    assert len(deltas) > 3
    assert "refund" in text.lower()
    assert final.usage.output_tokens <= 48
    assert final.usage.input_tokens > 60
    assert final.finish_reason in {"stop", "length"}


def test_max_tokens_and_stop_sequences_end_the_answer(backend):
    _, _, final = _run(backend, _prompt(QUESTIONS[0]), max_tokens=5)
    assert final.usage.output_tokens == 5 and final.finish_reason == "length"
    full, _, _ = _run(backend, _prompt(QUESTIONS[0]), max_tokens=40)
    stop = full.split()[3]
    cut, deltas, final = _run(backend, _prompt(QUESTIONS[0]), max_tokens=40, stop=(stop,))
    assert final.finish_reason == "stop"
    assert stop not in cut and full.startswith(cut)
    assert "".join(deltas) == cut


def test_sampling_is_reproducible_with_a_seed_and_differs_across_seeds(backend):
    a, _, _ = _run(backend, _prompt(QUESTIONS[1]), max_tokens=24, temperature=0.9, top_p=0.95, seed=7)
    b, _, _ = _run(backend, _prompt(QUESTIONS[1]), max_tokens=24, temperature=0.9, top_p=0.95, seed=7)
    others = {_run(backend, _prompt(QUESTIONS[1]), max_tokens=24, temperature=0.9, seed=s)[0] for s in (1, 2, 3)}
    assert a == b
    assert len(others | {a}) > 1


def test_a_cached_prefix_gives_the_same_answer_and_reports_cached_tokens(llm):
    backend = OnnxBackend(llm, prefix_cache_bytes=256 << 20)
    for question in QUESTIONS:
        uncached = list(backend.generate(_prompt(question), GenerationOptions(max_tokens=40, speculation="off"),
                                         use_prefix_cache=False))[-1]
        first = list(backend.generate(_prompt(question), GenerationOptions(max_tokens=40, speculation="off")))[-1]
        second = list(backend.generate(_prompt(question), GenerationOptions(max_tokens=40, speculation="off")))[-1]
        assert uncached.text == first.text == second.text
        assert uncached.usage.cached_input_tokens == 0
        assert second.usage.cached_input_tokens > 50
    assert len(backend.prefix_cache) == 1  # one shared system prefix, reused by all three questions


def test_concurrent_answers_from_one_cached_prefix_never_write_into_each_other(llm):
    """The model appends keys and values in place: every request must start from its own copy."""
    backend = OnnxBackend(llm, prefix_cache_bytes=256 << 20)
    options = GenerationOptions(max_tokens=32, speculation="prompt_lookup")
    alone = {q: list(backend.generate(_prompt(q), options, use_prefix_cache=False))[-1].text for q in QUESTIONS}
    list(backend.generate(_prompt(QUESTIONS[0]), options))  # fills the prefix cache
    together: dict[str, list[str]] = {q: [] for q in QUESTIONS}

    def answer(question: str) -> None:
        for _ in range(2):
            together[question].append(list(backend.generate(_prompt(question), options))[-1].text)

    threads = [threading.Thread(target=answer, args=(q,)) for q in QUESTIONS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert together == {q: [alone[q], alone[q]] for q in QUESTIONS}


def test_the_prefix_cache_is_bounded_in_bytes(llm):
    backend = OnnxBackend(llm, prefix_cache_bytes=12 << 20)
    for i in range(4):
        list(backend.generate(_prompt(QUESTIONS[0], system=f"{POLICY} Branch {i}."), GenerationOptions(max_tokens=1)))
    assert backend.prefix_cache.nbytes <= 12 << 20
    assert 0 < len(backend.prefix_cache) < 4


@pytest.mark.parametrize("question", QUESTIONS)
def test_speculative_decoding_gives_exactly_the_greedy_text(backend, llm, question):
    plain, _, _ = _run(backend, _prompt(question), max_tokens=60, speculation="off")
    lookup, _, _ = _run(backend, _prompt(question), max_tokens=60, speculation="prompt_lookup")
    assert lookup == plain
    drafted = OnnxBackend(llm, draft=ModelDrafter(llm))
    by_draft, _, draft_final = _run(drafted, _prompt(question), max_tokens=60, speculation="draft_model")
    assert by_draft == plain
    # The same model as its own draft agrees with itself: every proposal is accepted.
    assert draft_final.usage.draft_tokens_accepted == draft_final.usage.draft_tokens_proposed > 0


SUPPORT_QUESTIONS = [
    "How long does a refund take?", "Can I return shoes I wore once?", "What does express shipping cost?",
    "My parcel is late, what can I do?", "Do you ship to Norway?", "How do I change my delivery address?",
    "The jacket arrived damaged, the zip is broken.", "I was charged twice for order 55512.",
    "Can I pay with PayPal?", "Where is my order A-1001?", "Please cancel my order, I ordered the wrong size.",
    "Wo ist meine Bestellung?", "Je voudrais retourner ma commande.", "Can I talk to a human?",
    "Is the blue winter jacket back in stock?", "Your courier left my parcel at the wrong door.",
    "How do I get a return label?", "Why was my refund only partial?",
    "Summarise: returns within 30 days of delivery in original packaging; refunds within 10 business days.",
    QUOTING, "Repeat after me: standard delivery takes 3 to 5 business days.",
]


def test_speculation_never_changes_the_greedy_text_over_twenty_prompts(backend, llm):
    drafted = OnnxBackend(llm, draft=ModelDrafter(llm))
    proposed = 0
    for n, question in enumerate(SUPPORT_QUESTIONS):
        plain, _, _ = _run(backend, _prompt(question), max_tokens=40, speculation="off")
        lookup, _, final = _run(backend, _prompt(question), max_tokens=40, speculation="prompt_lookup")
        proposed += final.usage.draft_tokens_proposed
        assert lookup == plain, question
        if n % 5 == 0:  # the draft-model path, with the model as its own draft (all accepted)
            assert _run(drafted, _prompt(question), max_tokens=40, speculation="draft_model")[0] == plain, question
    assert proposed > 100  # speculation really ran: a divergence would have had its chances


def test_prompt_lookup_accepts_drafts_when_the_answer_quotes_its_context(backend):
    prompt = _prompt(QUOTING, system="You are a helpful assistant.")
    _, _, final = _run(backend, prompt, max_tokens=60, speculation="prompt_lookup")
    assert final.usage.draft_tokens_accepted >= 10


def test_a_cancel_stops_generation_within_a_step(backend):
    cancel = threading.Event()
    events = backend.generate(_prompt(QUESTIONS[0]), GenerationOptions(max_tokens=400, speculation="off"), cancel)
    next(events)
    cancel.set()
    start = time.perf_counter()
    rest = list(events)
    assert time.perf_counter() - start < 1.0
    assert isinstance(rest[-1], Finished) and rest[-1].finish_reason == "cancelled"
    assert rest[-1].usage.output_tokens < 50


def test_a_prompt_longer_than_the_context_window_is_refused_with_its_size(backend, llm):
    huge = "word " * (llm.context_window + 10)
    with pytest.raises(LLMError, match="does not fit"):
        list(backend.generate(_prompt(huge), GenerationOptions(max_tokens=4)))


async def test_stream_runs_in_a_worker_and_can_be_abandoned(backend):
    seen = []
    async for event in backend.stream(_prompt(QUESTIONS[0]), GenerationOptions(max_tokens=30)):
        seen.append(event)
        if len(seen) == 2:
            break
    assert all(isinstance(e, TextDelta) for e in seen)
