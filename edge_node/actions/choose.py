"""Whether a message starts or continues an action, and what the action's result says back.

A pending action (an order number or an e-mail was asked for) is continued by a message that
gives it, or by one that is little more than it; a shopper who clearly moved on (an FAQ answer,
another intent, a dispute) leaves it behind.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import msgspec

from edge_node.router import Decision

if TYPE_CHECKING:
    from edge_node.actions.runner import ActionResult
    from edge_node.frames import Resolution
    from edge_node.store import PendingAction
    from triage.catalog import Catalog
    from triage.slots import SlotFinder

__all__ = ["Routed", "action_to_run", "routed_from"]

_WORD = re.compile(r"\w+")


class Routed(msgspec.Struct, frozen=True):
    """A message's decision after actions ran, with what the store must remember of it."""

    decision: Decision
    resolution: Resolution | None = None
    notice: bool = False
    """An escalation that first tells the shopper something at the edge (the shop is unreachable)."""
    pending: PendingAction | None = None
    pending_changed: bool = False


def action_to_run(catalog: Catalog, slots: SlotFinder, text: str, decision: Decision,
                  pending: PendingAction | None) -> str | None:
    defined = {a.name for a in catalog.actions}
    if decision.kind == "action" and decision.action in defined:
        return decision.action
    if pending is None or pending.action not in defined:
        return None
    gives = bool(slots.order_ids(text) or slots.email([text]))
    rest = slots.email_free(text)
    little_else = len(_WORD.findall(rest)) <= 4
    if gives and (little_else or decision.kind != "escalate"):
        return pending.action
    if little_else and decision.kind in ("clarify", "action"):
        return pending.action
    return None


def routed_from(result: ActionResult, decision: Decision, action: str, intent: str | None) -> Routed:
    lang = decision.lang
    if result.outcome == "asking":
        d = Decision("clarify", result.text, lang, intent, decision.confidence, action=action,
                     options=result.options, reason="action needs a detail")
    elif result.outcome == "handoff":
        d = Decision("escalate", result.text, lang, intent, decision.confidence, action=action,
                     reason="action handed on")
    else:
        d = Decision("action", result.text, lang, intent, decision.confidence, action=action, reason="action")
    return Routed(d, result.resolution, notice=result.outcome == "handoff", pending=result.pending,
                  pending_changed=True)
