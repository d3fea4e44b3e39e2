"""The analytics endpoints over the market's tick store: indices, insurance figures and the
CSV report, the operator's terms, roles, and that no identity leaves."""

from __future__ import annotations

import csv
import io
import re

from tests.analytics.support import DAY_NS, day_ns, put_ticks, tick
from tests.gateway.conftest import Market

P = "/api/v1"


W0 = day_ns("2026-09-01")
H = 3600 * 10**9
#: one trade a day, the worked example's grade A (docs/analytics.md); the second is demo
INDEX_TICKS = [tick("QUE-BARK-A", W0 + 9 * H, 62_000, 100, n=1, active_mg=2_500_000),
               tick("QUE-BARK-A", W0 + DAY_NS + 9 * H, 63_000, 150, n=2, active_mg=3_750_000,
                    demo=True),
               tick("QUE-BARK-A", W0 + 2 * DAY_NS + 9 * H, 62_500, 50, n=3,
                    active_mg=1_250_000)]
TICKS = [tick("QUE-BARK-A", W0 + 3600 * 10**9, 52_000, 300, n=1),
         tick("QUE-BARK-A", W0 + DAY_NS, 48_000, 300, n=2),
         tick("QUE-BARK-A", W0 + 2 * DAY_NS, 10_000, 5_000, demo=True, n=3)]
TERMS = {"floor_vnd": 51_000, "window_from": "2026-09-01", "window_to": "2026-09-30",
         "min_volume_kg": 500}


async def test_index_endpoint(market: Market) -> None:
    await put_ticks(market.gw.ticks, INDEX_TICKS)
    r = await market.client.get(f"{P}/indices/QUE-BARK")  # public
    assert r.status == 200, await r.text()
    body = await r.json()
    assert body["base_day"] == "2026-09-01" and body["volume_unit"] == "kg" and body["demo"]
    assert [(p["day"], p["index"], p["demo"]) for p in body["points"]] == [
        ("2026-09-01", "100.0000", False), ("2026-09-02", "101.6129", True),
        ("2026-09-03", "100.8064", False)]
    r = await market.client.get(f"{P}/indices/QUE-BARK?basis=active&from=2026-09-02"
                                "&to=2026-09-02", headers=market.h("analyst"))
    body = await r.json()
    assert body["basis"] == "active" and body["base_day"] == "2026-09-01"
    assert [(p["day"], p["index"], p["vwap"]) for p in body["points"]] == [
        ("2026-09-02", "101.6129", 2_520_000)]


async def test_index_refusals_and_no_data(market: Market) -> None:
    c = market.client
    r = await c.get(f"{P}/indices/QUE-BARK")  # no trade yet: no points
    assert r.status == 200 and (await r.json())["points"] == []
    for query, status in (("QUE-BARK?basis=usd", 422), ("QUE-BARK?from=2026-9-1", 422),
                          ("QUE-BARK?from=2026-09-10&to=2026-09-01", 422),
                          ("QUE-BARK?to=tomorrow", 422),
                          ("QUE-BARK?to=2026-W01-1", 422), ("QUE-BARK?to=2026-02-30", 422), ("QUE", 404), ("NOPE-X", 404)):
        r = await c.get(f"{P}/indices/{query}")
        assert r.status == status, (query, r.status)
        assert r.content_type == "application/problem+json"


