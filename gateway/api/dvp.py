"""Delivery versus payment over REST (operator only): move a trade through its settlement
lifecycle, list the trades waiting for settlement with their due dates, the overdue ones too.

The lifecycle is the engine's (`engine.dvp`): this module turns a request into a
`SetTradeSettlement` command and the open settlements (a read of market state, through
`Exchange.settlement_views`) into pages. The settlement cycle (T+N calendar days in Vietnam
time, `Settings.settlement_cycle_days`) is the gateway's: a trade's due date is its Vietnam date
plus N days, and a trade is overdue from the day after its due date while it is not settled.

Never changes the engine but through `Gateway.submit`, nor maps a reason to a status itself
(`gateway.api.refusals` does: ``unknown_trade`` 404, ``illegal_settlement_transition`` and
``settlement_finished`` 409).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web

from engine.messages import SetTradeSettlement, TradeSettlementChanged
from engine.views import SettlementView
from gateway.api.admin import accepted
from gateway.api.http import body, int_query, reply
from gateway.api.problems import FieldError, Problem
from gateway.api.schemas import SettlementOut, SettlementRequest, SettlementsOut
from gateway.auth import Participant
from gateway.state import Gateway
from gateway.stream.wire import iso_ts
from settlement.booking import vietnam_date

STATES = ("pending", "paid", "delivered")  # the states an open settlement can be in


def due_date(ts_ns: int, cycle_days: int) -> dt.date:
    """T+N: the trade's calendar date in Vietnam plus ``cycle_days``."""
    return vietnam_date(ts_ns) + dt.timedelta(days=cycle_days)


def settlement_out(v: SettlementView, cycle_days: int, today: dt.date) -> SettlementOut:
    due = due_date(v.ts_ns, cycle_days)
    return SettlementOut(
        trade_id=v.trade_id, symbol=v.symbol, state=v.state,
        buyer=v.buyer, seller=v.seller, price=v.price_vnd, qty=v.qty, value_vnd=v.value_vnd,
        ts=iso_ts(v.ts_ns), due_date=due, overdue=today > due,
        lots=[[lot_id, qty] for lot_id, qty in v.lots],
    )


def _trade_id(request: web.Request) -> int:
    text = request.match_info["trade_id"]
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 2**63 - 1:
        raise Problem(404, "unknown_trade", f"no trade {text!r}")
    return int(text)


def _state_filter(request: web.Request) -> str | None:
    state = request.query.get("state")
    if state is not None and state not in STATES:
        raise Problem(422, "invalid_field", f"state must be one of {', '.join(STATES)}",
                      errors=[FieldError(field="?state", message=f"one of {', '.join(STATES)}")])
    return state


def _flag(request: web.Request, name: str) -> bool:
    text = request.query.get(name, "false")
    if text not in ("true", "false"):
        raise Problem(422, "invalid_field", f"{name} must be true or false",
                      errors=[FieldError(field=f"?{name}", message="true or false")])
    return text == "true"


async def set_state(request: web.Request, gw: Gateway, who: Participant) -> web.Response:
    trade_id = _trade_id(request)
    r = await body(request, SettlementRequest)
    ev = accepted(await gw.submit(SetTradeSettlement(trade_id=trade_id, state=r.state)))
    assert type(ev) is TradeSettlementChanged
    cycle = gw.settings.settlement_cycle_days
    due = due_date(ev.trade_ts_ns, cycle)
    return reply(SettlementOut(
        trade_id=ev.trade_id, symbol=ev.symbol, state=ev.to_state, buyer=ev.buyer,
        seller=ev.seller, price=ev.price_vnd, qty=ev.qty, value_vnd=ev.value_vnd,
        ts=iso_ts(ev.trade_ts_ns), due_date=due,
        overdue=ev.to_state not in ("settled", "failed")
        and vietnam_date(gw.now_ns()) > due,
        lots=[[leg.lot_id, leg.qty] for leg in ev.lots], previous_state=ev.from_state,
    ))


async def get_one(request: web.Request, gw: Gateway, who: Participant) -> web.Response:
    trade_id = _trade_id(request)
    view = gw.exchange.settlement(trade_id)
    if view is None:
        raise Problem(404, "unknown_trade",
                      f"trade {trade_id} is not waiting for settlement (unknown, settled or "
                      "failed: the ledger keeps its history)")
    return reply(settlement_out(view, gw.settings.settlement_cycle_days,
                                vietnam_date(gw.now_ns())))


async def list_open(request: web.Request, gw: Gateway, who: Participant) -> web.Response:
    """Open settlements, oldest trade first, ``?limit=`` at a time after ``?after=`` (a trade
    id); ``next_after`` continues the listing (null at its end)."""
    state = _state_filter(request)
    overdue_only = _flag(request, "overdue")
    limit = int_query(request, "limit", 100, 1, gw.settings.page_max)
    after = int_query(request, "after", 0, 0, 2**63 - 1)
    cycle = gw.settings.settlement_cycle_days
    today = vietnam_date(gw.now_ns())
    page: list[SettlementOut] = []
    more = False
    views: Any = gw.exchange.settlement_views()
    for v in views:
        if v.trade_id <= after or (state is not None and v.state != state):
            continue
        out = settlement_out(v, cycle, today)
        if overdue_only and not out.overdue:
            continue
        if len(page) == limit:
            more = True
            break
        page.append(out)
    return reply(SettlementsOut(trades=page, cycle_days=cycle,
                                next_after=page[-1].trade_id if more else None))

