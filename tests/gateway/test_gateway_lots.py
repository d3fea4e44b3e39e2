"""Lots over REST: register (cooperative), assay (lab), receive (operator), list (owner), sell,
and the public trace page; ownership and invalid input."""

from __future__ import annotations

import asyncio
import re

import msgspec

from gateway.api.schemas import LotOut
from gateway.demo.market import assay_results
from tests.gateway.conftest import Market

LOT = {"lot_id": "LC-2026-0042", "spec_id": "QUE-BARK", "qty": 800,
       "harvest_date": "2026-10-20", "commune": "Xã Châu Quế Hạ",
       "growing_area": {"code": "LC-VB-QUE-0012", "issuer": "Chi cục TT&BVTV Lào Cai",
                        "valid_from": "2024-01-01", "valid_until": "2030-12-31"},
       "certifications": [{"scheme": "OCOP", "certificate_no": "OCOP-LC-1", "issuer": "UBND",
                           "valid_from": "2025-01-01", "valid_until": "2028-01-01", "stars": 4}]}


def results(m: Market, grade: str = "A") -> list[dict]:
    return list(msgspec.to_builtins(assay_results(m.gw, "QUE-BARK", grade)))


async def test_lot_from_registration_to_sale_and_trace(market: Market) -> None:
    c = market.client
    r = await c.post("/api/v1/lots", json=LOT, headers=market.h("C1"))
    assert r.status == 201, await r.text()
    lot = msgspec.convert(await r.json(), LotOut)
    assert (lot.state, lot.cooperative, lot.grade, lot.symbol) == ("registered", "C1", None, None)
    r = await c.post("/api/v1/lots", json=LOT, headers=market.h("C1"))
    assert r.status == 409  # registered already: duplicate_lot, a conflict wherever it is refused
    r = await c.post(f"/api/v1/lots/{LOT['lot_id']}/assays", headers=market.h("L1"),
                     json={"sample_id": "S-1", "results": results(market)})
    assert r.status == 201, await r.text()
    lot = msgspec.convert(await r.json(), LotOut)
    assert (lot.state, lot.grade, lot.symbol) == ("graded", "A", "QUE-BARK-A")
    r = await c.post(f"/api/v1/lots/{LOT['lot_id']}/list", json={}, headers=market.h("C1"))
    assert r.status == 409 and (await r.json())["code"] == "illegal_transition"
    r = await c.post(f"/api/v1/lots/{LOT['lot_id']}/receive", json={"qty_received": 790},
                     headers=market.h("operator"))
    assert r.status == 200, await r.text()
    assert (await r.json())["state"] == "received"
    # received into the warehouse: not on any book until its owner lists it
    r = await c.get("/api/v1/balances", headers=market.h("C1"))
    goods = {g["symbol"]: g for g in (await r.json())["goods"]}
    assert ["LC-2026-0042", 790] not in goods["QUE-BARK-A"]["lots"]
    r = await c.post(f"/api/v1/lots/{LOT['lot_id']}/list", json={}, headers=market.h("C1"))
    assert r.status == 200 and (await r.json())["state"] == "listed"
    r = await c.get("/api/v1/balances", headers=market.h("C1"))
    goods = {g["symbol"]: g for g in (await r.json())["goods"]}
    assert ["LC-2026-0042", 790] in goods["QUE-BARK-A"]["lots"]
    # the engine delivers the oldest lot first (LOT-C1 from the fixture), so sell past it
    await market.order("C1", side="sell", price=61_000, qty=1_100)
    await market.order("T1", side="buy", price=61_000, qty=1_050)
    r = await c.get(f"/api/v1/trace/{LOT['lot_id']}")
    doc = await r.json()
    assert doc["state"] == "partly_sold" and doc["remaining_qty"] == 740
    # the lot record names its buyers to the operator and the selling cooperative only
    for who, named in (("operator", True), ("C1", True), ("L1", False), ("A1", False)):
        r = await c.get(f"/api/v1/lots/{LOT['lot_id']}", headers=market.h(who))
        record = (await r.json())["record"]
        buyers = {s["buyer"] for s in record["sales"]} | {
            h["command"]["buyer"] for h in record["history"] if "buyer" in h["command"]}
        assert buyers == ({"T1"} if named else {"hidden"}), (who, buyers)
        r = await c.get("/api/v1/lots", headers=market.h(who))
        assert ("T1" in await r.text()) is named, who
    assert doc["sales"][0]["qty"] == 50 and doc["sales"][0]["trade_ref"].startswith("HX-")
    # the ledger books beside the market: the sale's invoice number appears once it has
    for _ in range(100):
        if doc["sales"][0]["invoice_no"] is not None:
            break
        await asyncio.sleep(0.05)
        doc = await (await c.get(f"/api/v1/trace/{LOT['lot_id']}")).json()
    assert re.fullmatch(r"HX2\d{3}-\d{8}", doc["sales"][0]["invoice_no"])
    assert doc["grade"]["grade"] == "A" and doc["cooperative"] == "C1 name"
    r = await c.get(f"/trace/{LOT['lot_id']}")
    assert r.status == 200 and r.content_type == "text/html"  # filled in by trace.js
    r = await c.get(f"/api/v1/trace/{LOT['lot_id']}/card")
    assert "OCOP" in await r.text()
    r = await c.get(f"/trace/{LOT['lot_id']}/qr.svg")
    assert r.status == 200 and r.content_type == "image/svg+xml"


