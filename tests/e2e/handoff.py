"""A person at a helpdesk, on the cloud's Cases API: what the hand-off tests and the console test share."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid

import grpc

from protos.triage.v1 import cases_pb2 as cpb
from protos.triage.v1 import cases_pb2_grpc as cpb_grpc
from tests.conftest import DEMO_CATALOG, CloudProcess, free_port, stop_process, wait_until_answering
from tests.e2e.shoppers import SHOP_SECRET
from tests.shop_process import ShopProcess

__all__ = ["AGENTS", "AGENT_TOKEN", "DEV16", "OTHER_TENANT_TOKEN", "ConsoleProcess", "Helpdesk", "handoff_cloud"]

AGENT_TOKEN = "anna-agent-token-0123456789"
OTHER_TENANT_TOKEN = "bob-other-shop-token-0123456789"
AGENTS = f"demo:anna:Anna={AGENT_TOKEN}, other:bob:Bob={OTHER_TENANT_TOKEN}"
DEV16 = "De donsjas van bestelling 10247 is kapot, ik wil mijn geld terug, geen vervanging"
"""dev16 of dialogues_dev.jsonl (c-1006, nl): a refund of 249.00, above the 150.00 limit, so a proposal."""


def handoff_cloud(llm_folder, shop: ShopProcess, memory, follow_up_after_s: float = 600.0) -> CloudProcess:
    return CloudProcess(llm_folder, memory, env={
        "TRIAGE_CLOUD__CATALOG": str(DEMO_CATALOG), "TRIAGE_SHOP__URL": shop.url, "TRIAGE_SHOP__SECRET": SHOP_SECRET,
        "TRIAGE_SHOP__TIMEOUT_S": "10", "TRIAGE_CLOUD__AGENT_TOKENS": AGENTS,
        "TRIAGE_CLOUD__FOLLOW_UP_AFTER_S": str(follow_up_after_s), "TRIAGE_CLOUD__CASES_POLL_S": "0.5"}).start()


class ConsoleProcess:
    """A real ``triage agent`` process (the reference console) on a free loopback port."""

    def __init__(self, cloud: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([sys.executable, "-m", "commands", "agent", "--port", str(self.port), "--cloud",
                                      cloud], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if not wait_until_answering(self.proc, self.url + "/", name="agent console", output=self._output,
                                    poll_s=0.2):
            self.stop()
            raise RuntimeError("the agent console did not answer within 60 s")

    def _output(self) -> str:
        return self.proc.stdout.read().decode() if self.proc.stdout else ""

    def stop(self) -> None:
        stop_process(self.proc)
        if self.proc.stdout:
            self.proc.stdout.close()


class Helpdesk:
    """One agent's gRPC client of the Cases API."""

    def __init__(self, address: str, token: str = AGENT_TOKEN) -> None:
        self.channel = grpc.aio.insecure_channel(address)
        self.stub = cpb_grpc.CasesStub(self.channel)
        self.metadata = (("authorization", f"Bearer {token}"),)

    async def close(self) -> None:
        await self.channel.close()

    def watch(self, cursor: int = 0):
        return self.stub.WatchCases(cpb.WatchCasesRequest(cursor=cursor), metadata=self.metadata)

    async def wait_for_case(self, case_id: str, state: int, timeout_s: float = 20.0) -> tuple[cpb.CaseEvent, float]:
        """The first event of ``case_id`` in ``state`` on a fresh watch, and when it arrived."""
        call = self.watch()
        deadline = time.monotonic() + timeout_s
        try:
            while True:
                event = await asyncio.wait_for(call.read(), deadline - time.monotonic())
                assert event is not grpc.aio.EOF, "the watch ended"
                if event.case.case_id == case_id and event.case.state == state:
                    return event, time.monotonic()
        finally:
            call.cancel()

    async def reply(self, case_id: str, text: str, request_id: str | None = None,
                    quick_replies: tuple[str, ...] = ()) -> cpb.CaseView:
        return await self.stub.ReplyToCase(cpb.ReplyToCaseRequest(
            case_id=case_id, text=text, request_id=request_id or uuid.uuid4().hex, quick_replies=list(quick_replies)),
            metadata=self.metadata)

    async def decide(self, case_id: str, approve: bool, note: str = "") -> cpb.CaseView:
        return await self.stub.DecideProposal(cpb.DecideProposalRequest(case_id=case_id, approve=approve, note=note),
                                              metadata=self.metadata)

    async def close_case(self, case_id: str, intent: str = "") -> cpb.CaseView:
        return await self.stub.CloseCase(cpb.CloseCaseRequest(case_id=case_id, intent=intent), metadata=self.metadata)

