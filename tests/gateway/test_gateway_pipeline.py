"""The single-writer pipeline: answers only after the group commit, 503 on a full queue,
graceful shutdown (drain, commit, 1001 to WebSockets) and recovery on restart."""

from __future__ import annotations

import asyncio
import threading

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from engine.messages import PlaceOrder
from tests.gateway.conftest import SYMBOL, Market, settings, start
from tests.gateway.wsclient import recv, send


class BlockedCommit:
    """Holds the sequencer's commit (in its helper thread) until released."""

    def __init__(self, m: Market) -> None:
        self.seq = m.gw.sequencer
        self.entered = threading.Event()
        self.release = threading.Event()
        self._commit = self.seq.commit

    def __enter__(self) -> BlockedCommit:
        def commit(wait: bool = True) -> int:
            self.entered.set()
            self.release.wait(30)
            return self._commit(wait)

        self.seq.commit = commit  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.seq.commit = self._commit  # type: ignore[method-assign]


def order(i: int) -> PlaceOrder:
    return PlaceOrder(account="T1", client_order_id=f"p-{i}", symbol=SYMBOL, side="buy",
                      price_vnd=60_000 + 100 * i, qty=1)


async def test_no_answer_and_no_market_data_before_the_commit(market: Market) -> None:
    async with connect(market.ws_url) as ws:
        await send(ws, op="subscribe", channels=[f"book:{SYMBOL}"])
        snap = await recv(ws, type="snapshot")
        with BlockedCommit(market) as blocked:
            fut = market.gw.pipeline.submit_nowait(order(1))
            await asyncio.to_thread(blocked.entered.wait, 30)
            assert not fut.done()
            assert market.gw.market.books[SYMBOL].channel_seq == snap["seq"]  # not published
            assert market.gw.sequencer.exchange.depth(SYMBOL, 1).bids == [(60_100, 1)]
            blocked.release.set()
            events = await fut
        assert events[0].order_id > 0
        upd = await recv(ws, type="update")
        assert upd["seq"] == snap["seq"] + 1 and upd["bids"] == [[60_100, 1]]


async def test_full_queue_answers_503_with_retry_after(tmp_path) -> None:
    m = await start(settings(tmp_path, queue_size=2))
    try:
        with BlockedCommit(m) as blocked:
            first = m.gw.pipeline.submit_nowait(order(1))
            await asyncio.to_thread(blocked.entered.wait, 30)
            queued = [m.gw.pipeline.submit_nowait(order(i)) for i in (2, 3)]
            status, body = await m.order("T1", price=60_000, qty=1)
            assert (status, body["code"]) == (503, "overloaded")
            r = await m.client.post("/api/v1/orders", headers=m.h("T1"), json={
                "symbol": SYMBOL, "side": "buy", "price": 60_000, "qty": 1})
            assert r.status == 503 and r.headers["Retry-After"] == "1"
            r = await m.client.get("/healthz")
            assert (await r.json())["queue_depth"] == 2
            blocked.release.set()
            for f in (first, *queued):
                await f
        status, _ = await m.order("T1", price=60_000, qty=1)
        assert status == 201
    finally:
        await m.client.close()


async def test_graceful_shutdown_drains_commits_and_says_going_away(tmp_path) -> None:
    m = await start(settings(tmp_path, journal_sync=True))
    async with connect(m.ws_url) as ws:
        await send(ws, op="subscribe", channels=[f"book:{SYMBOL}"])
        await recv(ws, type="snapshot")
        futures = [m.gw.pipeline.submit_nowait(order(i)) for i in range(5)]
        await m.client.close()  # runner cleanup: shutdown, then the cleanup context
        with pytest.raises(ConnectionClosed) as info:
            while True:
                await ws.recv()
        assert info.value.rcvd.code == 1001
    assert all(f.done() and not f.exception() for f in futures)
    m2 = await start(settings(tmp_path), seed=False)
    try:
        bids = m2.gw.sequencer.exchange.depth(SYMBOL, 10).bids
        assert bids == [(60_000 + 100 * i, 1) for i in reversed(range(5))]
        r = await m2.client.get(f"/api/v1/instruments/{SYMBOL}/book")
        assert len((await r.json())["bids"]) == 5
    finally:
        await m2.client.close()


async def test_restart_keeps_participants_trades_and_refuses_a_second_process(tmp_path) -> None:
    m = await start(settings(tmp_path))
    token = m.tokens["T1"]
    await m.order("C1", side="sell", price=61_000, qty=10)
    await m.order("T1", side="buy", price=61_000, qty=3)
    await m.pay()
    await m.client.close()
    m2 = await start(settings(tmp_path), seed=False)
    try:
        r = await m2.client.get("/api/v1/balances", headers={"Authorization": f"Bearer {token}"})
        assert r.status == 200 and (await r.json())["cash_vnd"] == 1_000_000_000 - 3 * 61_000
        r = await m2.client.get(f"/api/v1/instruments/{SYMBOL}/trades")
        assert [(t["price"], t["qty"]) for t in (await r.json())["trades"]] == [(61_000, 3)]
        r = await m2.client.get(f"/api/v1/instruments/{SYMBOL}/ticker")
        assert (await r.json())["last"] == 61_000
        r = await m2.client.get("/api/v1/fills", headers={"Authorization": f"Bearer {token}"})
        assert len((await r.json())["fills"]) == 1
        from engine.durable.journal import JournalError

        with pytest.raises(JournalError):
            await start(settings(tmp_path), seed=False)
    finally:
        await m2.client.close()
