"""Lot auctions over REST and WebSocket: English with proxy bids and a public channel, sealed,
Dutch buys, refusals; the public board never shows a reserve or a hidden maximum."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from websockets.asyncio.client import connect

from engine.messages import ReceiveLot, Tick
from tests.gateway.conftest import SYMBOL, FakeClock, Market, settings, start
from tests.gateway.wsclient import recv, send


@pytest.fixture
async def amarket(tmp_path) -> AsyncIterator[tuple[Market, FakeClock]]:
    clock = FakeClock()
    m = await start(settings(tmp_path), clock=clock)
    for i in range(3):
        await m.gw.submit(ReceiveLot(lot_id=f"AUC-{i}", account="C1", symbol=SYMBOL, qty=500))
    yield m, clock
    await m.client.close()


async def post(m: Market, path: str, who: str, **body):
    r = await m.client.post(path, json=body, headers=m.h(who))
    return r.status, await r.json()


async def test_english_auction_over_rest_and_ws(amarket) -> None:
    m, clock = amarket
    status, a = await post(m, "/api/v1/auctions", "C1", kind="english", lot_id="AUC-0",
                           qty=500, start_price=60_000, reserve=65_000, duration_s=60)
    assert status == 201, a
    aid = a["auction_id"]
    assert (a["status"], a["price"], a["reserve_set"]) == ("open", 60_000, True)
    assert "reserve" not in a
    async with connect(m.ws_url) as ws:
        await send(ws, op="subscribe", channels=[f"auction:{aid}"])
        await recv(ws, type="subscribed")
        status, b1 = await post(m, f"/api/v1/auctions/{aid}/bids", "T1", price=70_000)
        assert status == 201 and b1["leading"] is True and b1["max_price"] == 70_000
        acc = await recv(ws, type="bid_accepted")
        # one bidder whose maximum passes the reserve: the price jumps to the reserve
        assert (acc["price"], acc["reserve_met"]) == (65_000, True)
        assert "max_price" not in acc and acc["seq"] == 3  # created, opened, this bid
        status, b2 = await post(m, f"/api/v1/auctions/{aid}/bids", "T2", price=66_000)
        assert status == 201 and b2["leading"] is False
        status, low = await post(m, f"/api/v1/auctions/{aid}/bids", "T2", price=100)
        assert status == 422 and low["code"] in ("below_min_bid", "bid_not_raised")
        r = await m.client.get(f"/api/v1/auctions/{aid}")
        view = await r.json()
        assert view["bids"] >= 2 and view["price"] < 70_000  # the maximum stays hidden
        clock.advance(61)
        await m.gw.submit(Tick())
        closed = await recv(ws, type="auction_closed")
        assert (closed["outcome"], closed["winner"]) == ("sold", "T1")
    r = await m.client.get("/api/v1/auctions")
    assert (await r.json())["auctions"] == []
    r = await m.client.get("/api/v1/auctions?status=all")
    assert (await r.json())["auctions"][0]["status"] == "closed"
    await m.pay()  # the lot is T1's once the operator marks the trade paid
    r = await m.client.get("/api/v1/balances", headers=m.h("T1"))
    assert any(g["symbol"] == SYMBOL and g["qty"] == 500 for g in (await r.json())["goods"])


async def test_sealed_and_dutch_and_refusals(amarket) -> None:
    m, clock = amarket
    status, s = await post(m, "/api/v1/auctions", "operator", kind="sealed", seller="C1",
                           lot_id="AUC-1", qty=500, start_price=50_000, duration_s=30,
                           pricing="second")
    assert status == 201, s
    async with connect(m.ws_url, additional_headers=m.h("T1")) as ws:
        await send(ws, op="bid", req_id=1, auction_id=s["auction_id"], price=61_000)
        res = await recv(ws, type="result", req_id=1)
        assert res["status"] == 201 and res["body"]["kind"] == "sealed"
    await post(m, f"/api/v1/auctions/{s['auction_id']}/bids", "T2", price=55_000)
    clock.advance(31)
    await m.gw.submit(Tick())
    r = await m.client.get(f"/api/v1/auctions/{s['auction_id']}")
    view = await r.json()
    assert (view["status"], view["winner"], view["price"]) == ("closed", "T1", 55_000)

    status, d = await post(m, "/api/v1/auctions", "C1", kind="dutch", lot_id="AUC-2", qty=500,
                           start_price=70_000, step=1_000, interval_ms=5_000, floor=60_000,
                           min_qty=100)
    assert status == 201 and d["price"] == 70_000, d
    aid = d["auction_id"]
    status, stale = await post(m, f"/api/v1/auctions/{aid}/buy", "T1", price=69_000, qty=100)
    assert (status, stale["code"]) == (422, "stale_price")
    clock.advance(5)
    await m.gw.submit(Tick())
    status, buy = await post(m, f"/api/v1/auctions/{aid}/buy", "T1", price=69_000, qty=100)
    assert status == 201 and (buy["price"], buy["qty"]) == (69_000, 100)
    r = await m.client.get(f"/api/v1/auctions/{aid}")
    assert (await r.json())["remaining_qty"] == 400
    status, p = await post(m, "/api/v1/auctions/999999/bids", "T1", price=1)
    assert (status, p["code"]) == (404, "unknown_auction")
    status, p = await post(m, "/api/v1/auctions", "C1", kind="english", lot_id="NOPE", qty=1,
                           start_price=1)
    assert (status, p["code"]) == (404, "unknown_lot")  # one code, one status
    status, p = await post(m, "/api/v1/auctions", "C1", kind="english", lot_id="AUC-0",
                           qty=1, start_price=1, seller="C9")
    assert status == 403
    status, p = await post(m, "/api/v1/auctions", "operator", kind="english", lot_id="AUC-0",
                           qty=1, start_price=1)
    assert status == 422
    status, p = await post(m, "/api/v1/auctions", "C1", kind="auction?", lot_id="AUC-0",
                           qty=1, start_price=1)
    assert status == 422 and p["errors"][0]["field"] == "$.kind"


async def test_a_live_sealed_auction_shows_nothing_of_its_bids_even_after_a_restart(
        tmp_path) -> None:
    # issue 9.4: the board rebuilt from engine state at start-up copied the bid counter (0
    # live, 3 after a restart). Nothing about a live sealed auction's bids is public; the
    # close opens them all, under pseudonyms, and that survives a restart too.
    clock = FakeClock()
    m = await start(settings(tmp_path), clock=clock)
    try:
        await m.gw.submit(ReceiveLot(lot_id="SEAL-1", account="C1", symbol=SYMBOL, qty=100))
        status, s = await post(m, "/api/v1/auctions", "C1", kind="sealed", lot_id="SEAL-1",
                               qty=100, start_price=50_000, duration_s=60, pricing="second")
        assert status == 201 and s["bids"] is None, s
        aid = s["auction_id"]
        for who, price in (("T2", 55_000), ("T1", 61_000), ("T2", 58_000)):
            status, _ = await post(m, f"/api/v1/auctions/{aid}/bids", who, price=price)
            assert status == 201
        r = await m.client.get(f"/api/v1/auctions/{aid}")
        view = await r.json()
        assert view["bids"] is None and "sealed_bids" not in view
    finally:
        await m.client.close()
    m = await start(settings(tmp_path), clock=clock)
    try:
        view = await (await m.client.get(f"/api/v1/auctions/{aid}")).json()
        assert view["status"] == "open" and view["bids"] is None, view
        assert "sealed_bids" not in view
        async with connect(m.ws_url) as ws:
            await send(ws, op="subscribe", channels=[f"auction:{aid}"])
            await recv(ws, type="subscribed")
            clock.advance(61)
            await m.gw.submit(Tick())
            opened = await recv(ws, type="sealed_bids_opened")
            assert opened["bids"] == [["bidder 2", 61_000], ["bidder 1", 58_000]]
            assert opened["winning_bidder"] == "bidder 2"
        view = await (await m.client.get(f"/api/v1/auctions/{aid}")).json()
        shown = {k: view[k] for k in ("status", "winner", "price", "bids", "winning_bidder",
                                      "sealed_bids")}
        assert shown == {"status": "closed", "winner": "T1", "price": 58_000, "bids": 2,
                         "winning_bidder": "bidder 2",
                         "sealed_bids": [{"bidder": "bidder 2", "price": 61_000},
                                         {"bidder": "bidder 1", "price": 58_000}]}
    finally:
        await m.client.close()
    m = await start(settings(tmp_path), clock=clock)
    try:
        view = await (await m.client.get(f"/api/v1/auctions/{aid}")).json()
        assert (view["bids"], view["winning_bidder"], view["sealed_bids"][0]) == (
            2, "bidder 2", {"bidder": "bidder 2", "price": 61_000})
    finally:
        await m.client.close()


async def test_cancel_an_auction_over_rest(amarket) -> None:
    # issue 9.5: the seller before the first bid, the operator at any time; holds released,
    # the lot back in custody, bidders told; 404 / 403 / 409 / 422 otherwise (problem+json)
    m, _clock = amarket
    from gateway.auth import Participant

    m.gw.registry.add(Participant(id="C2", name="C2 name", role="cooperative", number=8))
    m.tokens["C2"] = m.gw.registry.issue_token("C2")

    async def goods(who: str, lot: str) -> int:
        r = await m.client.get("/api/v1/balances", headers=m.h(who))
        return sum(g["qty"] for g in (await r.json())["goods"] if g["symbol"] == SYMBOL)

    before = await goods("C1", "AUC-0")
    status, a = await post(m, "/api/v1/auctions", "C1", kind="english", lot_id="AUC-0",
                           qty=500, start_price=60_000, duration_s=60)
    assert status == 201
    status, done = await post(m, f"/api/v1/auctions/{a['auction_id']}/cancel", "C1",
                              reason="lot sold outside the market")
    assert status == 200, done
    assert (done["outcome"], done["cancelled_by"], done["returned_qty"], done["voided_bids"]) == (
        "unsold", "seller", 500, 0)
    view = await (await m.client.get(f"/api/v1/auctions/{a['auction_id']}")).json()
    assert (view["status"], view["reason"], view["cancel_reason"]) == (
        "closed", "cancelled", "lot sold outside the market")
    assert await goods("C1", "AUC-0") == before

    status, b = await post(m, "/api/v1/auctions", "C1", kind="sealed", lot_id="AUC-1",
                           qty=500, start_price=50_000, duration_s=60)
    aid = b["auction_id"]
    async with connect(m.ws_url, additional_headers=m.h("T1")) as ws:
        await send(ws, op="subscribe", channels=["orders"])
        await recv(ws, type="subscribed")
        status, _ = await post(m, f"/api/v1/auctions/{aid}/bids", "T1", price=61_000)
        assert status == 201
        r = await m.client.post(f"/api/v1/auctions/{aid}/cancel", json={"reason": "x"},
                                headers=m.h("C1"))
        assert r.status == 409 and r.content_type == "application/problem+json"
        assert (await r.json())["code"] == "auction_has_bids"
        status, p = await post(m, f"/api/v1/auctions/{aid}/cancel", "C2", reason="x")
        assert (status, p["code"]) == (403, "not_seller")
        status, p = await post(m, f"/api/v1/auctions/{aid}/cancel", "T1", reason="x")
        assert status == 403
        status, p = await post(m, f"/api/v1/auctions/{aid}/cancel", "operator", reason="")
        assert status == 422 and p["errors"][0]["field"] == "$.reason"
        status, p = await post(m, "/api/v1/auctions/999999/cancel", "operator", reason="x")
        assert (status, p["code"]) == (404, "unknown_auction")
        status, done = await post(m, f"/api/v1/auctions/{aid}/cancel", "operator",
                                  reason="assay under review")
        assert status == 200 and (done["cancelled_by"], done["voided_bids"]) == ("operator", 1)
        void = await recv(ws, channel="orders", type="bid_voided")
        assert (void["auction_id"], void["released_vnd"]) == (aid, 61_000 * 500)
    r = await m.client.get("/api/v1/balances", headers=m.h("T1"))
    assert (await r.json())["cash_held_vnd"] == 0
    status, p = await post(m, f"/api/v1/auctions/{aid}/cancel", "operator", reason="again")
    assert (status, p["code"]) == (409, "auction_closed")


async def test_the_cancel_endpoint_is_in_the_openapi_document(amarket) -> None:
    m, _ = amarket
    doc = await (await m.client.get("/api/v1/openapi.json")).json()
    op = doc["paths"]["/api/v1/auctions/{auction_id}/cancel"]["post"]
    assert op["x-roles"] == ["cooperative", "operator"]
    ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    reason = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"]["reason"]
    assert (reason["minLength"], reason["maxLength"]) == (1, 200)
    assert "200" in op["responses"] and "4XX" in op["responses"]


async def test_a_closed_auction_shows_its_outcome_after_a_restart(tmp_path) -> None:
    # The board is rebuilt from the engine's state at start-up: a closed auction must show what
    # its `auction_closed` (and `auction_cancelled`) said, as the board built from events does,
    # not a bare "closed" without outcome, reason, winner or price.
    clock = FakeClock()
    m = await start(settings(tmp_path), clock=clock)
    try:
        for lot in ("OUT-1", "OUT-2"):
            await m.gw.submit(ReceiveLot(lot_id=lot, account="C1", symbol=SYMBOL, qty=100))
        status, a = await post(m, "/api/v1/auctions", "C1", kind="english", lot_id="OUT-1",
                               qty=100, start_price=60_000, duration_s=60)
        assert status == 201, a
        sold = a["auction_id"]
        status, c = await post(m, "/api/v1/auctions", "C1", kind="english", lot_id="OUT-2",
                               qty=100, start_price=60_000, duration_s=600)
        cancelled = c["auction_id"]
        assert (await post(m, f"/api/v1/auctions/{sold}/bids", "T1", price=70_000))[0] == 201
        status, body = await post(m, f"/api/v1/auctions/{cancelled}/cancel", "C1",
                                  reason="lot recalled by the cooperative")
        assert status == 200, body
        clock.advance(61)
        await m.gw.submit(Tick())
        before = {aid: await (await m.client.get(f"/api/v1/auctions/{aid}")).json()
                  for aid in (sold, cancelled)}
        assert (before[sold]["outcome"], before[sold]["winner"]) == ("sold", "T1")
        assert before[cancelled]["reason"] == "cancelled"
    finally:
        await m.client.close()
    m = await start(settings(tmp_path), clock=clock)
    try:
        for aid, was in before.items():
            now = await (await m.client.get(f"/api/v1/auctions/{aid}")).json()
            keys = ("status", "outcome", "reason", "winner", "price", "sold_qty",
                    "cancelled_by", "cancel_reason")
            assert {k: now.get(k) for k in keys} == {k: was.get(k) for k in keys}, (aid, now)
    finally:
        await m.client.close()


async def test_a_live_dutch_auction_shows_the_same_terms_after_a_restart(tmp_path) -> None:
    # The board built at start-up from the engine's views had no step, floor, minimum or next
    # step, which the board built from events shows.
    clock = FakeClock()
    m = await start(settings(tmp_path), clock=clock)
    try:
        await m.gw.submit(ReceiveLot(lot_id="DUT-1", account="C1", symbol=SYMBOL, qty=100))
        status, a = await post(m, "/api/v1/auctions", "C1", kind="dutch", lot_id="DUT-1",
                               qty=100, start_price=70_000, step=1_000, interval_ms=10_000,
                               floor=50_000, min_qty=10)
        assert status == 201, a
        aid = a["auction_id"]
        clock.advance(11)
        await m.gw.submit(Tick())
        before = await (await m.client.get(f"/api/v1/auctions/{aid}")).json()
        assert before["price"] == 69_000 and before["step"] == 1_000, before
    finally:
        await m.client.close()
    m = await start(settings(tmp_path), clock=clock)
    try:
        now = await (await m.client.get(f"/api/v1/auctions/{aid}")).json()
        keys = ("status", "price", "step", "floor", "min_qty", "next_step_at", "remaining_qty")
        assert {k: now.get(k) for k in keys} == {k: before.get(k) for k in keys}, now
    finally:
        await m.client.close()
