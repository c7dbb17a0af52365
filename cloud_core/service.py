"""The ``triage.v1.Escalation`` servicer: memory in, grounded streamed answer out, exactly once per key."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

import grpc
import msgspec

from cloud_core.cases import CaseDesk
from cloud_core.grounding import check_grounding, safe_template
from cloud_core.llm.base import CountsTokens, Finished, GenerationOptions, LLMError
from cloud_core.llm.openai_compat import OpenAICompatBackend
from cloud_core.memory.base import ANONYMOUS
from cloud_core.procedures import ShopDown
from cloud_core.prompting import CaseFacts, EscalationInput, build_prompt, grounding_context, instructions
from cloud_core.repetition import RepetitionGuard, split_sentences
from cloud_core.slots import GenerationSlots, QueueFull
from protos.triage.v1 import escalation_pb2 as pb
from protos.triage.v1 import escalation_pb2_grpc as pb_grpc

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from cloud_core.llm.base import LLMBackend, Prompt
    from cloud_core.memory import CustomerScope, MemoryStore
    from cloud_core.memory.base import StoredResolution
    from cloud_core.metrics import CloudMetrics
    from cloud_core.procedures import ProcedureRunner
    from triage.catalog.procedures import Procedure
    from triage.config import CloudConfig

__all__ = ["EscalationService"]

class PromptTooLong(ValueError):
    """The escalation cannot fit the model's context even with its conversation and memory left out."""


log = logging.getLogger(__name__)

_SPECULATION = {pb.SPECULATION_AUTO: "auto", pb.SPECULATION_OFF: "off",
                pb.SPECULATION_PROMPT_LOOKUP: "prompt_lookup", pb.SPECULATION_DRAFT_MODEL: "draft_model"}
_FINISH = {"stop": pb.FINISH_REASON_STOP, "length": pb.FINISH_REASON_LENGTH, "cancelled": pb.FINISH_REASON_STOP}
_CHANNELS = {pb.CHANNEL_CHAT: "chat", pb.CHANNEL_EMAIL: "email", pb.CHANNEL_PHONE: "phone",
             pb.CHANNEL_INTERNAL: "internal"}


def _amount(money: pb.Money) -> str:
    if not money.currency:
        return ""
    units, minor = divmod(abs(money.amount_minor), 100)
    sign = "-" if money.amount_minor < 0 else ""
    return f"{sign}{units}.{minor:02d} {money.currency}"


def _complete_sentences(text: str) -> tuple[list[str], str]:
    """Finished sentences and the unfinished rest: a sentence is finished once whitespace follows it
    ("4." may still become "4.95")."""
    parts = split_sentences(text)
    rest = parts.pop() if parts and not parts[-1][-1].isspace() else ""
    return parts, rest


def _options(request: pb.EscalateRequest, config: CloudConfig) -> GenerationOptions:
    o = request.options
    return GenerationOptions(
        max_tokens=min(o.max_tokens or config.max_tokens, 1024),
        temperature=max(0.0, o.temperature),
        top_p=o.top_p or 1.0,
        seed=o.seed,
        stop=tuple(o.stop),
        speculation=_SPECULATION.get(o.speculation, "auto"),  # type: ignore[arg-type]
    )


def _resolution(tenant: str, r: StoredResolution) -> pb.Resolution:
    out = pb.Resolution(tenant=tenant, escalation_id=r.escalation_id, message=r.message, lang=r.lang, intent=r.intent,
                        edge_could_answer=r.edge_could_answer, resolved_by=r.resolved_by, flagged=r.flagged,
                        guarded=r.guarded)
    out.answers.update(r.answers)
    out.resolved_at.FromNanoseconds(int(r.resolved_at * 1e9))
    return out


