"""WebSocket /ws: book snapshot + updates proven by checksums, gap resync, trades, ticker,
private orders channel, order entry, limits, slow consumers, heartbeats."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.gateway.conftest import SYMBOL, Market, settings, start
from tests.gateway.wsclient import Gap, LocalBook, recv, send

BOOK = f"book:{SYMBOL}"


async def test_book_snapshot_then_updates_verified_by_checksum(market: Market) -> None:
    await market.order("C1", side="sell", price=62_000, qty=100)  # before the subscription
    async with connect(market.ws_url) as ws:
        await send(ws, op="subscribe", channels=[BOOK])
        book = LocalBook()
        book.apply(await recv(ws, channel=BOOK, type="snapshot"))
        assert book.asks == {62_000: 100}
        # a stream of changes: rests, trades, replaces and cancels on both sides
        ids = []
        for i in range(12):
            _, o = await market.order("T1", side="buy", price=60_000 + 100 * i, qty=5 + i)
            ids.append(o["order_id"])
            await market.order("C1", side="sell", price=62_100 + 100 * (i % 4), qty=3)
        await market.order("T2", side="buy", price=62_200, qty=50)  # sweeps some asks
        await market.client.patch(f"/api/v1/orders/{ids[3]}", json={"price": 59_000},
                                  headers=market.h("T1"))
        for oid in ids[:6]:
            await market.client.delete(f"/api/v1/orders/{oid}", headers=market.h("T1"))
        market.gw.market.flush_all()  # release what conflation holds back
        r = await market.client.get(f"/api/v1/instruments/{SYMBOL}/book?depth=1000")
        final = await r.json()
        while book.seq != final["seq"]:
            book.apply(await recv(ws, channel=BOOK))
        assert book.top() == (final["bids"], final["asks"])
        assert book.updates >= 1


async def test_gap_is_detected_and_resynced_with_a_new_snapshot(market: Market) -> None:
    async with connect(market.ws_url) as ws:
        await send(ws, op="subscribe", channels=[BOOK])
        book = LocalBook()
        book.apply(await recv(ws, channel=BOOK, type="snapshot"))
        await market.order("T1", price=60_000, qty=1)
        await market.order("T1", price=60_100, qty=1)
        await recv(ws, channel=BOOK, type="update")  # "lost" on the way
        with pytest.raises(Gap):
            book.apply(await recv(ws, channel=BOOK, type="update"))
        await send(ws, op="snapshot", channel=BOOK)
        book.apply(await recv(ws, channel=BOOK, type="snapshot"))
        assert book.bids == {60_000: 1, 60_100: 1}
        await market.order("T1", price=60_200, qty=1)
        book.apply(await recv(ws, channel=BOOK, type="update"))
        assert book.bids == {60_000: 1, 60_100: 1, 60_200: 1}


async def test_conflated_updates_keep_seq_and_checksum(tmp_path) -> None:
    m = await start(settings(tmp_path, conflate_ms=3_600_000))
    try:
        async with connect(m.ws_url) as ws:
            await send(ws, op="subscribe", channels=[BOOK])
            book = LocalBook()
            book.apply(await recv(ws, channel=BOOK, type="snapshot"))
            await m.order("T1", price=60_000, qty=1)  # the first change goes out at once
            first = await recv(ws, channel=BOOK, type="update")
            book.apply(first)
            for i in range(1, 5):  # these wait for the conflation interval
                await m.order("T1", price=60_000 + 100 * i, qty=i)
            _, o = await m.order("T1", price=60_000, qty=9)
            await m.client.delete(f"/api/v1/orders/{o['order_id']}", headers=m.h("T1"))
            assert m.gw.market.books[SYMBOL].channel_seq == first["seq"]
            snap = m.gw.market.books[SYMBOL].snapshot(100)  # a late subscriber's snapshot
            m.gw.market.flush_all()
            merged = await recv(ws, channel=BOOK, type="update")
            book.apply(merged)
            assert merged["seq"] == first["seq"] + 1 and merged["book_seq"] == first["book_seq"] + 6
            assert book.bids == {60_000 + 100 * i: i or 1 for i in range(5)}
            late = LocalBook()
            late.apply(snap)
            late.apply(merged)  # repeats changes the snapshot has: absolute, so harmless
            assert late.top() == book.top()
    finally:
        await m.client.close()


async def test_a_trade_goes_out_with_its_books_conflated_update(tmp_path) -> None:
    """While a book's update waits for the conflation interval, the trades of that book and
    its ticker wait with it: then trade, update and ticker arrive in that order (one write),
    and the trade never reaches a client before the book change it made."""
    m = await start(settings(tmp_path, conflate_ms=3_600_000))
    trades = f"trades:{SYMBOL}"
    try:
        async with connect(m.ws_url) as ws:
            await send(ws, op="subscribe", channels=[BOOK, trades, "ticker"])
            book = LocalBook()
            book.apply(await recv(ws, channel=BOOK, type="snapshot"))
            await m.order("C1", side="sell", price=61_000, qty=10)  # goes out at once
            book.apply(await recv(ws, channel=BOOK, type="update"))
            await recv(ws, type="ticker", best_ask=61_000)
            await m.order("T1", side="buy", price=61_000, qty=4)  # trades; update conflated
            await send(ws, op="ping")
            before = []  # everything sent before the pong: no trade yet
            while (msg := json.loads(await ws.recv()))["type"] != "pong":
                before.append(msg)
            assert [x for x in before if x["type"] in ("trade", "update", "ticker")] == []
            m.gw.market.books[SYMBOL]._check()
            m.gw.market.flush_all()
            m.gw.market.books[SYMBOL]._check()
            trade = await recv(ws, channel=trades)
            update = json.loads(await ws.recv())
            ticker = json.loads(await ws.recv())
            assert (trade["type"], trade["price"], trade["qty"]) == ("trade", 61_000, 4)
            assert (update["channel"], update["type"]) == (BOOK, "update")
            book.apply(update)
            assert book.asks == {61_000: 6}
            assert (ticker["type"], ticker["last"], ticker["volume"]) == ("ticker", 61_000, 4)
    finally:
        await m.client.close()


async def test_trades_and_ticker_channels(market: Market) -> None:
    async with connect(market.ws_url) as ws:
        await send(ws, op="subscribe", channels=[f"trades:{SYMBOL}", "ticker"])
        assert (await recv(ws, type="subscribed"))["channels"] == [f"trades:{SYMBOL}", "ticker"]
        await market.order("C1", side="sell", price=61_000, qty=10)
        await market.order("T1", side="buy", price=61_000, qty=4)
        trade = await recv(ws, type="trade")
        assert {k: trade[k] for k in ("channel", "price", "qty", "aggressor")} == {
            "channel": f"trades:{SYMBOL}", "price": 61_000, "qty": 4, "aggressor": "buy"}
        assert trade["ts"].endswith("Z") and trade["seq"] >= 1
        tick = await recv(ws, type="ticker", last=61_000)
        assert (tick["symbol"], tick["volume"], tick["best_ask"]) == (SYMBOL, 4, 61_000)


async def test_private_orders_channel_and_order_entry(market: Market) -> None:
    # one connection enters orders, another (same trader) follows the private channel: private
    # updates may arrive before the answer to the request that caused them
    async with connect(market.ws_url, additional_headers=market.h("T1")) as ws, \
            connect(market.ws_url, additional_headers=market.h("T1")) as priv, \
            connect(market.ws_url) as anon:
        await send(anon, op="subscribe", channels=["orders"])
        assert (await recv(anon, type="error"))["code"] == "unauthorized"
        await send(priv, op="subscribe", channels=["orders"])
        await recv(priv, type="subscribed")
        await send(ws, op="order", req_id=1, symbol=SYMBOL, side="buy", price=60_000, qty=7,
                   client_order_id="ws-1")
        res = await recv(ws, type="result", req_id=1)
        assert res["status"] == 201 and res["body"]["status"] == "new"
        acc = await recv(priv, channel="orders", type="order_accepted")
        assert (acc["order_id"], acc["price"], acc["qty"]) == (res["body"]["order_id"], 60_000, 7)
        await send(ws, op="order", req_id=2, symbol=SYMBOL, side="buy", price=60_000, qty=7,
                   client_order_id="ws-1")
        again = await recv(ws, type="result", req_id=2)
        assert again["status"] == 200 and again["body"]["resent"] is True
        await send(ws, op="replace", req_id=3, order_id=acc["order_id"], qty=3)
        assert (await recv(ws, type="result", req_id=3))["body"]["leaves_qty"] == 3
        await send(ws, op="order", req_id=4, symbol=SYMBOL, side="buy", price=60_001, qty=1)
        err = await recv(ws, type="error", req_id=4)
        assert (err["code"], err["status"]) == ("price_off_tick", 422)
        await market.order("C1", side="sell", price=60_000, qty=2)
        fill = await recv(priv, channel="orders", type="fill")
        assert (fill["order_id"], fill["qty"], fill["liquidity"], fill["leaves_qty"]) == (
            acc["order_id"], 2, "maker", 1)
        await send(ws, op="cancel", req_id=5, order_id=acc["order_id"])
        assert (await recv(ws, type="result", req_id=5))["body"]["status"] == "cancelled"
        assert (await recv(priv, type="order_cancelled"))["order_id"] == acc["order_id"]
        await send(anon, op="order", req_id=9, symbol=SYMBOL, side="buy", price=1, qty=1)
        assert (await recv(anon, type="error", req_id=9))["status"] == 401


async def test_auth_message_and_bad_input(market: Market) -> None:
    async with connect(market.ws_url) as ws:
        await send(ws, op="auth", token="nope")
        assert (await recv(ws, type="error"))["code"] == "unauthorized"
        await send(ws, op="auth", token=market.tokens["T2"], req_id="a")
        assert (await recv(ws, type="authenticated"))["participant"] == "T2"
        await ws.send("{nope")
        assert (await recv(ws, type="error"))["code"] == "bad_message"
        await send(ws, op="dance")
        assert (await recv(ws, type="error"))["code"] == "unknown_op"
        await send(ws, op="subscribe", channels=["book:NOPE", "weather"])
        err = await recv(ws, type="error")  # one error for the message, naming each channel
        assert err["code"] == "unknown_symbol"
        assert err["channels"] == {"book:NOPE": "unknown_symbol", "weather": "unknown_channel"}
        await send(ws, op="subscribe")
        assert (await recv(ws, type="error"))["code"] == "invalid_field"
        await send(ws, op="order", req_id=3, symbol=SYMBOL, side="sideways", qty=1)
        assert (await recv(ws, type="error", req_id=3))["status"] == 422


async def test_bad_header_token_refuses_the_upgrade(market: Market) -> None:
    from websockets.exceptions import InvalidStatus

    with pytest.raises(InvalidStatus) as info:
        async with connect(market.ws_url, additional_headers={"Authorization": "Bearer x"}):
            pass
    assert info.value.response.status_code == 401


async def test_subscription_and_message_size_limits(tmp_path) -> None:
    m = await start(settings(tmp_path, ws_max_subscriptions=2, ws_max_msg_bytes=512))
    try:
        async with connect(m.ws_url) as ws:
            await send(ws, op="subscribe", channels=[BOOK, f"trades:{SYMBOL}"])
            await send(ws, op="subscribe", channels=["ticker"])
            assert (await recv(ws, type="error"))["code"] == "too_many_subscriptions"
            await ws.send(json.dumps({"op": "ping", "pad": "x" * 2_000}))
            with pytest.raises(ConnectionClosed) as info:
                await recv(ws, type="never")
            assert info.value.rcvd.code == 1009
    finally:
        await m.client.close()


async def test_slow_consumer_is_cut_off_without_hurting_others(tmp_path) -> None:
    m = await start(settings(tmp_path, ws_send_buffer_bytes=64 * 1024))
    try:
        async with connect(m.ws_url, max_queue=1) as slow, connect(m.ws_url) as other:
            await send(slow, op="subscribe", channels=[BOOK])
            await recv(slow, type="snapshot")
            await send(other, op="subscribe", channels=[f"trades:{SYMBOL}"])
            await recv(other, type="subscribed")
            # The slow client stops reading: the kernel's socket buffers fill, then the
            # server's send buffer passes its bound and the client is cut off. Nothing here
            # awaits the slow client: publishing never blocks.
            padding = {"channel": BOOK, "type": "padding", "pad": "x" * 60_000}
            for _ in range(5_000):
                m.gw.hub.publish([(("channel", BOOK), padding)])
                if BOOK not in m.gw.hub.channels:
                    break
            assert BOOK not in m.gw.hub.channels, "the slow client was never cut off"
            await m.order("C1", side="sell", price=61_000, qty=1)
            await m.order("T1", side="buy", price=61_000, qty=1)
            assert (await recv(other, type="trade"))["qty"] == 1
            with pytest.raises(ConnectionClosed) as info:
                while True:
                    await slow.recv()
            assert info.value.rcvd is not None and info.value.rcvd.code == 1008
            assert "slow consumer" in info.value.rcvd.reason
    finally:
        await m.client.close()


async def test_heartbeat_carries_the_last_seqs(tmp_path) -> None:
    m = await start(settings(tmp_path, heartbeat_s=0.02))
    try:
        await m.order("T1", price=60_000, qty=1)
        async with connect(m.ws_url) as ws:
            await send(ws, op="subscribe", channels=[BOOK])
            snap = await recv(ws, type="snapshot")
            hb = await asyncio.wait_for(recv(ws, type="heartbeat"), 30)
            assert hb["seqs"] == {BOOK: snap["seq"]} and hb["ts"].endswith("Z")
    finally:
        await m.client.close()


@pytest.mark.parametrize("role", ["trader", "cooperative", "lab", "analyst", "operator", None])
async def test_websocket_roles(market: Market, role) -> None:
    """Public channels for everyone; the orders channel and order entry for traders and
    cooperatives only."""
    headers = {} if role is None else market.h(role)
    trading = role in ("trader", "cooperative")
    async with connect(market.ws_url, additional_headers=headers) as ws:
        await send(ws, op="subscribe", channels=[BOOK, f"trades:{SYMBOL}", "ticker", "auctions"])
        assert len((await recv(ws, type="subscribed"))["channels"]) == 4
        await send(ws, op="subscribe", channels=["orders"], req_id=1)
        msg = await recv(ws, req_id=1) if not trading else await recv(ws, type="subscribed")
        assert trading or msg["status"] == (401 if role is None else 403)
        side = "sell" if role == "cooperative" else "buy"
        await send(ws, op="order", req_id=2, symbol=SYMBOL, side=side, price=61_000, qty=1)
        res = await recv(ws, req_id=2)
        if trading:
            assert res["type"] == "result" and res["status"] == 201
        else:
            assert res["type"] == "error" and res["status"] == (401 if role is None else 403)


async def test_gtd_expiry_and_market_orders(tmp_path) -> None:
    from engine.messages import Tick
    from gateway.stream.wire import iso_ts
    from tests.gateway.conftest import FakeClock

    clock = FakeClock()
    m = await start(settings(tmp_path), clock=clock)
    try:
        async with connect(m.ws_url, additional_headers=m.h("T1")) as ws:
            await send(ws, op="subscribe", channels=["orders"])
            await recv(ws, type="subscribed")
            expire = iso_ts(clock.ns + 60 * 10**9)
            status, o = await m.order("T1", price=60_000, qty=5, tif="gtd", expire_at=expire)
            assert status == 201, o
            status, bad = await m.order("T1", price=60_000, qty=5, tif="gtd")
            assert (status, bad["code"]) == (422, "expire_at_required")
            clock.advance(61)
            await m.gw.submit(Tick())
            exp = await recv(ws, type="order_expired")
            assert (exp["order_id"], exp["leaves_qty"]) == (o["order_id"], 5)
        await m.order("C1", side="sell", price=61_000, qty=10)
        status, mkt = await m.order("T1", type="market", qty=4, cash_cap=1_000_000)
        assert status == 201 and (mkt["status"], mkt["filled_qty"]) == ("filled", 4)
        status, bad = await m.order("T1", type="market", qty=4)
        assert status == 422, bad
        status, sell = await m.order("C1", side="sell", type="market", qty=50)
        assert status == 201 and sell["status"] == "cancelled" and sell["cancel_reason"] == "ioc"
    finally:
        await m.client.close()
