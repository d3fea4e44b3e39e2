"""Issue 11 through the real gateway: lots live in the journal; the gateway only shows them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.lots import LegacyLotRegistry, refuse_legacy_registry
from tests.gateway.conftest import Market
from tests.gateway.test_gateway_lots import LOT, results


async def _received(market: Market, grade: str = "A") -> None:
    c = market.client
    assert (await c.post("/api/v1/lots", json=LOT, headers=market.h("C1"))).status == 201
    r = await c.post(f"/api/v1/lots/{LOT['lot_id']}/assays", headers=market.h("L1"),
                     json={"sample_id": "S-1", "results": results(market, grade)})
    assert r.status == 201, await r.text()
    r = await c.post(f"/api/v1/lots/{LOT['lot_id']}/receive", json={"qty_received": 500},
                     headers=market.h("operator"))
    assert r.status == 200, await r.text()


async def test_a_rejected_lot_is_never_delivered_and_a_regrade_moves_the_book(
        market: Market) -> None:
    c, lid = market.client, LOT["lot_id"]
    r = await c.post("/api/v1/instruments", headers=market.h("operator"),
                     json={"symbol": "QUE-BARK-C", "herb": "QUE", "grade": "C", "tick_vnd": 100})
    assert r.status == 201, await r.text()
    await _received(market)
    wet = [x if x["parameter"] != "moisture_pct" else {**x, "value": "16.2"}
           for x in results(market)]
    r = await c.post(f"/api/v1/lots/{lid}/assays", headers=market.h("L1"),
                     json={"sample_id": "S-2", "results": wet})
    assert (await r.json())["state"] == "rejected"
    r = await c.post(f"/api/v1/lots/{lid}/list", json={}, headers=market.h("C1"))
    assert r.status == 409
    r = await c.post(f"/api/v1/lots/{lid}/assays", headers=market.h("L1"),
                     json={"sample_id": "S-3", "results": results(market, "C")})
    assert (await r.json())["state"] == "received"
    r = await c.post(f"/api/v1/lots/{lid}/list", json={}, headers=market.h("C1"))
    assert (await r.json())["symbol"] == "QUE-BARK-C"
    r = await c.get("/api/v1/balances", headers=market.h("C1"))
    goods = {g["symbol"]: g["lots"] for g in (await r.json())["goods"]}
    assert [lid, 500] in goods["QUE-BARK-C"] and [lid, 500] not in goods.get("QUE-BARK-A", [])


async def test_a_request_cannot_state_a_grade(market: Market) -> None:
    await _received(market)
    r = await market.client.post(
        f"/api/v1/lots/{LOT['lot_id']}/assays", headers=market.h("L1"),
        json={"sample_id": "S-2", "results": results(market), "decision": {"grade": "A"}})
    assert r.status == 422


async def test_trade_and_trace_show_price_per_kg_active_and_digital_link_checks_gtin(
        market: Market) -> None:
    c, lid = market.client, LOT["lot_id"]
    await _received(market)
    await c.post(f"/api/v1/lots/{lid}/list", json={}, headers=market.h("C1"))
    await market.order("C1", side="sell", price=61_000, qty=1_100)  # LOT-C1 (1000) goes first
    await market.order("T1", side="buy", price=61_000, qty=1_050)
    await market.pay()  # T1 may resell only what is paid
    r = await c.get("/api/v1/instruments/QUE-BARK-A/trades")
    tape = (await r.json())["trades"]
    legs = [leg for t in tape for leg in (t.get("lots") or []) if leg["lot_id"] == lid]
    assert legs and legs[0]["price_per_kg_active"] > 61_000 and legs[0]["resale"] is False
    r = await c.get("/api/v1/instruments/QUE-BARK-A/ticker")
    assert (await r.json())["last_price_per_kg_active"] == legs[0]["price_per_kg_active"]
    doc = await (await c.get(f"/api/v1/trace/{lid}")).json()
    assert doc["sales"][0]["price_per_kg_active"] == legs[0]["price_per_kg_active"]
    assert doc["custody_qty"] == doc["remaining_qty"] == 450
    gtin = doc["trace_url"].split("/01/")[1].split("/")[0]
    r = await c.get(f"/01/{gtin}/10/{lid}", allow_redirects=False)
    assert r.status == 302
    r = await c.get(f"/01/00000000000000/10/{lid}", allow_redirects=False)
    assert r.status == 404
    # T2 buys C1's last 50 (a sale), then 1,020 from T1: LOT-C1's 1,000 first, then 20 of this
    # lot, which is a resale by T1, never a sale of the lot
    await market.order("T1", side="sell", price=62_000, qty=1_020)
    await market.order("T2", side="buy", price=62_000, qty=1_070)
    doc = await (await c.get(f"/api/v1/trace/{lid}")).json()
    assert [s["qty"] for s in doc["sales"]] == [50, 50]
    assert [(r["qty"], r["price"]) for r in doc["resales"]] == [(20, 62_000)]
    # the trace page (trace.js, tests/web/test_desks.py) reads the card: the same sales and
    # resales, each with its price per kg of active ingredient
    card = await (await c.get(f"/api/v1/trace/{lid}/card")).json()

    def unbooked(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # the ledger books beside the market: an invoice number may appear between two reads
        return [{k: v for k, v in row.items() if k != "invoice_no"} for row in rows]

    assert unbooked(card["sales"]) == unbooked(doc["sales"])
    assert unbooked(card["resales"]) == unbooked(doc["resales"])
    assert card["resales"][0]["price_per_kg_active"] is not None
    r = await c.get(f"/trace/{lid}")
    assert r.status == 200 and r.content_type == "text/html"


async def test_a_failed_sale_is_no_sale_on_the_trace_page(market: Market) -> None:
    """The operator fails a trade that delivered 100 kg of the lot (and 1,000 of a lot
    received without a record): the trace JSON and the card show no such sale, the lot's
    quantity is back in custody (on the book it is still listed on), and its history says the
    sale was cancelled. The other sale, paid, stays."""
    c, lid = market.client, LOT["lot_id"]
    await _received(market)
    await c.post(f"/api/v1/lots/{lid}/list", json={}, headers=market.h("C1"))
    await market.order("C1", side="sell", price=61_000, qty=1_100)  # LOT-C1 (1000) goes first
    await market.order("T1", side="buy", price=61_000, qty=1_100)
    await market.order("C1", side="sell", price=61_000, qty=50)
    await market.order("T2", side="buy", price=61_000, qty=50)
    first, second = [v.trade_id for v in market.gw.exchange.settlement_views()]
    status, body = await market.settle(first, "failed")
    assert status == 200, body
    status, body = await market.settle(second, "paid")
    assert status == 200, body
    doc = await (await c.get(f"/api/v1/trace/{lid}")).json()
    assert [(s["qty"], s["trade_ref"]) for s in doc["sales"]] == [(50, f"HX-{second}")]
    assert (doc["state"], doc["remaining_qty"], doc["custody_qty"]) == ("partly_sold", 450, 450)
    assert [h["action"] for h in doc["history"][-3:]] == ["sale", "sale", "cancel_sale"]
    card = await (await c.get(f"/api/v1/trace/{lid}/card")).json()
    assert [s["trade_ref"] for s in card["sales"]] == [f"HX-{second}"]
    r = await c.get(f"/api/v1/lots/{lid}", headers=market.h("C1"))
    record = (await r.json())["record"]
    assert [s["buyer"] for s in record["sales"]] == ["T2"]  # T1 bought nothing of it


def test_an_old_lot_registry_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    (tmp_path / "gateway").mkdir()
    (tmp_path / "gateway" / "lots.json").write_text("[]")
    with pytest.raises(LegacyLotRegistry, match="journal"):
        refuse_legacy_registry(tmp_path)
