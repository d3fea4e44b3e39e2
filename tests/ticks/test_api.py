"""Tick data through the running market: trades reach the tick store and the live bar channel,
REST pages and bars, streaming CSV and Parquet exports, roles, bad input, and a restart."""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Any

import pyarrow.parquet as pq
import pytest
from websockets.asyncio.client import connect

from gateway.config import Settings
from tests.gateway.conftest import SYMBOL, Market, settings, start
from tests.gateway.wsclient import recv, send


async def written(m: Market) -> None:
    """Until the tick writer holds every committed command (a generous guard, not a timing)."""
    async with asyncio.timeout(20):
        while (await m.gw.ticks.load_state())[0] < m.gw.exchange.last_seq:
            await asyncio.sleep(0.01)


async def trade(m: Market, price: int, qty: int) -> None:
    assert (await m.order("C1", side="sell", price=price, qty=qty,
                          client_order_id=f"s{price}-{qty}"))[0] == 201
    assert (await m.order("T1", side="buy", price=price, qty=qty,
                          client_order_id=f"b{price}-{qty}"))[0] == 201


async def test_trades_become_ticks_and_bars_over_rest(market: Market) -> None:
    await trade(market, 61_000, 10)
    await trade(market, 62_000, 30)
    await written(market)
    r = await market.client.get(f"/api/v1/ticks?symbol={SYMBOL}")
    assert r.status == 200
    body = await r.json()
    ticks = body["ticks"]
    assert [(t["price"], t["qty"], t["venue"], t["demo"]) for t in ticks] == [
        (61_000, 10, "book", False), (62_000, 30, "book", False)]
    assert body["next"] == ticks[-1]["cursor"]
    assert ticks[0]["ts"].endswith("+07:00") and isinstance(ticks[0]["ts_ns"], int)
    assert not {"buyer", "seller", "account"} & set(ticks[0])
    r = await market.client.get(f"/api/v1/ticks?symbol={SYMBOL}&after={ticks[0]['cursor']}")
    assert [t["price"] for t in (await r.json())["ticks"]] == [62_000]
    r = await market.client.get(f"/api/v1/bars/{SYMBOL}?interval=1d")
    bars = (await r.json())["bars"]
    assert len(bars) == 1
    b = bars[0]
    assert (b["open"], b["high"], b["low"], b["close"], b["volume"], b["trades"]) == (
        61_000, 62_000, 61_000, 62_000, 40, 2)
    assert b["vwap"] == (61_000 * 10 + 62_000 * 30) // 40
    assert b["start"].endswith("T00:00:00.000000000+07:00")


async def test_live_bar_updates_on_the_websocket(market: Market) -> None:
    async with connect(market.ws_url) as ws:  # public: no token
        await send(ws, op="subscribe", channels=[f"bars:{SYMBOL}:1m", f"bars:{SYMBOL}:1d"])
        await recv(ws, type="subscribed")
        await trade(market, 61_000, 10)
        first = await recv(ws, channel=f"bars:{SYMBOL}:1m")
        assert (first["type"], first["seq"], first["close"], first["volume"]) == (
            "bar", 1, 61_000, 10)
        await trade(market, 61_500, 5)
        second = await recv(ws, channel=f"bars:{SYMBOL}:1m", seq=2)
        assert second["close"] == 61_500 and second["trades"] in (1, 2)
        await send(ws, op="subscribe", channels=[f"bars:{SYMBOL}:2m", "bars:NOPE:1m"])
        err = await recv(ws, type="error")
        assert set(err["channels"]) == {f"bars:{SYMBOL}:2m", "bars:NOPE:1m"}


async def test_csv_export_streams_the_range_for_analysts(market: Market) -> None:
    for k in range(5):
        await trade(market, 60_000 + 100 * k, 1 + k)
    await written(market)
    r = await market.client.get("/api/v1/ticks/export.csv?herb=QUE", headers=market.h("analyst"))
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/csv")
    assert r.headers.get("Transfer-Encoding") == "chunked"
    rows = list(csv.DictReader(io.StringIO(await r.text())))
    assert [int(x["price_vnd"]) for x in rows] == [60_000 + 100 * k for k in range(5)]
    assert {x["demo"] for x in rows} == {"false"} and "buyer" not in rows[0]
    empty = await market.client.get("/api/v1/ticks/export.csv?from=2000-01-01T00:00:00Z"
                                    "&to=2000-01-02T00:00:00Z", headers=market.h("operator"))
    assert empty.status == 200
    assert (await empty.text()).splitlines() == [
        "seq,n,ts,ts_ns,trade_id,symbol,herb,grade,venue,price_vnd,qty,notional_vnd,"
        "active_mg,price_per_kg_active_vnd,demo"]


async def test_parquet_export_has_one_row_group_per_chunk(market: Market) -> None:
    await trade(market, 61_000, 10)
    await written(market)
    r = await market.client.get("/api/v1/ticks/export.parquet", headers=market.h("analyst"))
    assert r.status == 200
    table = pq.read_table(io.BytesIO(await r.read()))
    assert table.column("price_vnd").to_pylist() == [61_000]
    assert table.column("demo").to_pylist() == [False]
    r = await market.client.get("/api/v1/ticks/export.parquet?symbol=NONE",
                                headers=market.h("analyst"))
    assert pq.read_table(io.BytesIO(await r.read())).num_rows == 0


