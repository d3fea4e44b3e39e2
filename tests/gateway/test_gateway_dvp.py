"""Delivery versus payment over REST: the operator moves trades, lists open and overdue ones;
every other role is refused; refusals are problems with the engine's reason codes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
import pytest

from gateway.api.schemas import BalancesOut, SettlementOut, SettlementsOut
from tests.gateway.conftest import SYMBOL, FakeClock, Market, settings, start

P = "/api/v1/settlement/trades"


async def trade(market: Market, qty: int = 40) -> int:
    """C1 sells ``qty`` to T1 at 61,600; the trade's id."""
    await market.order("C1", side="sell", price=61_600, qty=qty)
    status, buy = await market.order("T1", side="buy", price=61_600, qty=qty)
    assert status == 201 and buy["filled_qty"] == qty, buy
    views = market.gw.exchange.settlement_views()
    return int(views[-1].trade_id)


async def balances(market: Market, who: str) -> BalancesOut:
    r = await market.client.get("/api/v1/balances", headers=market.h(who))
    return msgspec.convert(await r.json(), BalancesOut)


async def test_the_operator_moves_a_trade_through_its_lifecycle(market: Market) -> None:
    trade_id = await trade(market)
    t1 = await balances(market, "T1")
    assert (t1.cash_vnd, t1.cash_dvp_vnd, t1.goods) == (1_000_000_000, 40 * 61_600, [])
    status, body = await market.settle(trade_id, "paid")
    assert status == 200, body
    out = msgspec.convert(body, SettlementOut, strict=False)
    assert (out.state, out.previous_state, out.buyer, out.seller, out.value_vnd) == (
        "paid", "pending", "T1", "C1", 40 * 61_600)
    assert out.lots == [["LOT-C1", 40]] and out.overdue is False
    t1 = await balances(market, "T1")
    assert (t1.cash_vnd, t1.cash_dvp_vnd) == (1_000_000_000 - 40 * 61_600, 0)
    assert [(g.symbol, g.qty) for g in t1.goods] == [(SYMBOL, 40)]
    for state in ("delivered", "settled"):
        status, body = await market.settle(trade_id, state)
        assert (status, body["state"]) == (200, state)
    r = await market.client.get(f"{P}/{trade_id}", headers=market.h("operator"))
    assert r.status == 404  # settled: no longer open (the ledger keeps its history)


async def test_refusals_are_problems(market: Market) -> None:
    trade_id = await trade(market)
    status, body = await market.settle(trade_id, "delivered")
    assert (status, body["code"]) == (409, "illegal_settlement_transition"), body
    status, body = await market.settle(trade_id + 100, "paid")
    assert (status, body["code"]) == (404, "unknown_trade")
    status, body = await market.settle(trade_id, "lost")
    assert status == 422 and body["errors"][0]["field"] == "$.state", body
    status, body = await market.settle(trade_id, "failed")
    assert status == 200
    status, body = await market.settle(trade_id, "paid")
    assert (status, body["code"]) == (409, "settlement_finished")
    r = await market.client.post(f"{P}/abc", json={"state": "paid"}, headers=market.h("operator"))
    assert r.status == 404
    # nothing moved: the failed trade's holds are released
    t1 = await balances(market, "T1")
    assert (t1.cash_vnd, t1.cash_held_vnd) == (1_000_000_000, 0)


@pytest.mark.parametrize("role", ["trader", "cooperative", "lab", "analyst", None])
async def test_only_the_operator_may_settle_or_list(market: Market, role: str | None) -> None:
    trade_id = await trade(market)
    headers = {} if role is None else market.h(role)
    r = await market.client.post(f"{P}/{trade_id}", json={"state": "paid"}, headers=headers)
    assert r.status == (401 if role is None else 403)
    r = await market.client.get(P, headers=headers)
    assert r.status == (401 if role is None else 403)
    assert market.gw.exchange.settlement(trade_id).state == "pending"


