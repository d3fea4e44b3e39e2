"""`herbx serve --no-consumers` (`Settings.consumers=False`): the serving process books no ledger
and prunes no journal, so that `herbx consume` can follow it from any position; the snapshot it
takes keeps every segment, and the external booker started afterwards books the whole journal."""

from __future__ import annotations

import asyncio
from pathlib import Path

from engine.durable.journal import list_segments
from gateway.link.consume import Follower
from settlement.booker import Booker
from settlement.resume import steps_after
from settlement.schedule import Schedule
from settlement.sqlite_store import SqliteStore
from tests.gateway.conftest import SYMBOL, settings, start


async def test_a_server_without_consumers_books_nothing_and_prunes_nothing(
        tmp_path: Path) -> None:
    m = await start(settings(tmp_path, consumers=False))
    try:
        assert m.gw.feed is None and m.gw.ledger is None
        async with m.client.get("/healthz") as r:
            assert (await r.json())["consumers"] == {}
        for i in range(3):  # trades, each followed by a snapshot that could prune
            for side, who in (("sell", "C1"), ("buy", "T1")):
                async with m.client.post("/api/v1/orders", headers=m.h(who), json={
                        "symbol": SYMBOL, "side": side, "price": 61_000, "qty": 2,
                        "client_order_id": f"nc-{side}-{i}"}) as r:
                    assert r.status == 201, await r.text()
            assert m.gw.sequencer is not None
            await asyncio.to_thread(m.gw.sequencer.snapshot)
        segments = list_segments(tmp_path / "engine" / "journal")
        assert len(segments) > 1 and segments[0].first_seq == 1  # a snapshot rotates the journal
        last = m.gw.exchange.last_seq
    finally:
        await m.client.close()
    assert not (tmp_path / "ledger.sqlite").exists()

    def make(exchange_of: object) -> Booker:
        return Booker(SqliteStore(tmp_path / "ledger.sqlite"), Schedule.load(), lambda _: None,
                      owns_store=True)

    follower = Follower(tmp_path, make)
    booker = make(None)
    assert await follower.begin(booker) == 0
    while await follower.step(booker):
        pass
    try:
        assert booker.position == last
        trades = [t for t in await booker.store.transactions() if t.kind == "trade"]
        journal = [e for _, events in steps_after(tmp_path / "engine", 0) for e in events
                   if type(e).__name__ == "TradeExecuted"]
        assert len(trades) == len(journal) == 3
    finally:
        await booker.close()


async def test_herbx_consume_writes_the_ticks_in_its_own_process(tmp_path: Path) -> None:
    """`herbx consume --consumer ticks` follows a market that writes no ticks itself: every trade
    of the journal becomes one tick in `<data-dir>/ticks.sqlite`, and it stops cleanly on
    SIGTERM (its position is in the tick store, so a restart goes on from there)."""
    import signal
    import sys

    import aiohttp

    from settlement.ticks.sqlite import SqliteTickStore
    from settlement.ticks.store import TickQuery
    from tests.chaos.test_consume_health import free_port

    m = await start(settings(tmp_path, consumers=False))
    try:
        for i in range(2):
            for side, who in (("sell", "C1"), ("buy", "T1")):
                async with m.client.post("/api/v1/orders", headers=m.h(who), json={
                        "symbol": SYMBOL, "side": side, "price": 61_000 + 100 * i, "qty": 3,
                        "client_order_id": f"tk-{side}-{i}"}) as r:
                    assert r.status == 201, await r.text()
        last = m.gw.exchange.last_seq
    finally:
        await m.client.close()
    assert not (tmp_path / "ticks.sqlite").exists()
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway.cli", "consume", "--consumer", "ticks",
        "--data-dir", str(tmp_path), "--poll-ms", "20", "--health-port", str(port),
        stdout=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None
        assert b"ticks of" in await asyncio.wait_for(proc.stdout.readline(), 60)
        # the health endpoint first: opening the store here while the process is still
        # creating it would race its migration ("table tick_state already exists")
        async with aiohttp.ClientSession() as http, asyncio.timeout(60):
            while True:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                    doc = await r.json()
                if doc["consumers"]["ticks"]["position"] == last:
                    break
                await asyncio.sleep(0.02)
        store = SqliteTickStore(tmp_path / "ticks.sqlite")
        await store.open()
        try:
            assert (await store.load_state())[0] == last  # its position is in the store
            ticks = await store.ticks(TickQuery(), 100)
        finally:
            await store.close()
        assert doc["seq"] == last
        health = doc["consumers"]["ticks"]
        assert (health["state"], health["position"], health["lag_commands"], health["gaps"],
                health["duplicates"]) == ("live", last, 0, 0, 0)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
    assert [(t.price_vnd, t.qty) for t in ticks] == [(61_000, 3), (61_100, 3)]
