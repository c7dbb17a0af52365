"""The engine decides each dispute of the demo shop as POLICY.md says, over the shop's own seeded orders,
and enforces what no procedure file can change: refunds above the limit are only proposed."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from cloud_core.procedures.engine import choose_procedure, plan_for
from cloud_core.procedures.facts import case_facts
from cloud_core.procedures.tools import ToolGate
from demo_shop.seed import load_orders
from tests.conftest import DEMO_CATALOG, shared_data
from triage.catalog.load import load_catalog_procedures
from triage.catalog.procedures import cue_pattern
from triage.connector.contract import Refund, Replacement, ReturnLabel

_, PROCEDURES = load_catalog_procedures(DEMO_CATALOG)
assert PROCEDURES is not None
# The shop is seeded at one instant and every fact is read on that day: seeded at collection and read
# later, a run that crossed midnight UTC counted one day more since delivery than the seed meant.
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SEEDED = {o.id: o for o in load_orders(shared_data("shop", "orders.json"), now=NOW)}
ORDERS = dict(SEEDED)
MONEY_BACK = cue_pattern([c for cues in PROCEDURES.common.money_back.values() for c in cues])


def _plan(order_id: str, message: str, intent: str = ""):
    assert PROCEDURES is not None
    procedure = choose_procedure(PROCEDURES, message, [], intent)
    assert procedure is not None, message
    order = ORDERS[order_id]
    facts = case_facts(order, message, MONEY_BACK, today=NOW.date())
    return plan_for(PROCEDURES, procedure, order, facts, "C-TEST", "en")


@pytest.mark.parametrize(("order_id", "message", "procedure", "rule", "state", "writes"), [
    ("10234", "My parcel 10234 never arrived", "parcel_not_arrived", "4", "done", []),
    ("10236", "Mi pedido 10236 nunca llegó", "parcel_not_arrived", "5", "planned", [("replacement", None)]),
    ("10236", "Order 10236 never arrived, I want my money back", "parcel_not_arrived", "5", "planned",
     [("refund", "69.80")]),
    ("10237", "Il pacco dell'ordine 10237 è stato perso. Rivoglio i miei soldi", "parcel_not_arrived", "5",
     "planned", [("refund", "64.75")]),
    ("10238", "Bestelling 10238 niets ontvangen", "parcel_not_arrived", "6", "person", []),
    ("10239", "The socks of 10239 are torn", "damaged_item", "7", "planned", [("replacement", None)]),
    ("10240", "Kurtka z zamówienia 10240 przyszła uszkodzona", "damaged_item", "7", "planned",
     [("replacement", None), ("return_label", None)]),
    ("10241", "A mochila da encomenda 10241 chegou com o fecho partido", "damaged_item", "7", "planned",
     [("refund", "89.00"), ("return_label", None)]),
    ("10253", "The gloves of 10253 are torn", "damaged_item", "7", "planned", [("refund", "34.90")]),
    ("10242", "The shoes from order 10242 fell apart", "damaged_item", "8", "person", []),
    ("10255", "La lampada dell'ordine 10255 non funziona", "damaged_item", "8", "person", []),
    ("10243", "Mir wurde für Bestellung 10243 zweimal 49,85 € abgebucht", "charged_twice", "10", "planned",
     [("refund", "49.85")]),
    ("10244", "J'ai été débitée deux fois pour la commande 10244", "charged_twice", "10", "person", []),
    ("10245", "Where is my refund for 10245?", "where_is_refund", "11", "done", []),
    ("10246", "Ho restituito l'ordine 10246 ma non ho ancora ricevuto il rimborso", "where_is_refund", "11",
     "person", []),
    ("10239", "If you don't refund order 10239 today I'll file a chargeback", "to_person", "13", "person", []),
])
def test_each_dispute_of_the_demo_shop_is_decided_as_the_policy_says(order_id, message, procedure, rule, state,
                                                                      writes) -> None:
    plan = _plan(order_id, message)
    assert (plan.procedure, plan.rule, plan.state) == (procedure, rule, state)
    assert [(w.kind, w.amount) for w in plan.writes] == writes


@pytest.mark.parametrize(("order_id", "message"), [
    ("10247", "De donsjas van bestelling 10247 is kapot, ik wil mijn geld terug, geen vervanging"),
    ("10248", "I was charged twice for order 10248, 273.90 each time"),
])
def test_a_refund_above_the_limit_is_proposed_to_a_person_whatever_the_procedure_says(order_id, message) -> None:
    plan = _plan(order_id, message)
    assert (plan.state, plan.rule) == ("proposed", "9")
    assert all(not w.done for w in plan.writes)
    assert "above 150.00" in plan.reason


def test_a_procedure_that_refunds_an_item_it_cannot_name_hands_the_case_to_a_person() -> None:
    assert PROCEDURES is not None
    careless = msgspec.structs.replace(PROCEDURES.get("damaged_item"), step=PROCEDURES.get("damaged_item").step[3:])
    order = ORDERS["10244"]  # two items, the message names neither
    facts = case_facts(order, "order 10244 arrived broken, money back please", MONEY_BACK, today=NOW.date())
    plan = plan_for(PROCEDURES, careless, order, facts, "C-TEST", "en")
    assert plan.state == "person" and plan.writes == []


def _after(order_id: str, **made: list) -> None:
    """The seeded order as the shop shows it once an earlier case made ``made`` (replacements, ...)."""
    ORDERS[order_id] = msgspec.structs.replace(SEEDED[order_id], **made)


@pytest.fixture(autouse=True)
def _seeded_orders():
    yield
    ORDERS.update(SEEDED)


def _replacement(order_id: str, skus: list[str]) -> Replacement:
    items = [i for i in SEEDED[order_id].line_items if i.sku in skus]
    return Replacement(id=f"{order_id}-R1", created_at="2026-05-30T10:00:00Z", line_items=items)


LABEL = ReturnLabel(id="rl_1", carrier="DHL", tracking_number="RL1", url="https://labels.example/rl_1",
                    created_at="2026-05-30T10:00:00Z")


@pytest.mark.parametrize(("order_id", "message", "made", "found"), [
    # the same claim sent again, or a question about the replacement in the same conversation
    ("10240", "Kurtka z zamówienia 10240 przyszła uszkodzona", {"replacements": "10240", "return_labels": [LABEL]},
     "replacement 10240-R1, return label rl_1"),
    ("10239", "The socks of 10239 are torn", {"replacements": "10239"}, "replacement 10239-R1"),
    ("10236", "Mi pedido 10236 nunca llegó", {"replacements": "10236"}, "replacement 10236-R1"),
    ("10237", "Il pacco dell'ordine 10237 è stato perso. Rivoglio i miei soldi",
     {"refunds": [Refund(id="re_1", amount="64.75", created_at="2026-05-30T10:00:00Z",
                         reason="parcel_not_arrived (policy rule 5), case C-EARLIER")]}, "refund re_1 of 64.75"),
    # money back after a replacement for a lost parcel: the order had its remedy, a person decides
    ("10236", "Order 10236 never arrived, I want my money back", {"replacements": "10236"}, None),
])
def test_a_claim_an_earlier_case_settled_writes_nothing_again_and_goes_to_a_person(order_id, message, made,
                                                                                    found) -> None:
    first = _plan(order_id, message)
    assert first.state == "planned" and first.writes
    _after(order_id, **{k: [_replacement(order_id, [s for w in first.writes for s in w.skus]
                                         or [i.sku for i in SEEDED[order_id].line_items])] if v == order_id else v
                        for k, v in made.items()})
    again = _plan(order_id, message)
    assert (again.state, again.handed_over, again.writes) == ("person", "settled", [])
    assert "nothing is written again" in again.reason and "rule 12" in again.reason
    if found is not None:
        assert found in again.reason


def test_a_replacement_of_another_item_or_a_duplicate_payments_refund_does_not_stop_a_new_claim() -> None:
    _after("10244", replacements=[_replacement("10244", [SEEDED["10244"].line_items[0].sku])])
    other = SEEDED["10244"].line_items[1]
    plan = _plan("10244", f"The {other.title} of order 10244 arrived broken")
    assert plan.state in ("planned", "proposed") and plan.handed_over == ""
    _after("10239", refunds=[Refund(id="re_d", amount="9.90", created_at="2026-05-30T10:00:00Z",
                                    transaction_id="tr_dup")])
    assert _plan("10239", "The socks of 10239 are torn").state == "planned"


def test_the_plan_lists_what_was_checked_with_the_values_found() -> None:
    plan = _plan("10242", "The shoes from order 10242 fell apart, the sole came off")
    assert ("days_since_delivery", "45") in plan.checks
    assert ("order.status", "delivered") in plan.checks


def _gate(order_id: str, message: str) -> ToolGate:
    plan = _plan(order_id, message)
    return ToolGate(plan, {"order_id": order_id})


def test_a_models_call_on_another_order_or_for_a_write_the_policy_lacks_is_refused() -> None:
    gate = _gate("10243", "Mir wurde für Bestellung 10243 zweimal 49,85 € abgebucht")
    # what SmolLM2-135M really sends through llama.cpp's constrained tool calls
    assert gate.call("refund", '{"order_id": "1234567890", "amount": ".0.0"}')["ok"] is False
    assert gate.call("send_replacement", '{"order_id": "10243"}')["error"].startswith(
        "the policy does not allow a replacement here")
    assert gate.call("refund", "not json")["ok"] is False
    assert gate.granted == set() and len(gate.refused) == 3


def test_the_policy_fixes_the_amount_whatever_the_model_asks() -> None:
    gate = _gate("10243", "Mir wurde für Bestellung 10243 zweimal 49,85 € abgebucht")
    result = gate.call("refund", '{"order_id": "10243", "amount": "99.70"}')
    assert result == {"ok": True, "amount": "49.85",
                      "note": "the policy's amount is 49.85 EUR, not '99.70'"}
    assert gate.granted == {"refund"}


def test_a_model_asking_for_a_refund_above_the_limit_gets_a_proposal_not_money() -> None:
    gate = _gate("10248", "I was charged twice for order 10248, 273.90 each time")
    assert gate.call("refund", '{"order_id": "10248", "amount": "273.90"}')["proposed"] is True
    assert gate.plan.state == "proposed"


def test_a_hand_off_by_the_model_is_always_allowed_before_money_moved() -> None:
    gate = _gate("10239", "The socks of 10239 are torn")
    assert gate.call("hand_to_person", '{"reason": "unsure"}')["ok"] is True
    assert gate.handed_over == "unsure"
