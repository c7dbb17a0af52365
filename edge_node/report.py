"""The cost report: what the traffic cost, how much the edge served, and the all-cloud baseline,
beside what the disputes came to: resolved without a person, money refunded, proposals awaiting a
person's approval and hand-offs, per language.

The baseline prices every message as a cloud answer at the mean measured cost of this run's cloud
answers (or, with none measured, at the configured typical prompt and answer size).
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import TYPE_CHECKING

import msgspec

if TYPE_CHECKING:
    from edge_node.store import CaseOutcome, LedgerEntry
    from triage.config import CostConfig

__all__ = ["CostReport", "DisputeTally", "cost_report", "dispute_tally", "report_from_ledger"]

_RESOLVED = frozenset({"refunded", "replacement", "return_label", "info", "cancelled"})


class DisputeTally(msgspec.Struct):
    """Disputes of one language (or of all: ``"*"``) as their procedures ended."""

    cases: int = 0
    resolved_without_a_person: int = 0
    proposals_pending: int = 0
    """Refunds above the automatic limit, waiting for a person's approval (POLICY rule 9)."""
    handed_to_a_person: int = 0
    refunded: dict[str, str] = {}
    """Money refunded per currency, decimal strings."""


def dispute_tally(outcomes: list[CaseOutcome]) -> dict[str, DisputeTally]:
    by_lang: dict[str, list[CaseOutcome]] = defaultdict(list)
    for o in outcomes:
        by_lang[o.lang].append(o)
        by_lang["*"].append(o)
    tallies = {}
    for lang, items in sorted(by_lang.items()):
        money: dict[str, Decimal] = defaultdict(Decimal)
        for o in items:
            if o.kind == "refunded" and o.amount:
                money[o.currency] += Decimal(o.amount)
        tallies[lang] = DisputeTally(
            cases=len(items), resolved_without_a_person=sum(o.kind in _RESOLVED for o in items),
            proposals_pending=sum(o.kind == "proposed" for o in items),
            handed_to_a_person=sum(o.kind == "human" for o in items),
            refunded={currency: str(amount) for currency, amount in sorted(money.items())})
    return tallies


class CostReport(msgspec.Struct):
    conversations: int
    messages: int
    edge_answered: int
    escalated: int
    edge_share: float
    cloud_input_tokens: int
    cloud_cached_input_tokens: int
    cloud_output_tokens: int
    cost_usd: float
    cost_per_1k_conversations: float
    all_cloud_cost_per_1k_conversations: float
    savings: float
    """1 - cost / all-cloud cost."""
    latency_ms: dict[str, dict[str, float]] = {}
    accuracy: float | None = None
    """Labelled rows handled right (replay): the labelled intent at the edge, or a cloud answer."""
    disputes: dict[str, DisputeTally] = {}
    escalations_given_up: int = 0
    """Dead-lettered outbox items: refused by the cloud as invalid, or past the attempt or age limit."""
    """Per language, and ``"*"`` for all: what the cloud's procedures did."""


def cost_report(conversations: int, messages: int, escalated: int, edge_cost: float, cloud_cost: float,
                cloud_answers: int, tokens: tuple[int, int, int], cost: CostConfig) -> CostReport:
    if cloud_answers:
        per_cloud_answer = cloud_cost / cloud_answers
    else:
        per_cloud_answer = cost.cloud_cost("", cost.all_cloud_input_tokens, 0, cost.all_cloud_output_tokens)
    total = edge_cost + cloud_cost
    all_cloud = messages * per_cloud_answer
    per_1k = 1000 / conversations if conversations else 0.0
    return CostReport(
        conversations=conversations, messages=messages, edge_answered=messages - escalated, escalated=escalated,
        edge_share=round((messages - escalated) / messages, 4) if messages else 0.0,
        cloud_input_tokens=tokens[0], cloud_cached_input_tokens=tokens[1], cloud_output_tokens=tokens[2],
        cost_usd=round(total, 6), cost_per_1k_conversations=round(total * per_1k, 4),
        all_cloud_cost_per_1k_conversations=round(all_cloud * per_1k, 4),
        savings=round(1 - total / all_cloud, 4) if all_cloud else 0.0)


def report_from_ledger(entries: list[LedgerEntry], cost: CostConfig,
                       outcomes: list[CaseOutcome] | None = None) -> CostReport:
    edge_entries = [e for e in entries if e.source == "edge"]
    cloud_entries = [e for e in entries if e.source == "cloud"]
    report = cost_report(
        conversations=len({e.session for e in entries}), messages=len(edge_entries),
        escalated=sum(e.decision == "escalate" for e in edge_entries),
        edge_cost=sum(e.cost_usd for e in edge_entries), cloud_cost=sum(e.cost_usd for e in cloud_entries),
        cloud_answers=len(cloud_entries),
        tokens=(sum(e.input_tokens for e in cloud_entries), sum(e.cached_tokens for e in cloud_entries),
                sum(e.output_tokens for e in cloud_entries)), cost=cost)
    report.disputes = dispute_tally(outcomes or [])
    return report
