"""The ``triage.v1.Cases`` servicer: a person's credential in, the desk's answers out.

Every call acts as the agent the token names (``cloud_core.auth``), on that agent's tenant only;
a case id of another tenant is answered NOT_FOUND, exactly like one that does not exist.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import grpc

from cloud_core.auth import find_agent
from cloud_core.cases.desk import CaseConflict, CaseNotFound
from cloud_core.procedures import ShopDown
from protos.triage.v1 import cases_pb2 as cpb
from protos.triage.v1 import cases_pb2_grpc as cpb_grpc

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Mapping

    from cloud_core.cases.desk import CaseDesk
    from triage.config import AgentCredential

__all__ = ["CasesService"]


class CasesService(cpb_grpc.CasesServicer):  # type: ignore[misc]
    def __init__(self, desk: CaseDesk, agents: Mapping[str, AgentCredential]) -> None:
        self.desk = desk
        self.agents = dict(agents)

    async def _agent(self, context: grpc.aio.ServicerContext) -> AgentCredential:
        agent = find_agent(context.invocation_metadata(), self.agents)
        if agent is None:  # the interceptor refuses this first; kept for a server built without it
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "an agent token ([cloud] agent_tokens) is required")
        assert agent is not None
        return agent

    @staticmethod
    async def _run(context: grpc.aio.ServicerContext, work: Awaitable[cpb.CaseView]) -> cpb.CaseView:
        try:
            return await work
        except CaseNotFound as exc:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
        except CaseConflict as exc:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
        except ValueError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except ShopDown as exc:
            await context.abort(grpc.StatusCode.UNAVAILABLE, f"the shop did not answer ({exc}); approve again later, "
                                "nothing is written twice")
        raise AssertionError("abort raises")

    async def WhoAmI(self, request: cpb.WhoAmIRequest, context: grpc.aio.ServicerContext) -> cpb.Agent:
        agent = await self._agent(context)
        return cpb.Agent(tenant=agent.tenant, agent_id=agent.agent_id, display_name=agent.display_name)

    async def WatchCases(self, request: cpb.WatchCasesRequest,
                         context: grpc.aio.ServicerContext) -> AsyncIterator[cpb.CaseEvent]:
        agent = await self._agent(context)
        async for event in self.desk.watch(agent.tenant, request.cursor):
            yield event

    async def ReplyToCase(self, request: cpb.ReplyToCaseRequest, context: grpc.aio.ServicerContext) -> cpb.CaseView:
        agent = await self._agent(context)
        return await self._run(context, self.desk.reply(agent, request.case_id, request.text,
                                                        list(request.quick_replies), request.request_id))

    async def DecideProposal(self, request: cpb.DecideProposalRequest,
                             context: grpc.aio.ServicerContext) -> cpb.CaseView:
        agent = await self._agent(context)
        return await self._run(context, self.desk.decide(agent, request.case_id, request.approve, request.note))

    async def CloseCase(self, request: cpb.CloseCaseRequest, context: grpc.aio.ServicerContext) -> cpb.CaseView:
        agent = await self._agent(context)
        return await self._run(context, self.desk.close(agent, request.case_id, request.intent,
                                                        dict(request.answers), request.edge_could_answer,
                                                        request.flagged))