async def test_ownership_and_roles_on_lots(market: Market) -> None:
    c = market.client
    from gateway.auth import Participant

    market.gw.registry.add(Participant(id="C2", name="C2", role="cooperative", number=8))
    h2 = {"Authorization": f"Bearer {market.gw.registry.issue_token('C2')}"}
    r = await c.post("/api/v1/lots", json=LOT, headers=market.h("C1"))
    assert r.status == 201
    r = await c.get(f"/api/v1/lots/{LOT['lot_id']}", headers=h2)
    assert r.status == 404
    r = await c.get("/api/v1/lots", headers=h2)
    assert (await r.json())["lots"] == []
    r = await c.get("/api/v1/lots", headers=market.h("L1"))
    assert len((await r.json())["lots"]) == 1
    r = await c.post(f"/api/v1/lots/{LOT['lot_id']}/list", json={}, headers=h2)
    assert r.status == 404


async def test_invalid_lot_input(market: Market) -> None:
    c, h = market.client, market.h("C1")
    r = await c.post("/api/v1/lots", json={**LOT, "lot_id": "bad id!"}, headers=h)
    assert r.status == 422 and (await r.json())["errors"][0]["field"] == "$.lot_id"
    r = await c.post("/api/v1/lots", json={**LOT, "spec_id": "GINSENG-ROOT"}, headers=h)
    assert r.status == 422 and (await r.json())["code"] == "wrong_spec"
    r = await c.post("/api/v1/lots", json={**LOT, "qty": 0}, headers=h)
    assert r.status == 422 and (await r.json())["code"] == "bad_quantity"
    r = await c.post("/api/v1/lots", json={**LOT, "harvest_date": "2020-01-01"}, headers=h)
    assert r.status == 422 and (await r.json())["code"] == "growing_area_not_valid"
    r = await c.post("/api/v1/lots", json=LOT, headers=h)
    assert r.status == 201
    url = f"/api/v1/lots/{LOT['lot_id']}/assays"
    lab = market.h("L1")
    bad = results(market)
    bad[1] = {**bad[1], "unit": "furlongs"}
    r = await c.post(url, json={"sample_id": "S", "results": bad}, headers=lab)
    body = await r.json()
    assert r.status == 422 and body["code"] == "bad_unit" and body["errors"][0]["field"] == "$.results[1]"
    r = await c.post(url, json={"sample_id": "S", "results": results(market)[1:]}, headers=lab)
    assert r.status == 422 and (await r.json())["code"] == "missing_parameter"
    r = await c.post(url, json={"sample_id": "S", "results": results(market),
                                "destination": "mars"}, headers=lab)
    assert r.status == 422 and (await r.json())["errors"][0]["field"] == "$.destination"
    r = await c.post(url, json={"sample_id": "S", "results": []}, headers=lab)
    assert r.status == 422
    r = await c.post(f"/api/v1/lots/{LOT['lot_id']}/receive", json={"qty_received": 10},
                     headers=market.h("operator"))
    assert r.status == 409 and (await r.json())["code"] == "illegal_transition"
    # a failing contaminant makes a reject grade, which can never be received
    fail = [x if x["parameter"] != "pb_mg_kg" else {**x, "value": "99"} for x in results(market)]
    r = await c.post(url, json={"sample_id": "S", "results": fail}, headers=lab)
    assert r.status == 201 and (await r.json())["state"] == "rejected"
    r = await c.get("/api/v1/trace/NOLOT")
    assert r.status == 404
