"""Review findings on the tick endpoints' input: numbers past 64 bits never reach the store (a
422, not a 500), and times given to the nanosecond select exactly the ticks they name."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.stream.wire import parse_iso_ns
from settlement.ticks.export import rfc3339_vn
from tests.gateway.conftest import SYMBOL, Market
from tests.ticks.conftest import T0, tick

OUT_OF_RANGE = [
    "after=9999999999999999999:0", "after=-9999999999999999999:0",
    "from=9999-12-31T00:00:00Z", "from=0001-01-01T00:00:00%2B14:00",
    "to=9999-12-31T23:59:59%2B00:00", "from=2262-04-12T00:00:00Z",
]


@pytest.mark.parametrize("bad", OUT_OF_RANGE)
async def test_out_of_range_input_is_a_422_everywhere(market: Market, bad: str) -> None:
    c = market.client
    for path, headers in ((f"/api/v1/ticks?{bad}", {}),
                          (f"/api/v1/ticks/export.csv?{bad}", market.h("analyst")),
                          (f"/api/v1/ticks/export.parquet?{bad}", market.h("analyst")),
                          (f"/api/v1/bars/{SYMBOL}?{bad}", {})):
        if path.startswith("/api/v1/bars") and bad.startswith("after"):
            continue
        r = await c.get(path, headers=headers)
        assert r.status == 422, (path, r.status, await r.text())
        assert r.headers["Content-Type"] == "application/problem+json"


def test_times_are_read_to_the_nanosecond() -> None:
    for ns in (T0, T0 + 1, T0 + 123_456_789, T0 + 999_999_999, 0):
        assert parse_iso_ns(rfc3339_vn(ns)) == ns
    assert parse_iso_ns("2026-11-29T09:00:00.5Z") == 1_795_942_800_500_000_000
    for bad in ("2026-11-29T09:00:00.1234567890Z", "1969-12-31T23:59:59.5Z",
                "2026-11-29T09:00:00", "2026-11-29T09:00:00.Z"):
        with pytest.raises(ValueError):
            parse_iso_ns(bad)


async def test_a_tick_time_as_from_and_to_selects_that_tick(market: Market) -> None:
    # the API's own `ts` text of a tick, given back as `from` (inclusive) and `to` (exclusive)
    ticks = [tick(1, ts_ns=T0 + 999_999_999), tick(2, ts_ns=T0 + 999_999_999 + 2)]
    await market.gw.ticks.backfill(ticks, {SYMBOL: ("QUE-BARK", "A")})
    c = market.client
    page = (await (await c.get(f"/api/v1/ticks?symbol={SYMBOL}")).json())["ticks"]
    first, second = page[0]["ts"], page[1]["ts"]
    r = await c.get(f"/api/v1/ticks?symbol={SYMBOL}", params={"from": first})
    assert [t["seq"] for t in (await r.json())["ticks"]] == [1, 2]
    r = await c.get(f"/api/v1/ticks?symbol={SYMBOL}", params={"from": second})
    assert [t["seq"] for t in (await r.json())["ticks"]] == [2]
    r = await c.get(f"/api/v1/ticks?symbol={SYMBOL}", params={"to": second})
    assert [t["seq"] for t in (await r.json())["ticks"]] == [1]


async def test_a_client_that_stops_reading_frees_its_export_slot(
        market: Market, monkeypatch: pytest.MonkeyPatch) -> None:
    """A client that vanishes without closing (or reads nothing) must not hold one of the
    process's two export slots, and its database cursor, for ever."""
    import asyncio
    import socket

    from gateway.api import ticks as api

    monkeypatch.setattr(api, "EXPORT_STALL_S", 0.2)

    async def endless(q: object, write: Any) -> None:
        while True:  # as a huge range would: the writes block once the client stops reading
            await write(b"9" * 65_536 + b"\n")

    market.gw.ticks.export_csv = endless
    url = market.client.make_url("/api/v1/ticks/export.csv")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((url.host, url.port))
    sock.setblocking(False)
    reader, writer = await asyncio.open_connection(sock=sock)
    token = market.tokens["analyst"]
    writer.write(f"GET {url.path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n"
                 .encode())
    await writer.drain()
    try:
        async with asyncio.timeout(30):  # a generous guard: the slot is freed, then we go on
            while api.exports_running() == 0:
                await asyncio.sleep(0.01)
            while api.exports_running() != 0:
                await asyncio.sleep(0.05)
    finally:
        writer.close()
    assert api.exports_running() == 0


@pytest.mark.parametrize("path", ["/api/v1/ticks/export.csv", "/api/v1/ticks/export.parquet"])
async def test_head_of_an_export_sends_no_body(market: Market, path: str) -> None:
    """HEAD (which every GET route also answers) must send headers only: a body after them is
    read as the next response on the same keep-alive connection (a desync, e.g. behind a
    proxy), and the export would run for nothing."""
    c = market.client
    r = await c.head(path, headers=market.h("analyst"))
    assert r.status == 200 and await r.read() == b""
    r = await c.get("/api/v1/ticks?limit=1")  # the same connection, still in step
    assert r.status == 200 and "ticks" in await r.json()
    r = await c.head(f"{path}?limit=1", headers=market.h("analyst"))
    assert r.status == 422  # the same validation as a GET
