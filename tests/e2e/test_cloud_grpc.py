"""The cloud core over a real gRPC port: streaming, deadlines, cancel, auth, health, reflection, memory."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time

import grpc
import msgspec
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from cloud_core.grounding import safe_template
from cloud_core.llm.onnx import OnnxBackend
from cloud_core.memory import open_store
from cloud_core.repetition import first_repeat
from cloud_core.server import CloudServer
from protos.triage.v1 import escalation_pb2 as pb
from protos.triage.v1 import escalation_pb2_grpc as pb_grpc
from tests.conftest import free_port
from triage.config import CloudConfig

pytestmark = pytest.mark.slow

TOKEN = "test-token-123"
AUTH = (("authorization", f"Bearer {TOKEN}"),)
ADMIN_TOKEN = "test-admin-token-456"
ADMIN = (("authorization", f"Bearer {ADMIN_TOKEN}"),)
SCOPED_TOKEN = "test-token-of-shop-b"


@pytest.fixture
async def cloud(llm, tmp_path):
    config = CloudConfig(port=free_port(), auth_tokens=f"{TOKEN}, shop-b={SCOPED_TOKEN}",
                         admin_tokens=f"demo|other={ADMIN_TOKEN}", memory=f"sqlite:///{tmp_path}/memory.db",
                         max_concurrent=1, max_queue=1, max_tokens=40, grace_s=1.0)
    server = CloudServer(config, OnnxBackend(llm), open_store(config.memory))
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def stub(cloud):
    async with grpc.aio.insecure_channel(f"127.0.0.1:{cloud.port}") as channel:
        yield pb_grpc.EscalationStub(channel)


def _request(key: str = "k-1", customer: str = "alice", message: str = "My parcel never arrived, what now?",
             **options) -> pb.EscalateRequest:
    return pb.EscalateRequest(
        idempotency_key=key, customer=pb.CustomerRef(tenant="demo", customer_id=customer), lang="en",
        message=message, intent="parcel_not_arrived", use_memory=True,
        passages=[pb.Passage(id="shipping", text="Standard delivery takes 3 to 5 business days.")],
        context=pb.CaseContext(order_id="A-1001", amount=pb.Money(currency="EUR", amount_minor=4990),
                               channel=pb.CHANNEL_CHAT),
        options=pb.GenerationOptions(**options))


async def _collect(call) -> tuple[list[str], pb.Final]:
    deltas, final = [], None
    async for event in call:
        if event.HasField("delta"):
            deltas.append(event.delta.text)
        else:
            final = event.final
    assert final is not None
    return deltas, final


async def test_escalate_streams_deltas_then_one_final_with_usage(stub):
    deltas, final = await _collect(stub.Escalate(_request(), metadata=AUTH, timeout=60))
    assert final.model_id == "SmolLM2-135M-Instruct-int4"
    assert final.usage.input_tokens > 50 and 0 < final.usage.output_tokens <= 40
    assert final.finish_reason in (pb.FINISH_REASON_STOP, pb.FINISH_REASON_LENGTH, pb.FINISH_REASON_GUARDED)
    if final.finish_reason == pb.FINISH_REASON_GUARDED:
        assert final.flagged_for_human and final.ungrounded
    else:
        assert "".join(deltas).strip() == final.text
        assert len(deltas) >= 1


async def test_an_answer_that_loops_ends_at_the_first_repeated_sentence(cloud, stub):
    # Measured: greedy SmolLM2-135M repeats its first sentence to this escalation until max_tokens,
    # on AVX2-only and on AVX-512 CPUs (the loop starts at once, so rounding cannot move it away).
    request = pb.EscalateRequest(
        idempotency_key="loop-1", customer=pb.CustomerRef(tenant="demo"), lang="en", intent="refund_not_received",
        message="You promised a refund a month ago and I still have nothing",
        options=pb.GenerationOptions(max_tokens=200))
    deltas, final = await _collect(stub.Escalate(request, metadata=AUTH, timeout=120))
    assert final.finish_reason == pb.FINISH_REASON_STOP
    assert cloud.metrics.repetition_cuts._value.get() == 1
    assert final.usage.output_tokens < 200
    assert "".join(deltas).strip() == final.text and final.text
    assert first_repeat(final.text) is None


async def test_an_answer_never_recites_the_system_instructions(stub):
    # Measured: greedy SmolLM2-135M answers this with two sentences of its own, then its instructions.
    request = pb.EscalateRequest(
        idempotency_key="echo-1", customer=pb.CustomerRef(tenant="demo"), lang="en", intent="charged_twice",
        message="you took the money two times for one order",
        passages=[pb.Passage(id="double", text="If a customer was charged twice, the duplicate payment is refunded "
                             "automatically within 5 business days once our payments team has confirmed it.")],
        options=pb.GenerationOptions(max_tokens=200))
    deltas, final = await _collect(stub.Escalate(request, metadata=AUTH, timeout=120))
    assert final.finish_reason == pb.FINISH_REASON_STOP
    assert "".join(deltas).strip() == final.text and final.text
    assert "customer support assistant of the online shop" not in final.text
    assert "politely and briefly" not in final.text


async def test_a_language_the_model_does_not_write_gets_the_safe_template_and_a_human(cloud, stub):
    request = pb.EscalateRequest(idempotency_key="pl-1", customer=pb.CustomerRef(tenant="demo"), lang="pl",
                                 intent="parcel_not_arrived", message="Paczka nigdy nie dotarła")
    deltas, final = await _collect(stub.Escalate(request, metadata=AUTH, timeout=60))
    assert deltas == []
    assert final.text == safe_template("pl")
    assert final.flagged_for_human and final.finish_reason == pb.FINISH_REASON_GUARDED
    assert final.usage.output_tokens == 0 and not final.ungrounded


async def test_the_same_idempotency_key_never_produces_a_second_answer(stub):
    _, first = await _collect(stub.Escalate(_request(key="same"), metadata=AUTH, timeout=60))
    deltas, again = await _collect(stub.Escalate(_request(key="same"), metadata=AUTH, timeout=60))
    assert again.replayed and not first.replayed
    assert again.text == first.text and again.escalation_id == first.escalation_id
    assert deltas == []


async def test_the_customer_memory_prefix_is_cached_across_escalations(stub):
    await _collect(stub.Escalate(_request(key="m-1"), metadata=AUTH, timeout=60))
    _, second = await _collect(stub.Escalate(_request(key="m-2", message="And when is my refund paid?"),
                                             metadata=AUTH, timeout=60))
    # The first escalation wrote memory, so the second has a new prefix; the third reuses it.
    _, third = await _collect(stub.Escalate(_request(key="m-3", message="Thanks. Anything else?"),
                                            metadata=AUTH, timeout=60))
    # Every escalation reuses the instructions prefix; from the second on, the customer's facts
    # (the order id recorded by the first) are a longer prefix that the third reuses.
    assert second.usage.cached_input_tokens > 0
    assert third.usage.cached_input_tokens > second.usage.cached_input_tokens


async def test_a_call_without_a_valid_token_is_unauthenticated(stub):
    for metadata in ((), (("authorization", "Bearer wrong"),), (("authorization", TOKEN),)):
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await _collect(stub.Escalate(_request(), metadata=metadata, timeout=10))
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "Bearer" in info.value.details()
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.GetMemory(pb.GetMemoryRequest(customer=pb.CustomerRef(tenant="demo", customer_id="a")))
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_a_service_token_opens_escalations_only_and_every_token_only_its_tenants(stub):
    # The old code let the edge's token read, export and erase any tenant's customer memory.
    alice = pb.CustomerRef(tenant="demo", customer_id="alice")
    admin_calls = {
        "GetMemory": lambda md: stub.GetMemory(pb.GetMemoryRequest(customer=alice), metadata=md, timeout=5),
        "ExportMemory": lambda md: stub.ExportMemory(pb.GetMemoryRequest(customer=alice), metadata=md, timeout=5),
        "ForgetCustomer": lambda md: stub.ForgetCustomer(pb.ForgetCustomerRequest(customer=alice), metadata=md,
                                                         timeout=5),
        "Resolve": lambda md: stub.Resolve(pb.ResolveRequest(tenant="demo", escalation_id="e", intent="x"),
                                           metadata=md, timeout=5),
    }
    for name, call in admin_calls.items():
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await call(AUTH)
        assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED, name
        assert "admin token" in info.value.details()
    with pytest.raises(grpc.aio.AioRpcError) as info:
        _ = [r async for r in stub.ListEscalations(pb.ListEscalationsRequest(tenant="demo"), metadata=AUTH, timeout=5)]
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert (await admin_calls["GetMemory"](ADMIN)).customer.customer_id == "alice"

    scoped = (("authorization", f"Bearer {SCOPED_TOKEN}"),)
    with pytest.raises(grpc.aio.AioRpcError) as info:  # shop-b's edge asking for demo's shopper
        await _collect(stub.Escalate(_request(key="cross-tenant"), metadata=scoped, timeout=10))
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED and "'demo'" in info.value.details()
    with pytest.raises(grpc.aio.AioRpcError) as info:
        _ = [d async for d in stub.SubscribeDeliveries(pb.SubscribeDeliveriesRequest(tenant="demo", edge="e"),
                                                        metadata=scoped, timeout=2)]
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as info:  # the admin token names demo and other only
        await stub.GetMemory(pb.GetMemoryRequest(customer=pb.CustomerRef(tenant="shop-b", customer_id="x")),
                             metadata=ADMIN, timeout=5)
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_health_and_reflection_answer_without_a_token(cloud):
    async with grpc.aio.insecure_channel(f"127.0.0.1:{cloud.port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "triage.v1.Escalation"):
            reply = await health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
        reflect = reflection_pb2_grpc.ServerReflectionStub(channel)
        responses = reflect.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
        names = set()
        async for response in responses:
            names |= {s.name for s in response.list_services_response.service}
            break
        assert {"triage.v1.Escalation", "grpc.health.v1.Health"} <= names


async def test_a_deadline_stops_generation_and_frees_the_slot(cloud, stub):
    # How long this answer takes depends on the CPU and on where the model stops (a repeated
    # sentence ends it early on some ISAs: 0.23 s on a Zen 4), so the deadline is a third of it.
    started = time.perf_counter()
    await _collect(stub.Escalate(_request(key="timed", max_tokens=400), metadata=AUTH, timeout=60))
    deadline = max(0.05, (time.perf_counter() - started) / 3)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await _collect(stub.Escalate(_request(key="slow", max_tokens=400), metadata=AUTH, timeout=deadline))
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    await _wait_for(lambda: cloud.service.slots.running == 0)
    _, final = await _collect(stub.Escalate(_request(key="after-deadline"), metadata=AUTH, timeout=60))
    assert final.usage.output_tokens > 0


async def test_a_cancelled_call_stops_generation_at_once(cloud, stub):
    call = stub.Escalate(_request(key="cancel-me", max_tokens=400, speculation=pb.SPECULATION_OFF),
                         metadata=AUTH, timeout=60)
    await _wait_for(lambda: cloud.service.slots.running == 1)
    call.cancel()
    await _wait_for(lambda: cloud.service.slots.running == 0, timeout=2.0)
    assert cloud.metrics.escalations.labels("cancelled")._value.get() == 1


async def test_past_the_queue_limit_calls_get_resource_exhausted(cloud, stub):
    calls = [stub.Escalate(_request(key=f"q-{i}", max_tokens=200), metadata=AUTH, timeout=60) for i in range(3)]
    results = await asyncio.gather(*(_collect(c) for c in calls), return_exceptions=True)
    refused = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(refused) == 1  # one running, one queued, the third refused
    assert refused[0].code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "waiting" in refused[0].details()


async def test_memory_get_export_and_forget_one_customer(stub):
    await _collect(stub.Escalate(_request(key="mem-a", customer="alice"), metadata=AUTH, timeout=60))
    await _collect(stub.Escalate(_request(key="mem-b", customer="bob"), metadata=AUTH, timeout=60))
    alice = pb.CustomerRef(tenant="demo", customer_id="alice")
    memory = await stub.GetMemory(pb.GetMemoryRequest(customer=alice), metadata=ADMIN, timeout=5)
    assert [t.role for t in memory.turns] == [pb.ROLE_SHOPPER, pb.ROLE_ASSISTANT]
    assert {f.key: f.value for f in memory.facts} == {"last_order_id": "A-1001"}
    assert memory.facts[0].source.startswith("escalation:")
    exported = await stub.ExportMemory(pb.GetMemoryRequest(customer=alice), metadata=ADMIN, timeout=5)
    document = json.loads(exported.json)
    assert document["customer"] == "alice" and len(document["turns"]) == 2
    forgotten = await stub.ForgetCustomer(pb.ForgetCustomerRequest(customer=alice), metadata=ADMIN, timeout=5)
    assert (forgotten.turns_deleted, forgotten.facts_deleted) == (2, 1)
    empty = await stub.GetMemory(pb.GetMemoryRequest(customer=alice), metadata=ADMIN, timeout=5)
    assert not empty.turns and not empty.facts
    bob = await stub.GetMemory(pb.GetMemoryRequest(customer=pb.CustomerRef(tenant="demo", customer_id="bob")),
                               metadata=ADMIN, timeout=5)
    assert len(bob.turns) == 2


async def test_a_resolution_is_recorded_with_provenance_and_listed_for_distillation(stub):
    _, final = await _collect(stub.Escalate(_request(key="res-1", message="Do you offer gift wrapping for orders?"),
                                            metadata=AUTH, timeout=60))
    assert final.personal  # the request carried an order id and an amount: never cache it
    resolved = await stub.Resolve(pb.ResolveRequest(
        tenant="demo", escalation_id=final.escalation_id, intent="gift_wrapping",
        answers={"en": "Yes, gift wrapping costs 3 EUR per order."}, edge_could_answer=True,
        resolved_by="agent:maria"), metadata=ADMIN, timeout=5)
    assert resolved.message == "Do you offer gift wrapping for orders?" and resolved.resolved_by == "agent:maria"
    listed = [r async for r in stub.ListResolutions(pb.ListResolutionsRequest(tenant="demo"), metadata=ADMIN,
                                                     timeout=5)]
    assert [(r.escalation_id, r.intent, r.lang) for r in listed] == [(final.escalation_id, "gift_wrapping", "en")]
    assert dict(listed[0].answers) == {"en": "Yes, gift wrapping costs 3 EUR per order."}
    other_tenant = [r async for r in stub.ListResolutions(pb.ListResolutionsRequest(tenant="other"), metadata=ADMIN,
                                                           timeout=5)]
    assert other_tenant == []
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.Resolve(pb.ResolveRequest(tenant="other", escalation_id=final.escalation_id, intent="x"),
                           metadata=ADMIN, timeout=5)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


async def test_bad_requests_name_the_missing_field(stub):
    cases = [(pb.EscalateRequest(message="hi", customer=pb.CustomerRef(tenant="demo")), "idempotency_key"),
             (pb.EscalateRequest(idempotency_key="x", customer=pb.CustomerRef(tenant="demo")), "message"),
             (pb.EscalateRequest(idempotency_key="x", message="hi"), "tenant")]
    for request, field in cases:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await _collect(stub.Escalate(request, metadata=AUTH, timeout=5))
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field in info.value.details()


async def test_a_malformed_protobuf_is_rejected_and_the_server_keeps_serving(cloud, stub):
    async with grpc.aio.insecure_channel(f"127.0.0.1:{cloud.port}") as channel:
        raw = channel.unary_stream("/triage.v1.Escalation/Escalate", request_serializer=lambda b: b,
                                   response_deserializer=lambda b: b)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            async for _ in raw(b"\xff\xff\xff\xff\x0f garbage", metadata=AUTH, timeout=5):
                pass
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "malformed triage.v1.EscalateRequest" in info.value.details()
    _, final = await _collect(stub.Escalate(_request(key="after-garbage"), metadata=AUTH, timeout=60))
    assert final.usage.output_tokens > 0


async def test_two_replicas_on_postgresql_share_memory_and_never_answer_a_key_twice(llm, postgres_url):
    replicas = []
    for _ in range(2):
        config = CloudConfig(port=free_port(), auth_tokens=TOKEN, admin_tokens=ADMIN_TOKEN, memory=postgres_url,
                             max_tokens=30)
        replicas.append(CloudServer(config, OnnxBackend(llm), open_store(postgres_url)))
        await replicas[-1].start()
    try:
        finals = []
        for replica in replicas:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{replica.port}") as channel:
                stub = pb_grpc.EscalationStub(channel)
                finals.append((await _collect(stub.Escalate(_request(key="pg-1"), metadata=AUTH, timeout=60)))[1])
                memory = await stub.GetMemory(pb.GetMemoryRequest(customer=pb.CustomerRef(
                    tenant="demo", customer_id="alice")), metadata=ADMIN, timeout=5)
                assert len(memory.turns) == 2
        assert not finals[0].replayed and finals[1].replayed
        assert finals[0].text == finals[1].text
    finally:
        for replica in replicas:
            await replica.stop()


async def _wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


def test_triage_cloud_serves_health_and_drains_on_sigterm(llm_folder, tmp_path):
    port = free_port()
    env = {**os.environ, "TRIAGE_CLOUD__AUTH_TOKENS": TOKEN, "TRIAGE_CLOUD__MODEL_DIR": str(llm_folder)}
    proc = subprocess.Popen([sys.executable, "-m", "commands", "cloud", "--port", str(port), "--memory",
                             f"sqlite:///{tmp_path}/m.db"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        health = health_pb2_grpc.HealthStub(channel)
        deadline = time.monotonic() + 60
        while True:
            try:
                status = health.Check(health_pb2.HealthCheckRequest(), timeout=1).status
                if status == health_pb2.HealthCheckResponse.SERVING:
                    break
            except grpc.RpcError:
                pass
            assert proc.poll() is None, proc.communicate()[0].decode()
            assert time.monotonic() < deadline, "the cloud core did not become healthy in 60 s"
            time.sleep(0.2)
        channel.close()
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=20)[0].decode()
        assert proc.returncode == 0, output
        assert "auth on" in output and "draining" in output
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_listening_beyond_loopback_without_tokens_is_refused(llm):
    from cloud_core.server import ServerConfigError

    with pytest.raises(ServerConfigError, match="AUTH_TOKENS"):
        CloudServer(CloudConfig(host="0.0.0.0", port=free_port()), OnnxBackend(llm), open_store("sqlite:///:memory:"))


def test_the_cloud_config_is_typed():
    assert msgspec.convert({"port": "6000"}, CloudConfig, strict=False).port == 6000


async def test_unauthenticated_health_streams_cannot_starve_authenticated_calls(cloud, stub):
    # Before the open-call budget, 82 Health.Watch streams (no token needed) filled the server's
    # maximum_concurrent_rpcs and every authenticated Escalate and GetMemory got RESOURCE_EXHAUSTED.
    async with grpc.aio.insecure_channel(f"127.0.0.1:{cloud.port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        watches = [health.Watch(health_pb2.HealthCheckRequest(service="")) for _ in range(120)]
        outcomes = await asyncio.gather(*(w.read() for w in watches), return_exceptions=True)
        served = [o for o in outcomes if isinstance(o, health_pb2.HealthCheckResponse)]
        refused = [o for o in outcomes if isinstance(o, grpc.aio.AioRpcError)]
        assert len(served) == cloud.config.max_open_calls
        assert refused and all(e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED for e in refused)
        memory = await stub.GetMemory(pb.GetMemoryRequest(customer=pb.CustomerRef(tenant="demo", customer_id="bob")),
                                      metadata=ADMIN, timeout=10)
        assert memory is not None
        _, final = await _collect(stub.Escalate(_request(key="starve-1"), metadata=AUTH, timeout=60))
        assert final.text
        for watch in watches:
            watch.cancel()


async def test_a_conversation_too_long_for_the_context_is_trimmed_and_a_message_too_long_is_refused(stub):
    heavy = "😡🔥💸📦" * 700  # 8,400 tokens (12 per 4 emoji): over the 8,192-token context on its own
    request = _request(key="trim-1", message="My parcel never arrived, what now?")
    request.conversation.extend([pb.Turn(role=pb.ROLE_SHOPPER, text=heavy),
                                 pb.Turn(role=pb.ROLE_SHOPPER, text="It was order A-1001.")])
    _, final = await _collect(stub.Escalate(request, metadata=AUTH, timeout=120))
    assert final.text and final.usage.input_tokens < 1000  # the oldest turn went first; the rest was kept
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await _collect(stub.Escalate(_request(key="trim-2", message=heavy), metadata=AUTH, timeout=60))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "shorten it" in refused.value.details()
