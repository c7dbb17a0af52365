"""A model behind llama.cpp's OpenAI-compatible server drives the dispute procedures through tool calls,
constrained to valid calls by the server's grammar; the engine holds every call to the plan, so the
shop sees exactly the writes the policy allows, however small (and wrong) the model is."""

from __future__ import annotations

from decimal import Decimal

import grpc
import pytest

from bench.peers import llama_cpp_server
from cloud_core.llm.build import fetch_gguf
from cloud_core.llm.openai_compat import OpenAICompatBackend
from cloud_core.memory import open_store
from cloud_core.procedures import open_procedures
from cloud_core.server import CloudServer, ServerConfigError
from protos.triage.v1 import escalation_pb2 as pb
from protos.triage.v1 import escalation_pb2_grpc as pb_grpc
from tests.conftest import DEMO_CATALOG
from tests.shop_process import ShopProcess
from triage.config import CloudConfig

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model_url():
    with llama_cpp_server(fetch_gguf(), chat_format="chatml-function-calling") as url:
        yield url


@pytest.fixture
async def stub(model_url, shop, tmp_path):
    config = CloudConfig(port=0, memory=f"sqlite:///{tmp_path}/memory.db", backend="openai", openai_url=model_url,
                         procedure_driver="model", max_tokens=48, grace_s=1.0)
    tenant, runner = open_procedures(DEMO_CATALOG, shop.config(timeout_s=10.0))
    server = CloudServer(config, OpenAICompatBackend(model_url), open_store(config.memory),
                         procedures={tenant: runner})
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
    yield pb_grpc.EscalationStub(channel)
    await channel.close()
    await server.stop()


async def _escalate(stub, key: str, customer: str, order_id: str, lang: str, text: str) -> pb.Final:
    request = pb.EscalateRequest(
        idempotency_key=key, customer=pb.CustomerRef(tenant="demo", customer_id=customer), lang=lang, message=text,
        context=pb.CaseContext(order_id=order_id, identity=pb.IDENTITY_SIGNED_IN, channel=pb.CHANNEL_CHAT))
    finals = [e.final async for e in stub.Escalate(request, timeout=300) if e.HasField("final")]
    assert len(finals) == 1
    return finals[0]


def _refunds(shop: ShopProcess, order_id: str) -> list[Decimal]:
    return [Decimal(r["amount"]) for r in shop.order(order_id)["refunds"]]


async def test_the_models_calls_reach_the_shop_only_as_the_policy_allows_and_once(stub, shop) -> None:
    final = await _escalate(stub, "tools-1", "c-1010", "10243", "de", "Mir wurde für Bestellung 10243 zweimal "
                                                                      "49,85 € abgebucht")
    assert final.model_id != "procedure:charged_twice"  # the model drove it
    assert "Model tool calls: get_order" in final.summary.text  # the engine always lets it read first
    refunds = _refunds(shop, "10243")
    assert refunds in ([], [Decimal("49.85")])  # the duplicate, or nothing: never the model's own amount
    assert final.outcome.kind == ("refunded" if refunds else "human")
    again = await _escalate(stub, "tools-1", "c-1010", "10243", "de", "Mir wurde für Bestellung 10243 zweimal "
                                                                      "49,85 € abgebucht")
    assert again.replayed and again.text == final.text
    assert _refunds(shop, "10243") == refunds


async def test_where_the_policy_moves_no_money_nothing_the_model_calls_moves_any(stub, shop) -> None:
    final = await _escalate(stub, "tools-2", "c-1006", "10238", "nl",
                            "Volgens PostNL is bestelling 10238 bezorgd maar ik heb niets ontvangen")
    assert final.outcome.kind == "human" and final.flagged_for_human
    order = shop.order("10238")
    assert order["refunds"] == [] and order["replacements"] == [] and order["return_labels"] == []


def test_the_model_can_drive_procedures_only_behind_an_openai_compatible_server(tmp_path) -> None:
    with pytest.raises(ServerConfigError, match=r"procedure_driver = 'model' needs cloud\.backend = 'openai'"):
        CloudServer(CloudConfig(port=0, procedure_driver="model"), OpenAICompatBackend("http://127.0.0.1:9"),
                    open_store(f"sqlite:///{tmp_path}/m.db"))