async def test_insurance_terms_figures_and_report(market: Market) -> None:
    await put_ticks(market.gw.ticks, TICKS)
    c, op = market.client, market.h("operator")
    r = await c.put(f"{P}/insurance/QUE-BARK/2026", json=TERMS, headers=op)
    assert r.status == 201, await r.text()
    season = await r.json()
    # official trades only: (52,000·300 + 48,000·300) / 600 = 50,000; the demo trade is out
    assert (season["reference_vnd"], season["payout_per_kg_vnd"]) == (50_000, 1_000)
    assert season["status"] == "ok" and season["final"] and not season["demo"]
    assert season["window_start"] == "2026-08-31T17:00:00.000Z"
    assert season["window_end"] == "2026-09-30T17:00:00.000Z"
    for who in ("analyst", "cooperative", "operator"):
        r = await c.get(f"{P}/insurance", headers=market.h(who))
        assert r.status == 200, who
    body = await r.json()
    # the market's ledger runs (SQLite in the data directory) but has booked no trade here: the
    # figures above come from the tick store file, not from the engine
    assert body["fund"] == {"levy_income_vnd": 0, "status": "ok"}
    assert [s["season"] for s in body["seasons"]] == ["2026"]
    r = await c.get(f"{P}/insurance/report.csv", headers=market.h("analyst"))
    assert r.status == 200 and r.content_type == "text/csv"
    text = await r.text()
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert (row["herb"], row["reference_vnd"], row["payout_per_kg_vnd"], row["demo"]) == (
        "QUE-BARK", "50000", "1000", "false")
    for secret in ("T1", "T2", "C1", "buyer", "seller", "account", "name"):  # no identities
        pattern = rf"\b{secret}\b"
        assert not re.search(pattern, text) and not re.search(pattern, str(body)), secret
    # a window already begun: the terms stand
    r = await c.put(f"{P}/insurance/QUE-BARK/2026", json={**TERMS, "floor_vnd": 1}, headers=op)
    assert r.status == 409 and (await r.json())["code"] == "terms_locked"


async def test_terms_replaced_before_the_window_and_not_enough_data(market: Market) -> None:
    c, op = market.client, market.h("operator")
    future = {**TERMS, "window_from": "2099-01-01", "window_to": "2099-03-31"}
    r = await c.put(f"{P}/insurance/QUE-BARK/2099-H1", json=future, headers=op)
    assert r.status == 201
    r = await c.put(f"{P}/insurance/QUE-BARK/2099-H1", json={**future, "floor_vnd": 55_000},
                    headers=op)
    assert r.status == 200, await r.text()
    season = await r.json()
    assert season["floor_vnd"] == 55_000 and season["status"] == "not_enough_data"
    assert season["reference_vnd"] is None and not season["final"]
    [t] = market.gw.exchange.insurance_terms()
    assert t.floor_vnd == 55_000  # recorded by the engine (journaled)


async def test_terms_refusals(market: Market) -> None:
    c, op = market.client, market.h("operator")
    cases = [
        ("QUE-OIL/2026", TERMS, 404, "unknown_herb"),
        ("QUE-BARK/2026", {**TERMS, "window_to": "2026-08-01"}, 422, "invalid_window"),
        ("QUE-BARK/2026", {**TERMS, "floor_vnd": 0}, 422, "invalid_floor"),
        ("QUE-BARK/2026", {**TERMS, "min_volume_kg": 0}, 422, "invalid_qty"),
        ("QUE-BARK/2026", {**TERMS, "demo": True}, 422, "invalid_field"),  # not a demo market
        ("QUE-BARK/2026", {**TERMS, "extra": 1}, 422, None),
        ("QUE-BARK/26", TERMS, 404, "not_found"),
        ("que-bark/2026", TERMS, 404, "not_found"),
    ]
    for path, body, status, code in cases:
        r = await c.put(f"{P}/insurance/{path}", json=body, headers=op)
        assert r.status == status, (path, body, r.status, await r.text())
        if code is not None:
            assert (await r.json())["code"] == code, (path, body)
    assert market.gw.exchange.insurance_terms() == []


async def test_roles(market: Market) -> None:
    c = market.client
    for who in ("trader", "lab"):
        assert (await c.get(f"{P}/insurance", headers=market.h(who))).status == 403
    for who in ("analyst", "cooperative", "trader"):  # analysts read, never write
        r = await c.put(f"{P}/insurance/QUE-BARK/2026", json=TERMS, headers=market.h(who))
        assert r.status == 403, who
    assert (await c.get(f"{P}/insurance")).status == 401
    spec = await (await c.get(f"{P}/openapi.json")).json()
    assert {f"{P}/indices/{{herb}}", f"{P}/insurance", f"{P}/insurance/report.csv",
            f"{P}/insurance/{{herb}}/{{season}}"} <= set(spec["paths"])
