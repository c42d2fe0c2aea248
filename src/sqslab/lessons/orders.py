"""The orders of lessons 5 and 6: parsers with a bug and its fix, an outage, and lesson 2's charge.

A poison message is one that can never succeed as it stands; a retryable failure is one that may
succeed later. This module holds the business side that both lessons run:

* :class:`InvalidOrder` (a ``ValueError``: poison) and :class:`PaymentsUnavailable` (retryable);
* the order parsers :func:`parse_order_v1` (with a bug: it refuses amounts sent as decimal
  strings, so those orders are poison to it) and :func:`parse_order_v2` (the fix), both raising
  :class:`InvalidOrder` for a body that is really broken;
* :func:`payments`, a payment service that is down for the first seconds of a run;
* :func:`incident_orders`, the message bodies of the lessons' incident;
* :func:`charge_order`, lesson 2's idempotent charge, given to lesson 5, and :func:`order_handler`,
  the work of one message built from them.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Iterable

from ..scenario import lab_of

__all__ = ["InvalidOrder", "PaymentsUnavailable", "load_order", "parse_order_v1", "parse_order_v2", "payments",
           "incident_orders", "charge_order", "order_handler"]


# -- the orders -------------------------------------------------------------------------------------
class InvalidOrder(ValueError):
    """An order message that cannot be charged as it stands: retrying it will never help."""


class PaymentsUnavailable(ConnectionError):
    """The payment service did not answer: a transient failure, worth trying again later."""


def load_order(body: str) -> tuple[dict, str]:
    """``(order, order_id)`` of a message body; raises :class:`InvalidOrder` (poison) when it has neither."""
    try:
        order = json.loads(body)
    except (TypeError, ValueError):
        raise InvalidOrder(f"not JSON: {str(body)[:60]!r}") from None
    if not isinstance(order, dict):
        raise InvalidOrder(f"an order is a JSON object, got {type(order).__name__}")
    order_id = order.get("order_id")
    if not isinstance(order_id, str) or not order_id:
        raise InvalidOrder(f"order_id missing or not a string: {order_id!r}")
    return order, order_id


def _checked(order_id: str, amount: Decimal) -> dict:
    if not amount.is_finite() or amount <= 0:
        raise InvalidOrder(f"{order_id}: amount must be positive, got {amount}")
    return {"order_id": order_id, "amount": amount}


def parse_order_v1(body: str) -> dict:
    """Version 1 of the order parser: ``{"order_id": str, "amount": number > 0}``.

    The bug: a partner sends amounts as decimal strings (``"20.00"``); version 1 refuses them with
    :class:`InvalidOrder`, so to a consumer running version 1 those orders are poison.

    Returns ``{"order_id": ..., "amount": Decimal}``; raises :class:`InvalidOrder`.
    """
    order, order_id = load_order(body)
    amount = order.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, (int, float)):
        raise InvalidOrder(f"{order_id}: amount must be a number, got {amount!r}")
    return _checked(order_id, Decimal(str(amount)))


def parse_order_v2(body: str) -> dict:
    """Version 2, the fix: amounts may also be decimal strings (``"20.00"``).

    Orders that are really broken (not JSON, no order id, no amount, an amount that is not
    positive) still raise :class:`InvalidOrder`: no version can charge them.
    """
    order, order_id = load_order(body)
    amount = order.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, (int, float, str)):
        raise InvalidOrder(f"{order_id}: amount must be a number or a decimal string, got {amount!r}")
    try:
        value = Decimal(str(amount).strip())
    except InvalidOperation:
        raise InvalidOrder(f"{order_id}: amount {amount!r} is not a decimal number") from None
    return _checked(order_id, value)


def payments(process: Any, down_for: float = 0) -> None:
    """Call the payment service; it is down during the first ``down_for`` seconds of the run.

    Raises :class:`PaymentsUnavailable` while it is down. Time is the run's simulated time
    (the run's history clock), so every run of a scenario sees the same outage.
    """
    if down_for and lab_of(process).history.now() < down_for:
        raise PaymentsUnavailable(f"payment service unavailable (down for the first {down_for:g} s)")


def incident_orders(n: int = 4, *, string_amounts: Iterable[int] = (1,),
                    broken: Iterable[int] = ()) -> list[dict]:
    """``n`` order bodies ``order-1`` ... ``order-n``; some with a string amount, some broken.

    Positions count from 0. A string amount (``"20.00"``) is poison to :func:`parse_order_v1` and
    fine for :func:`parse_order_v2`; a broken order (a negative amount) is poison to both.
    """
    strings, bad = set(string_amounts), set(broken)
    out = []
    for i in range(n):
        amount: Any = 10 * (i + 1)
        if i in strings:
            amount = f"{amount}.00"
        if i in bad:
            amount = -amount if isinstance(amount, int) else f"-{amount}"
        out.append({"order_id": f"order-{i + 1}", "amount": amount})
    return out


def charge_order(db: Any, body: str, parse: Callable[[str], dict] = parse_order_v2) -> bool:
    """Charge the order in ``body`` once (lesson 2's idempotent charge); True if charged now.

    The order is parsed first: a broken one raises :class:`InvalidOrder` (poison). Then, in one
    transaction, its id goes into ``charged_orders``, whose primary key refuses a second one, and
    the charge is made: both commit together or neither does, whatever crashes where. Returns
    False, charging nothing, for an order charged before.
    """
    order = parse(body)
    db.execute("CREATE TABLE IF NOT EXISTS charged_orders (order_id TEXT PRIMARY KEY)")
    with db:  # commits at the end of the block, rolls back if anything in it raises
        if not db.execute("INSERT OR IGNORE INTO charged_orders (order_id) VALUES (?)",
                          (order["order_id"],)).rowcount:
            return False  # charged before: nothing to do
        db.apply_effect(order["order_id"], "charge", detail=str(order["amount"]))
    return True


def order_handler(process: Any, parse: Callable[[str], dict] = parse_order_v2, *,
                  down_for: float = 0.0) -> Callable[[str], bool]:
    """``handle(body)`` for one process: parse the order, call the payment service, charge it once.

    A broken order raises :class:`InvalidOrder` (poison) before anything else; while the payment
    service is down (the first ``down_for`` seconds of the run) it raises
    :class:`PaymentsUnavailable` (retryable); then :func:`charge_order`.
    """
    def handle(body: str) -> bool:
        parse(body)
        payments(process, down_for)
        return charge_order(process.db, body, parse)

    return handle
