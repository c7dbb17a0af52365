"""Who may act on which order, vouched for by the edge before a dispute goes to the cloud (POLICY rule 1).

The cloud runs a dispute's procedure on the order in the escalation's context, and never sees an
e-mail address (redacted here). So the edge says how it knows the shopper may act on that order:
a signed-in shopper's customer id comes from the shop's signed session token (the cloud still
checks the order is that customer's); an anonymous shopper who gave the order number and its
e-mail address is checked here against the shop, and only a matching pair is vouched for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from protos.triage.v1 import escalation_pb2 as pb
from triage.connector.errors import ShopError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from triage.connector.client import ShopClient
    from triage.slots import SlotFinder

__all__ = ["attach_order"]


async def attach_order(request: pb.EscalateRequest, texts: Sequence[str], slots: SlotFinder,
                       shop: ShopClient | None) -> None:
    """Put the order the shopper means (newest message first) and how it is verified into the context."""
    order_id = slots.order_id(texts)
    if not order_id:
        return
    request.context.order_id = order_id
    if request.customer.customer_id:
        request.context.identity = pb.IDENTITY_SIGNED_IN
        return
    email = slots.email(texts)
    if not email or shop is None:
        return
    try:
        order = await shop.order(order_id)
    except ShopError:  # unknown order or shop down: nothing is vouched for; the cloud asks again
        return
    if order.customer.email.strip().casefold() == email.casefold():
        request.context.identity = pb.IDENTITY_ORDER_EMAIL
