"""What an escalation tells the cloud: conversation, language, intent, FAQ passages — redacted."""

from __future__ import annotations

from typing import TYPE_CHECKING

from edge_node.redaction import redact
from protos.triage.v1 import escalation_pb2 as pb

if TYPE_CHECKING:
    from collections.abc import Sequence

    from edge_node.router import Decision
    from edge_node.understanding import Analysis
    from triage.catalog import Catalog

__all__ = ["build_request"]


def build_request(catalog: Catalog, customer: str, text: str, analysis: Analysis, decision: Decision,
                  earlier: Sequence[str]) -> pb.EscalateRequest:
    """The gRPC request for one escalated message; card numbers, IBANs and e-mails never leave."""
    request = pb.EscalateRequest(
        customer=pb.CustomerRef(tenant=catalog.storefront.id, customer_id=customer),
        lang=decision.lang, message=redact(text), intent=decision.intent or analysis.intent or "",
        use_memory=bool(customer), context=pb.CaseContext(channel=pb.CHANNEL_CHAT, opened_by="edge"))
    request.conversation.extend(pb.Turn(role=pb.ROLE_SHOPPER, text=redact(t)) for t in earlier)
    if analysis.faq_id is not None:
        entry = catalog.faq(analysis.faq_id)
        answer = entry.answers.get(decision.lang) or entry.answers.get(catalog.storefront.default_language)
        if answer:
            request.passages.append(pb.Passage(id=entry.id, text=answer))
    return request