async def test_open_and_overdue_lists_are_paginated(tmp_path: Any) -> None:
    clock = FakeClock()
    market = await start(settings(tmp_path, settlement_cycle_days=1), clock=clock)
    try:
        ids = [await trade(market, qty) for qty in (1, 2, 3)]
        await market.settle(ids[1], "paid")
        op = market.h("operator")
        r = await market.client.get(f"{P}?state=pending&limit=1", headers=op)
        page = msgspec.convert(await r.json(), SettlementsOut, strict=False)
        assert [t.trade_id for t in page.trades] == [ids[0]] and page.next_after == ids[0]
        assert page.cycle_days == 1
        trade_day = page.trades[0].due_date - dt.timedelta(days=1)
        r = await market.client.get(f"{P}?state=pending&after={page.next_after}", headers=op)
        page = msgspec.convert(await r.json(), SettlementsOut, strict=False)
        assert [t.trade_id for t in page.trades] == [ids[2]] and page.next_after is None
        r = await market.client.get(f"{P}?overdue=true", headers=op)
        assert (await r.json())["trades"] == []
        clock.advance(3 * 86_400)  # T+3: every open trade is past its T+1 due date
        r = await market.client.get(f"{P}?overdue=true", headers=op)
        page = msgspec.convert(await r.json(), SettlementsOut, strict=False)
        assert [(t.trade_id, t.state, t.overdue) for t in page.trades] == [
            (ids[0], "pending", True), (ids[1], "paid", True), (ids[2], "pending", True)]
        assert all(t.due_date == trade_day + dt.timedelta(days=1) for t in page.trades)
        for bad in ("state=settled", "overdue=yes", "limit=0", "after=-1"):
            r = await market.client.get(f"{P}?{bad}", headers=op)
            assert r.status == 422, bad
    finally:
        await market.client.close()


async def test_the_demo_operator_settles_trades_through_the_pipeline(tmp_path: Any) -> None:
    from gateway.demo.settler import settle_pass

    clock = FakeClock()
    market = await start(settings(tmp_path, demo_settle_s=2.0), clock=clock)
    try:
        trade_id = await trade(market)
        assert await settle_pass(market.gw) == 0  # too young to be paid
        clock.advance(3)
        states = []
        for _ in range(3):
            assert await settle_pass(market.gw) == 1
            view = market.gw.exchange.settlement(trade_id)
            states.append(None if view is None else view.state)
        assert states == ["paid", "delivered", None]  # settled: gone from the open map
        assert await settle_pass(market.gw) == 0
        t1 = await balances(market, "T1")
        assert (t1.cash_vnd, t1.cash_held_vnd) == (1_000_000_000 - 40 * 61_600, 0)
    finally:
        await market.client.close()


async def test_buyer_and_seller_hear_each_step_on_their_private_channel(market: Market) -> None:
    from websockets.asyncio.client import connect

    from tests.gateway.wsclient import recv, send

    async with connect(market.ws_url, additional_headers=market.h("T1")) as buyer, \
            connect(market.ws_url, additional_headers=market.h("C1")) as seller:
        for ws in (buyer, seller):
            await send(ws, op="subscribe", channels=["orders"])
            await recv(ws, type="subscribed")
        trade_id = await trade(market)
        await market.settle(trade_id, "paid")
        for ws, side in ((buyer, "buy"), (seller, "sell")):
            msg = await recv(ws, channel="orders", type="settlement")
            assert (msg["trade_id"], msg["side"], msg["state"], msg["previous_state"]) == (
                trade_id, side, "paid", "pending")
            assert msg["value_vnd"] == 40 * 61_600 and msg["lots"] == [["LOT-C1", 40]]


@pytest.mark.parametrize("trade_id", ["%C2%B2", "%D9%A1", "1%C2%B2"])
async def test_a_trade_id_of_non_ascii_digits_is_404_never_500(market: Market,
                                                                 trade_id: str) -> None:
    """'²' and '١' are str.isdigit(); int() refuses the first and reads the second as 1."""
    for method in ("GET", "POST"):
        r = await market.client.request(method, f"{P}/{trade_id}", headers=market.h("operator"),
                                        json={"state": "paid"})
        assert r.status == 404, (method, trade_id, r.status, await r.text())