class EscalationService(pb_grpc.EscalationServicer):  # type: ignore[misc]
    def __init__(self, backend: LLMBackend, memory: MemoryStore, config: CloudConfig, metrics: CloudMetrics,
                 policy: str = "", procedures: dict[str, ProcedureRunner] | None = None,
                 desk: CaseDesk | None = None) -> None:
        self.backend = backend
        self.memory = memory
        self.config = config
        self.metrics = metrics
        self.policy = policy
        self.procedures = procedures or {}
        """Per tenant: the shop's dispute procedures, run before (and instead of) the model."""
        self.slots = GenerationSlots(config.max_concurrent, config.max_queue)
        self.desk = desk or CaseDesk(memory, config, self.procedures, metrics)
        """Flagged answers open cases for people; people's replies go back to the edges from here."""

    async def _scope(self, ref: pb.CustomerRef, context: grpc.aio.ServicerContext, *,
                     anonymous_ok: bool = False) -> CustomerScope:
        if not ref.tenant:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "customer.tenant is required")
        if not ref.customer_id and not anonymous_ok:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "customer.customer_id is required")
        return self.memory.customer(ref.tenant, ref.customer_id or ANONYMOUS)

    async def Escalate(self, request: pb.EscalateRequest,
                       context: grpc.aio.ServicerContext) -> AsyncIterator[pb.EscalateEvent]:
        if not request.idempotency_key:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "idempotency_key is required")
        if not request.message.strip():
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "message is empty")
        scope = await self._scope(request.customer, context, anonymous_ok=True)
        stored = await scope.reply(request.idempotency_key)
        if stored is not None:
            final = pb.Final.FromString(stored)
            await self.desk.open_from_escalation(request, final)  # a no-op unless the first attempt died before
            final.replayed = True
            self.metrics.escalations.labels("replayed").inc()
            yield pb.EscalateEvent(final=final)
            return
        use_memory = request.use_memory and bool(request.customer.customer_id)
        runner = self.procedures.get(request.customer.tenant)
        procedure = runner.select(request) if runner is not None else None
        if runner is not None and procedure is not None:  # the shop's procedure decides; no model, no slot
            escalation_id = uuid.uuid4().hex
            started = time.perf_counter()
            try:
                final = await self._procedure(runner, procedure, request, scope, escalation_id)
            except ShopDown as exc:  # the plan is journalled: the edge's retry carries it out
                self.metrics.escalations.labels("shop_down").inc()
                await context.abort(grpc.StatusCode.UNAVAILABLE, f"the shop did not answer ({exc}); retry later")
            self.metrics.procedures.labels(procedure.name, final.outcome.kind).inc()
            self.metrics.procedure_latency.observe(time.perf_counter() - started)
            yield pb.EscalateEvent(final=await self._keep(request, scope, final, use_memory))
            return
        try:
            async with self.slots.slot():
                # A dispute that fits no procedure: the model answers, and a person follows the case up.
                dispute = runner is not None and request.intent in runner.dispute_intents
                async for event in self._answer(request, scope, use_memory, dispute):
                    yield event
        except QueueFull as exc:
            self.metrics.queue_rejections.inc()
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc))
        except PromptTooLong as exc:  # this request's fault: the edge must not retry it, nor count it against us
            self.metrics.escalations.labels("too_long").inc()
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))

    async def _procedure(self, runner: ProcedureRunner, procedure: Procedure, request: pb.EscalateRequest,
                         scope: CustomerScope, escalation_id: str) -> pb.Final:
        if self.config.procedure_driver == "model" and isinstance(self.backend, OpenAICompatBackend):
            try:
                return await runner.answer_with_model(request, scope, escalation_id, procedure, self.backend,
                                                      self.config.max_tokens)
            except LLMError as exc:  # the journalled plan is the policy's either way: the engine carries it out
                log.warning("the model could not drive the procedure (%s); the engine does", exc)
                self.metrics.escalations.labels("model_down").inc()
        return await runner.answer(request, scope, escalation_id, procedure)

    async def _answer(self, request: pb.EscalateRequest, scope: CustomerScope, use_memory: bool,
                      dispute: bool = False) -> AsyncIterator[pb.EscalateEvent]:
        summary, facts, turns = "", [], []
        if use_memory:
            summary, facts, turns = (await scope.summary(), await scope.facts(),
                                     await scope.turns(self.config.memory_turns))
        ctx = request.context
        case = EscalationInput(
            tenant=request.customer.tenant, lang=request.lang or "en", message=request.message,
            conversation=tuple(("assistant" if t.role == pb.ROLE_ASSISTANT else "user", t.text)
                               for t in request.conversation),
            intent=request.intent, passages=tuple(p.text for p in request.passages),
            case=CaseFacts(order_id=ctx.order_id, amount=_amount(ctx.amount),
                           channel=_CHANNELS.get(ctx.channel, ""), extra=dict(ctx.facts)))
        escalation_id = uuid.uuid4().hex
        final: pb.Final | None = None
        if self.config.writes(case.lang):
            prompt = self._fitting_prompt(case, summary, facts, turns)
            async for event in self._generate(prompt, case, _options(request, self.config), escalation_id):
                if event.HasField("final"):
                    final = event.final
                else:
                    yield event
        else:
            final = self._unwritten_language(case.lang, escalation_id)
        assert final is not None, "_generate ends with a final event"
        final.personal = use_memory or bool(ctx.order_id or ctx.amount.currency or ctx.facts)
        final.flagged_for_human = final.flagged_for_human or dispute
        yield pb.EscalateEvent(final=await self._keep(request, scope, final, use_memory))

    async def _keep(self, request: pb.EscalateRequest, scope: CustomerScope, final: pb.Final,
                    use_memory: bool) -> pb.Final:
        """Store the final answer under its key (once), record the escalation and the customer's turns."""
        ctx = request.context
        escalation_id = final.escalation_id
        if not await scope.save_reply(request.idempotency_key, final.SerializeToString()):
            stored = await scope.reply(request.idempotency_key)  # another replica answered first: use its reply
            if stored is not None:
                final = pb.Final.FromString(stored)
                final.replayed = True
        else:
            await scope.record_escalation(escalation_id, request.message, request.lang or "en", request.intent,
                                          final.text, guarded=bool(final.ungrounded), personal=final.personal)
        await self.desk.open_from_escalation(request, final)
        if final.escalation_id == escalation_id and use_memory:
            await scope.add_turn("shopper", request.message, escalation_id)
            await scope.add_turn("assistant", final.text, escalation_id)
            order_id = ctx.order_id or final.outcome.order_id
            if order_id:
                await scope.put_fact("last_order_id", order_id, f"escalation:{escalation_id}")
        return final

    def _fitting_prompt(self, case: EscalationInput, summary: str, facts: list[Any], turns: list[Any]) -> Prompt:
        """The prompt within the model's token budget: earlier turns and memory go first, then the
        conversation, oldest first; a message that does not fit on its own is refused (``PromptTooLong``)."""
        prompt = first = build_prompt(case, summary, facts, turns, self.policy)
        if not isinstance(self.backend, CountsTokens):
            return prompt
        limit = self.backend.prompt_budget(self.config.max_tokens)
        smaller = itertools.chain(
            (build_prompt(case, s, f, [], self.policy) for s, f in ((summary, facts), ("", []))),
            (build_prompt(msgspec.structs.replace(case, conversation=case.conversation[n:]), "", [], [], self.policy)
             for n in range(1, len(case.conversation) + 1)))
        size = self.backend.prompt_tokens(prompt)
        for candidate in smaller:  # measured lazily: a prompt that fits is tokenized once here
            if size <= limit:
                break
            prompt, size = candidate, self.backend.prompt_tokens(candidate)
        if size > limit:
            raise PromptTooLong(f"the message alone takes {size} tokens, over the model's budget of {limit}: "
                                "shorten it")
        if prompt is not first:
            self.metrics.escalations.labels("trimmed").inc()
        return prompt

    def _unwritten_language(self, lang: str, escalation_id: str) -> pb.Final:
        """A language the model does not write: the safe template in it, and a human, not garbage."""
        self.metrics.escalations.labels("unwritten_language").inc()
        return pb.Final(text=safe_template(lang), finish_reason=pb.FINISH_REASON_GUARDED, flagged_for_human=True,
                        model_id=self.backend.model_id, escalation_id=escalation_id)

    async def _generate(self, prompt: Prompt, case: EscalationInput, options: GenerationOptions,
                        escalation_id: str) -> AsyncIterator[pb.EscalateEvent]:
        """Deltas as the guards release them, then one final event with usage."""
        cancel = threading.Event()
        start = time.perf_counter()
        first = True
        # Text is released sentence by sentence, each after the guards have checked it: a delta already
        # sent cannot be taken back. The first ungrounded sentence stops generation; the shopper
        # then gets the safe template (and a human gets the case), never the invented claim. The
        # first sentence that repeats an earlier one (or the instructions) also stops it; the answer
        # is what came before.
        context_text = grounding_context(prompt)
        repetition = RepetitionGuard(echo=instructions(case))  # nor may it recite its instructions
        pending = released = ""
        ungrounded: tuple[str, ...] = ()
        looped = False
        finished: Finished | None = None
        try:
            async for event in self.backend.stream(prompt, options, cancel):
                if isinstance(event, Finished):
                    finished = event
                    break
                if first:
                    self.metrics.ttft.observe(time.perf_counter() - start)
                    first = False
                if ungrounded or looped:
                    continue  # cancelled: what is still in flight is dropped
                pending += event.text
                ready, pending = _complete_sentences(pending)
                accepted = ""
                for sentence in ready:
                    if repetition.repeats(sentence):
                        looped = True
                        break
                    accepted += sentence
                verdict = check_grounding(accepted, context_text)
                if not verdict.grounded:
                    ungrounded = verdict.ungrounded
                elif accepted:
                    released += accepted
                    yield pb.EscalateEvent(delta=pb.Delta(text=accepted))
                if ungrounded or looped:
                    cancel.set()
        except asyncio.CancelledError:
            cancel.set()
            self.metrics.escalations.labels("cancelled").inc()
            raise
        assert finished is not None, "the backend ended without a Finished event"
        tail = pending if pending and not looped and not repetition.repeats(pending) else ""
        if not ungrounded:  # the whole answer once more: a claim may straddle two deltas
            ungrounded = check_grounding(released + tail, context_text).ungrounded
            if not ungrounded and tail:
                released += tail
                yield pb.EscalateEvent(delta=pb.Delta(text=tail))
        usage = finished.usage
        final = pb.Final(
            usage=pb.Usage(input_tokens=usage.input_tokens, cached_input_tokens=usage.cached_input_tokens,
                           output_tokens=usage.output_tokens, draft_tokens_proposed=usage.draft_tokens_proposed,
                           draft_tokens_accepted=usage.draft_tokens_accepted),
            model_id=finished.model_id, escalation_id=escalation_id)
        if looped:
            self.metrics.repetition_cuts.inc()
        if not ungrounded and released.strip():
            final.text = released.strip()
            # A loop cut short is the end of the model's turn, whatever stopped the decoder.
            final.finish_reason = pb.FINISH_REASON_STOP if looped else _FINISH[finished.finish_reason]
            self.metrics.escalations.labels("answered").inc()
        else:  # an invented claim, or nothing left to send (the first sentence recited the instructions)
            final.text = safe_template(case.lang)
            final.finish_reason = pb.FINISH_REASON_GUARDED
            final.flagged_for_human = True
            final.ungrounded.extend(ungrounded)
            self.metrics.guarded.inc()
            self.metrics.escalations.labels("guarded").inc()
        for kind, value in (("input", usage.input_tokens), ("cached_input", usage.cached_input_tokens),
                            ("output", usage.output_tokens)):
            self.metrics.tokens.labels(kind).inc(value)
        if usage.draft_tokens_proposed:
            self.metrics.speculation(usage.draft_tokens_proposed, usage.draft_tokens_accepted)
        yield pb.EscalateEvent(final=final)

    async def Resolve(self, request: pb.ResolveRequest,
                      context: grpc.aio.ServicerContext) -> pb.Resolution:
        if not request.tenant or not request.escalation_id or not request.intent:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "tenant, escalation_id and intent are required")
        learning = self.memory.learning(request.tenant)
        found = await learning.resolve(request.escalation_id, request.intent, dict(request.answers),
                                       edge_could_answer=request.edge_could_answer,
                                       resolved_by=request.resolved_by or "unknown", flagged=request.flagged)
        if not found:
            await context.abort(grpc.StatusCode.NOT_FOUND,
                                f"tenant {request.tenant!r} has no escalation {request.escalation_id!r}")
        stored = next(r for r in await learning.resolutions() if r.escalation_id == request.escalation_id)
        return _resolution(request.tenant, stored)

    async def ListResolutions(self, request: pb.ListResolutionsRequest,
                              context: grpc.aio.ServicerContext) -> AsyncIterator[pb.Resolution]:
        if not request.tenant:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "tenant is required")
        since = request.since.ToNanoseconds() / 1e9 if request.HasField("since") else 0.0
        for stored in await self.memory.learning(request.tenant).resolutions(since):
            yield _resolution(request.tenant, stored)

    async def ListEscalations(self, request: pb.ListEscalationsRequest,
                              context: grpc.aio.ServicerContext) -> AsyncIterator[pb.EscalationRecord]:
        if not request.tenant:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "tenant is required")
        for row in await self.memory.learning(request.tenant).escalations(request.unresolved_only):
            record = pb.EscalationRecord(escalation_id=row[0], message=row[1], lang=row[2], intent=row[3],
                                         answer=row[4], guarded=bool(row[5]), personal=bool(row[6]))
            record.created_at.FromNanoseconds(int(float(row[7]) * 1e9))
            yield record

    async def SubscribeDeliveries(self, request: pb.SubscribeDeliveriesRequest,
                                  context: grpc.aio.ServicerContext) -> AsyncIterator[pb.Delivery]:
        if not request.tenant or not request.edge:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "tenant and edge are required")
        async for delivery in self.desk.deliveries(request.tenant, request.edge):
            yield delivery

    async def AckDelivery(self, request: pb.AckDeliveryRequest,
                          context: grpc.aio.ServicerContext) -> pb.AckDeliveryResponse:
        if not request.tenant or not request.delivery_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "tenant and delivery_id are required")
        return pb.AckDeliveryResponse(acknowledged=await self.desk.ack(request.tenant, request.delivery_id))

    async def GetMemory(self, request: pb.GetMemoryRequest,
                        context: grpc.aio.ServicerContext) -> pb.CustomerMemory:
        scope = await self._scope(request.customer, context)
        turns = await scope.turns(request.max_turns or self.config.memory_turns)
        roles = {"shopper": pb.ROLE_SHOPPER, "assistant": pb.ROLE_ASSISTANT, "agent": pb.ROLE_AGENT}
        memory = pb.CustomerMemory(customer=request.customer, summary=await scope.summary())
        memory.turns.extend(pb.Turn(role=roles.get(t.role, pb.ROLE_UNSPECIFIED), text=t.text) for t in turns)
        for fact in await scope.facts():
            item = memory.facts.add(key=fact.key, value=fact.value, source=fact.source)
            item.recorded_at.FromNanoseconds(int(fact.recorded_at * 1e9))
        return memory

    async def ExportMemory(self, request: pb.GetMemoryRequest,
                           context: grpc.aio.ServicerContext) -> pb.MemoryExport:
        scope = await self._scope(request.customer, context)
        document: dict[str, Any] = await scope.export()
        return pb.MemoryExport(customer=request.customer, json=json.dumps(document, ensure_ascii=False).encode())

    async def ForgetCustomer(self, request: pb.ForgetCustomerRequest,
                             context: grpc.aio.ServicerContext) -> pb.ForgetCustomerResponse:
        scope = await self._scope(request.customer, context)
        counts = await scope.forget()
        edges = await self.desk.forget_at_edges(request.customer.tenant, request.customer.customer_id)
        return pb.ForgetCustomerResponse(turns_deleted=counts.turns, facts_deleted=counts.facts,
                                         summaries_deleted=counts.summaries, cases_deleted=counts.cases,
                                         edges_notified=edges)
