"""``triage report`` tallies the disputes beside the costs: resolved without a person, money refunded,
proposals pending and hand-offs, per language, each message counted once however often it is replayed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from edge_node.report import dispute_tally, report_from_ledger
from edge_node.store import CaseOutcome, SqliteEdgeStore
from triage.config import CostConfig

if TYPE_CHECKING:
    from pathlib import Path


def _outcomes() -> list[CaseOutcome]:
    return [
        CaseOutcome("s1", "m1", "de", "refunded", "10243", "49.85", "EUR", "charged_twice"),
        CaseOutcome("s2", "m1", "it", "refunded", "10237", "64.75", "EUR", "parcel_not_arrived"),
        CaseOutcome("s3", "m1", "nl", "proposed", "10247", "249.00", "EUR", "damaged_item"),
        CaseOutcome("s4", "m1", "nl", "human", "10238", "", "", "parcel_not_arrived"),
        CaseOutcome("s5", "m1", "pl", "replacement", "10240", "", "", "damaged_item"),
    ]


def test_disputes_are_tallied_per_language_and_in_all() -> None:
    tally = dispute_tally(_outcomes())
    every = tally["*"]
    assert (every.cases, every.resolved_without_a_person, every.proposals_pending, every.handed_to_a_person) == (
        5, 3, 1, 1)
    assert every.refunded == {"EUR": "114.60"}  # a proposal moves no money
    assert (tally["nl"].proposals_pending, tally["nl"].handed_to_a_person, tally["nl"].refunded) == (1, 1, {})


async def test_an_outcome_is_recorded_once_per_message_and_reaches_the_report(tmp_path: Path) -> None:
    store = SqliteEdgeStore(tmp_path / "edge.db")
    await store.open()
    try:
        for outcome in [*_outcomes(), _outcomes()[0]]:  # the first answer delivered twice (a replayed final)
            await store.record_outcome(outcome)
        report = report_from_ledger(await store.ledger(), CostConfig(), await store.outcomes())
    finally:
        await store.close()
    assert report.disputes["*"].cases == 5
    assert report.disputes["de"].refunded == {"EUR": "49.85"}
