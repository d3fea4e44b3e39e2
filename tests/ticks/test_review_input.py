"""Review findings on the tick endpoints' input: numbers past 64 bits never reach the store (a
422, not a 500), and times given to the nanosecond select exactly the ticks they name."""

from __future__ import annotations

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
