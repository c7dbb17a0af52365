"""A large model drives a dispute's procedure through tool calls; the engine checks every call first.

With ``[cloud] procedure_driver = "model"`` (and ``backend = "openai"``), the procedure's reads and
writes are offered to the model as OpenAI tools. The engine has already decided, from the same
procedure and the shop's data, what the policy allows for this case (the plan, journalled before
any write), and the ``ToolGate`` holds every call to it: a call on another order, a write the plan
does not contain, or an amount other than the plan's is refused with the reason, and a refund
above the automatic limit is only proposed (POLICY rule 9). Whatever the model asks, nothing
reaches the shop that the engine would not have done itself, and each write keeps its key.

The model's closing text is sent only if it passes the grounding guard against the case's facts
and comes in the shopper's language the model writes; otherwise the procedure's template for the
resulting outcome is. A model that stops before carrying out the plan hands the case to a person.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import msgspec

from cloud_core.grounding import check_grounding

if TYPE_CHECKING:
    from cloud_core.llm.openai_compat import OpenAICompatBackend
    from cloud_core.procedures.engine import Plan

__all__ = ["TOOLS", "ToolGate", "drive"]

log = logging.getLogger(__name__)

_REASON = {"reason": {"type": "string", "description": "why, in one sentence, for the case summary"}}
_ORDER = {"order_id": {"type": "string", "description": "the order of this case"}}


def _tool(name: str, description: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "description": description, "parameters": {
        "type": "object", "properties": properties, "required": required}}}


TOOLS = [
    _tool("get_order", "Read the case's order from the shop: status, items, shipment, payments, refunds, and what "
          "the shop's policy allows for this case.", {}, []),
    _tool("refund", "Refund money on the order (the policy fixes the amount).",
          {**_ORDER, "amount": {"type": "string", "description": "decimal amount, e.g. 49.85"}, **_REASON},
          ["order_id", "amount"]),
    _tool("send_replacement", "Send the damaged or lost items again at no cost.", {**_ORDER, **_REASON},
          ["order_id"]),
    _tool("create_return_label", "Create a prepaid return label for the items.", {**_ORDER, **_REASON},
          ["order_id"]),
    _tool("hand_to_person", "Hand the case to a person of the support team; no money moves.", _REASON, ["reason"]),
]
_WRITES = {"refund": "refund", "send_replacement": "replacement", "create_return_label": "return_label"}
_PROPERTIES = {t["function"]["name"]: set(t["function"]["parameters"]["properties"]) for t in TOOLS}


class ToolGate:
    """The calls of one case, held to its plan."""

    def __init__(self, plan: Plan, facts: dict[str, str]) -> None:
        self.plan = plan
        self.facts = facts
        self.granted: set[str] = set()
        """Plan writes the model asked for (and the policy allows); the runner carries them out."""
        self.refused: list[str] = []
        self.handed_over = ""

    def call(self, name: str, raw_arguments: str) -> dict[str, Any]:
        try:
            arguments = json.loads(raw_arguments or "{}")
        except json.JSONDecodeError:
            return self._refuse(name, "the arguments are not JSON")
        if not isinstance(arguments, dict) or name not in _PROPERTIES:
            return self._refuse(name, f"unknown tool (use one of {', '.join(_PROPERTIES)})")
        if name == "get_order":
            return {"order": self.facts, "policy_allows": self._allowed()}
        if name == "hand_to_person":
            if any(w.done for w in self.plan.writes):
                return self._refuse(name, "this case's writes are already made; nothing to hand over")
            self.handed_over = str(arguments.get("reason") or "the model handed the case over")[:300]
            return {"ok": True, "note": "a person takes the case over; tell the shopper so"}
        if str(arguments.get("order_id", "")).strip() != self.plan.order_id:
            return self._refuse(name, f"order {arguments.get('order_id')!r} is not this case's order "
                                      f"{self.plan.order_id}; nothing was done")
        kind = _WRITES[name]
        planned = next((w for w in self.plan.writes if w.kind == kind), None)
        if planned is None:
            return self._refuse(name, f"the policy does not allow a {kind} here: {self.plan.reason}")
        if self.plan.state == "proposed":
            self.granted.add(kind)
            return {"ok": True, "proposed": True, "note": f"a {kind} of {planned.amount} {self.plan.currency} needs a "
                                                          "person's approval; nothing is paid yet"}
        self.granted.add(kind)
        note = f"{kind} will be made"
        if kind == "refund" and str(arguments.get("amount", "")).strip() != planned.amount:
            note = f"the policy's amount is {planned.amount} {self.plan.currency}, not {arguments.get('amount')!r}"
        return {"ok": True, "amount": planned.amount, "note": note}

    def _allowed(self) -> str:
        if self.plan.state == "person":
            return f"no writes: hand the case to a person ({self.plan.reason})"
        if not self.plan.writes:
            return f"no writes: tell the shopper the facts ({self.plan.reason})"
        writes = ", ".join(f"{w.kind} {w.amount or ''} {self.plan.currency if w.amount else ''}".strip()
                           for w in self.plan.writes)
        return f"{writes} ({self.plan.reason})"

    def _refuse(self, name: str, why: str) -> dict[str, Any]:
        self.refused.append(f"{name}: {why}")
        log.info("case %s: refused %s: %s", self.plan.case_id, name, why)
        return {"ok": False, "error": why}


class DriveResult(msgspec.Struct):
    text: str
    """The model's closing answer, where it is grounded; "" to use the procedure's template."""
    calls: list[str]
    usage: tuple[int, int]
    """(input, output) tokens over all rounds."""


async def drive(backend: OpenAICompatBackend, gate: ToolGate, system: str, message: str, max_tokens: int,
                rounds: int = 4) -> DriveResult:
    """Let the model read the order (always first), then call tools until it answers in text."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": system}, {"role": "user", "content": message}]
    calls: list[str] = []
    tokens_in = tokens_out = 0
    text = ""
    for n in range(rounds):
        choice: Any = {"type": "function", "function": {"name": "get_order"}} if n == 0 else "auto"
        reply, usage = await backend.complete_with_tools(messages, TOOLS, choice, max_tokens)
        tokens_in, tokens_out = tokens_in + usage[0], tokens_out + usage[1]
        tool_calls = reply.get("tool_calls") or []
        if not tool_calls:
            text = str(reply.get("content") or "").strip()
            break
        # content "" rather than null: llama-cpp-python's server refuses a null assistant content
        messages.append({"role": "assistant", "content": reply.get("content") or "", "tool_calls": tool_calls})
        for tc in tool_calls:
            function = tc.get("function") or {}
            name = str(function.get("name") or "")
            result = gate.call(name, str(function.get("arguments") or "{}"))
            calls.append(f"{name}({function.get('arguments') or ''}) -> {json.dumps(result, ensure_ascii=False)}")
            messages.append({"role": "tool", "tool_call_id": tc.get("id", name), "name": name,
                             "content": json.dumps(result, ensure_ascii=False)})
    grounded = text and check_grounding(text, json.dumps(gate.facts, ensure_ascii=False)).grounded
    return DriveResult(text=text if grounded else "", calls=calls, usage=(tokens_in, tokens_out))
