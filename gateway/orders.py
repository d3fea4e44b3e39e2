"""Order outcomes: the events of one order command turned into the API's answer.

Owns the mapping from engine events to `OrderResultOut` and from engine reason codes to HTTP
statuses; REST and WebSocket order entry both use it, so they answer alike. A refusal becomes a
`Problem` carrying the engine's reason code.
"""

from __future__ import annotations

from engine.messages import (
    CancelRejected,
    Event,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderRejected,
    OrderReplaced,
    OrderResent,
    TradeExecuted,
)
from gateway.problems import Problem
from gateway.schemas import FillOut, OrderResultOut
from gateway.wire import iso_ts

REASON_STATUS = {
    "unknown_symbol": 404, "unknown_order": 404, "not_owner": 404,
    "order_not_open": 409, "instrument_halted": 409,
}


def refusal(reason: str, detail: str) -> Problem:
    return Problem(REASON_STATUS.get(reason, 422), reason, detail or reason.replace("_", " "),
                   title="Refused by the engine")


def _fills(events: list[Event], order_id: int) -> list[FillOut]:
    out = []
    for ev in events:
        if type(ev) is TradeExecuted and ev.taker_order_id == order_id:
            out.append(FillOut(
                trade_id=ev.trade_id, order_id=order_id, symbol=ev.symbol,
                side=ev.aggressor, price=ev.price_vnd, qty=ev.qty,
                leaves_qty=ev.taker_leaves_qty, liquidity="taker", ts=iso_ts(ev.ts_ns),
                lots=[[leg.lot_id, leg.qty] for leg in ev.lots]))
    return out


def _outcome(events: list[Event], order_id: int, qty: int, client_order_id: str, symbol: str,
             leaves: int) -> OrderResultOut:
    fills = _fills(events, order_id)
    if fills:
        leaves = fills[-1].leaves_qty
    status = "new"
    reason = None
    for ev in events:
        if type(ev) in (OrderCancelled, OrderExpired) and ev.order_id == order_id:  # type: ignore[union-attr]
            status = "cancelled" if type(ev) is OrderCancelled else "expired"
            reason = getattr(ev, "reason", None)
            leaves = ev.leaves_qty  # type: ignore[union-attr]
    filled = qty - leaves
    if status == "new":
        status = "filled" if leaves == 0 else "partially_filled" if filled else "new"
    else:
        leaves = 0 if status in ("cancelled", "expired") else leaves
    return OrderResultOut(order_id=order_id, client_order_id=client_order_id, symbol=symbol,
                          status=status, filled_qty=filled, leaves_qty=leaves, fills=fills,  # type: ignore[arg-type]
                          cancel_reason=reason)


def place_result(events: list[Event]) -> tuple[int, OrderResultOut]:
    """201 for a new order, 200 for a resent client order id; a refusal raises."""
    first = events[0]
    if type(first) is OrderRejected:
        raise refusal(first.reason, first.detail)
    if type(first) is OrderResent:
        return 200, OrderResultOut(
            order_id=first.order_id, client_order_id=first.client_order_id,
            symbol=first.symbol, status=first.status, filled_qty=first.filled_qty,  # type: ignore[arg-type]
            leaves_qty=first.leaves_qty, resent=True)
    assert type(first) is OrderAccepted, first
    return 201, _outcome(events, first.order_id, first.qty, first.client_order_id,
                         first.symbol, first.qty)


def cancel_result(events: list[Event], client_order_id: str) -> OrderResultOut:
    first = events[0]
    if type(first) is CancelRejected:
        raise refusal(first.reason, first.detail)
    assert type(first) is OrderCancelled, first
    return OrderResultOut(order_id=first.order_id, client_order_id=client_order_id,
                          symbol=first.symbol, status="cancelled", filled_qty=first.filled_qty,
                          leaves_qty=0, cancel_reason=first.reason)


def replace_result(events: list[Event], client_order_id: str) -> OrderResultOut:
    first = events[0]
    if type(first) is CancelRejected:
        raise refusal(first.reason, first.detail)
    assert type(first) is OrderReplaced, first
    return _outcome(events, first.order_id, first.qty, client_order_id, first.symbol,
                    first.leaves_qty)