async def test_roles_and_bad_input(market: Market) -> None:
    c = market.client
    assert (await c.get("/api/v1/ticks/export.csv")).status == 401
    for role in ("trader", "cooperative", "lab"):
        r = await c.get("/api/v1/ticks/export.csv", headers=market.h(role))
        assert r.status == 403, role
    for bad in ("limit=0", "limit=1001", "after=12", "after=1:x", "from=yesterday",
                "symbol=a%20b", "symbol=X&herb=Y", "interval=1m", "from=2&to=1",
                "from=99999999999999999999"):
        r = await c.get(f"/api/v1/ticks?{bad}")
        assert r.status == 422, (bad, r.status)
        assert r.headers["Content-Type"] == "application/problem+json"
    assert (await c.get("/api/v1/ticks?limit=1&limit=2")).status == 400
    assert (await c.get(f"/api/v1/bars/{SYMBOL}?interval=2m")).status == 422
    assert (await c.get("/api/v1/bars/NOT-LISTED")).status == 404


async def test_ticks_and_bars_survive_a_restart(tmp_path: Any) -> None:
    s: Settings = settings(tmp_path)
    m = await start(s)
    try:
        await trade(m, 61_000, 10)
        await written(m)
    finally:
        await m.client.close()
    m = await start(s, seed=False)
    try:
        await m.client.get("/api/v1/ticks")
        from tests.gateway.conftest import seed_market

        await seed_market(m)
        await trade(m, 63_000, 5)
        await written(m)
        ticks = (await (await m.client.get("/api/v1/ticks")).json())["ticks"]
        assert [(t["price"], t["qty"]) for t in ticks] == [(61_000, 10), (63_000, 5)]
        bars = (await (await m.client.get(f"/api/v1/bars/{SYMBOL}?interval=1h")).json())["bars"]
        assert sum(b["volume"] for b in bars) == 15
    finally:
        await m.client.close()


async def test_a_writer_behind_the_journal_catches_up_at_start(tmp_path: Any) -> None:
    """The tick store lost its last writes (or never had them): at start the writer reads the
    journal after its position, so no trade is missing and none is doubled."""
    s = settings(tmp_path)
    m = await start(s)
    try:
        await trade(m, 61_000, 10)
        await written(m)
    finally:
        await m.client.close()
    (tmp_path / "ticks.sqlite").unlink()
    for extra in ("ticks.sqlite-wal", "ticks.sqlite-shm"):
        (tmp_path / extra).unlink(missing_ok=True)
    m = await start(s, seed=False)
    try:
        await written(m)
        ticks = (await (await m.client.get("/api/v1/ticks")).json())["ticks"]
        assert [(t["price"], t["qty"]) for t in ticks] == [(61_000, 10)]
    finally:
        await m.client.close()


async def test_exports_of_a_large_range_stream_every_row_once(market: Market) -> None:
    """20,000 ticks (backfilled demo history): the CSV has each once in key order, and the
    Parquet file one row group per chunk the store yields."""
    from tests.ticks.conftest import INSTRUMENTS, T0, tick

    total = 20_000
    ticks = [tick(-total + k, symbol=SYMBOL, ts_ns=T0 + k * 10**9, demo=True)
             for k in range(total)]
    for k in range(0, total, 4_000):
        await market.gw.ticks.backfill(ticks[k:k + 4_000], dict(INSTRUMENTS))
    q = f"symbol={SYMBOL}"
    r = await market.client.get(f"/api/v1/ticks/export.csv?{q}", headers=market.h("analyst"))
    lines = (await r.text()).splitlines()
    assert len(lines) == total + 1
    seqs = [int(line.split(",", 1)[0]) for line in lines[1:]]
    assert seqs == sorted(set(seqs)) and len(seqs) == total
    assert all(line.endswith(",true") for line in lines[1:])
    r = await market.client.get(f"/api/v1/ticks/export.parquet?{q}",
                                headers=market.h("analyst"))
    f = pq.ParquetFile(io.BytesIO(await r.read()))
    assert f.metadata.num_rows == total and f.num_row_groups == 4  # chunks of 5,000
    bars = (await (await market.client.get(f"/api/v1/bars/{SYMBOL}?interval=1h&limit=10000"))
            .json())["bars"]
    assert sum(b["trades"] for b in bars) == total == sum(b["demo_trades"] for b in bars)


async def test_an_export_that_fails_mid_stream_never_looks_complete(market: Market) -> None:
    import aiohttp

    store = market.gw.ticks

    async def broken(q: Any, write: Any) -> None:
        await write(b"1,0,partial\n")
        raise RuntimeError("database gone")

    store.export_csv = broken
    r = await market.client.get("/api/v1/ticks/export.csv", headers=market.h("analyst"))
    assert r.status == 200  # sent before the failure
    with pytest.raises(aiohttp.ClientPayloadError):  # never read as a whole export
        await r.read()

