"""Order outcomes: the events of one order command turned into the API's answer.

Owns the mapping from engine events to `OrderResultOut` (and the 409 of a reused client order
id); REST and WebSocket order entry both use it, so they answer alike. A refusal becomes a
`Problem` through `gateway.api.refusals`. Never maps a reason to a status itself, nor reads the
exchange: the events say everything.
"""

from __future__ import annotations

import msgspec
from aiohttp import web

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
from gateway.api.problems import PROBLEM_TYPE, Problem, ProblemBody
from gateway.api.refusals import refusal
from gateway.api.schemas import FillOut, LotLegOut, OrderResultOut
from gateway.stream.marketdata import lot_legs
from gateway.stream.wire import iso_ts


class ClientOrderIdReusedBody(ProblemBody, kw_only=True, omit_defaults=True):
    """The 409 problem of a client order id resent with a different order: ``order`` is the
    original order, as an identical resend would answer it."""

    order: OrderResultOut


class ClientOrderIdReused(Problem):
    """409: the client order id names an order already, and this request asked for another
    one; the new order is not placed. The problem carries the original order so the client
    learns what the id stands for."""

    def __init__(self, detail: str, original: OrderResultOut) -> None:
        super().__init__(409, "client_order_id_reused", detail,
                         title="Client order id already used for another order")
        self.original = original

    def response(self) -> web.Response:
        b = self.body()
        body = ClientOrderIdReusedBody(type=b.type, title=b.title, status=b.status,
                                       detail=b.detail, code=b.code, order=self.original)
        return web.Response(status=self.status, body=msgspec.json.encode(body),
                            content_type=PROBLEM_TYPE, headers=self.headers)


def _fills(events: list[Event], order_id: int) -> list[FillOut]:
    out = []
    for ev in events:
        if type(ev) is TradeExecuted and ev.taker_order_id == order_id:
            out.append(FillOut(
                trade_id=ev.trade_id, order_id=order_id, symbol=ev.symbol,
                side=ev.aggressor, price=ev.price_vnd, qty=ev.qty,
                leaves_qty=ev.taker_leaves_qty, liquidity="taker", ts=iso_ts(ev.ts_ns),
                lots=[[leg.lot_id, leg.qty] for leg in ev.lots],
                lot_values=[LotLegOut(**x) for x in lot_legs(ev)] if ev.lot_values else None))
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
    """201 for a new order, 200 for a resent client order id (the same order again), 409 for
    a client order id resent with a different order; a refusal raises."""
    first = events[0]
    if type(first) is OrderRejected:
        raise refusal(first.reason, first.detail)
    if type(first) is OrderResent:
        original = OrderResultOut(
            order_id=first.order_id, client_order_id=first.client_order_id,
            symbol=first.symbol, status=first.status, filled_qty=first.filled_qty,  # type: ignore[arg-type]
            leaves_qty=first.leaves_qty, resent=True)
        if first.reason:
            raise ClientOrderIdReused(
                f"client order id {first.client_order_id!r} is order {first.order_id} "
                f"({first.status}); this request {first.detail}", original)
        return 200, original
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
