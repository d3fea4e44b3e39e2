"""The ledger over REST (gateway/api/ledger.py) and the public trace page's invoice numbers:
a lot registered, assayed, received, listed and sold through the API, its journal booked into a
real SQLite ledger, then every endpoint asked by every party."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gateway.api.lots import trace_url
from settlement.booker import Booker
from settlement.booking import vietnam_date
from settlement.resume import steps_after
from settlement.schedule import Schedule
from settlement.sqlite_store import SqliteStore
from tests.gateway.conftest import Market
from tests.gateway.test_gateway_lots import LOT, results

LOT_ID = LOT["lot_id"]


async def sell_the_lot(market: Market) -> None:
    c, op = market.client, market.h("operator")
    assert (await c.post("/api/v1/lots", json=LOT, headers=market.h("C1"))).status == 201
    r = await c.post(f"/api/v1/lots/{LOT_ID}/assays", headers=market.h("L1"),
                     json={"sample_id": "S-1", "results": results(market)})
    assert r.status == 201
    r = await c.post(f"/api/v1/lots/{LOT_ID}/receive", json={"qty_received": 790}, headers=op)
    assert r.status == 200
    assert (await c.post(f"/api/v1/lots/{LOT_ID}/list", json={},
                         headers=market.h("C1"))).status == 200
    await market.order("C1", side="sell", price=61_000, qty=1_100)  # LOT-C1 (1000), then 100
    await market.order("T1", side="buy", price=61_000, qty=1_050)  # one trade, two lot legs
    await market.order("T2", side="buy", price=61_000, qty=30)  # the lot again, to T2


@pytest.fixture
async def booked(market: Market, tmp_path: Path) -> AsyncIterator[tuple[Market, SqliteStore]]:
    await sell_the_lot(market)
    store = SqliteStore(tmp_path / "ledger.sqlite3")
    await store.open()
    gw = market.gw

    def resolve(lot_id: str) -> str | None:
        lot = gw.lots.get(lot_id)
        return None if lot is None else trace_url(gw, lot)

    booker = Booker(store, Schedule.load(), resolve)
    await booker.offer(list(steps_after(gw.settings.data_dir / "engine", 0)))
    gw.ledger = store  # type: ignore[attr-defined]
    yield market, store
    await store.close()


async def get(m: Market, who: str | None, path: str) -> tuple[int, Any]:
    r = await m.client.get(path, headers={} if who is None else m.h(who))
    ctype = r.headers.get("Content-Type", "")
    body = await r.json(content_type=None) if "json" in ctype else await r.text()
    return r.status, body


async def test_transactions_are_each_party_s_own(booked: tuple[Market, SqliteStore]) -> None:
    m, store = booked
    status, body = await get(m, "T1", "/api/v1/transactions")
    assert status == 200 and body["next"] is None
    kinds = [(t["kind"], t.get("buyer"), t.get("seller")) for t in body["transactions"]]
    assert kinds == [("deposit", None, None), ("trade", "T1", "C1")]
    trade = body["transactions"][1]
    assert [(x["lot_id"], x["qty"]) for x in trade["legs"]] == [("LOT-C1", 1000), (LOT_ID, 50)]
    assert trade["invoice_no"].startswith("HX") and trade["notional_vnd"] == 1_050 * 61_000
    assert sum(p["amount"] for p in trade["postings"] if p["unit"] == "VND") == 0
    assert (await get(m, "T1", "/api/v1/transactions?participant=T2"))[0] == 403
    assert (await get(m, "A1", "/api/v1/transactions"))[0] == 403
    # the operator by lot: the lot's receipt and its two sales; by trace code: the two sales
    status, body = await get(m, "operator", f"/api/v1/transactions?lot={LOT_ID}")
    assert [t["kind"] for t in body["transactions"]] == ["lot_in", "trade", "trade"]
    url = trade["legs"][1]["trace_url"]
    assert url.endswith(f"/10/{LOT_ID}")
    status, body = await get(m, "operator", f"/api/v1/transactions?trace={url}")
    assert [t["buyer"] for t in body["transactions"]] == ["T1", "T2"]
    status, body = await get(m, "T2", f"/api/v1/transactions?trace={url}")  # T2's own only
    assert [t["buyer"] for t in body["transactions"]] == ["T2"]
    # pages by cursor add up to the whole
    whole = (await get(m, "operator", "/api/v1/transactions"))[1]["transactions"]
    seen, after = [], ""
    while True:
        status, body = await get(m, "operator", f"/api/v1/transactions?limit=2{after}")
        seen += body["transactions"]
        if body["next"] is None:
            break
        after = f"&after={body['next']}"
    assert seen == whole and len(whole) == len(await store.transactions())


@pytest.mark.parametrize("query", ["limit=0", "limit=1001", "after=12", "after=x-1",
                                   "lot=" + "L" * 21, "participant=", "trace=" + "u" * 513])
async def test_bad_query_input_is_422(booked: tuple[Market, SqliteStore], query: str) -> None:
    m, _ = booked
    status, body = await get(m, "operator", f"/api/v1/transactions?{query}")
    assert status == 422 and body["code"] == "invalid_field", body


async def test_an_invoice_for_its_parties_and_the_print_view(
        booked: tuple[Market, SqliteStore]) -> None:
    m, _ = booked
    trades = [t for t in (await get(m, "operator", "/api/v1/transactions"))[1]["transactions"]
              if t["kind"] == "trade"]
    first = trades[0]["invoice_no"]
    for who in ("T1", "C1", "operator"):
        status, body = await get(m, who, f"/api/v1/invoices/{first}")
        assert status == 200 and body == trades[0]
    for who, path in (("T2", first), ("T1", "HX2026-99999999"), ("T1", "HX-1"),
                      ("T1", "hx2026-00000001")):
        status, body = await get(m, who, f"/api/v1/invoices/{path}")
        assert status == 404 and body["code"] == "unknown_invoice", (who, path)
    status, html = await get(m, "T1", f"/api/v1/invoices/{first}/print")
    assert status == 200 and html.startswith("<!doctype html>") and first in html
    url = trades[0]["legs"][1]["trace_url"]
    assert html.count("<svg") == 1 and url in html  # one leg has a trace code, LOT-C1 none
    assert "no trace code" in html
    assert (await get(m, "T2", f"/api/v1/invoices/{first}/print"))[0] == 404


async def test_statements_json_and_csv(booked: tuple[Market, SqliteStore]) -> None:
    m, store = booked
    day = vietnam_date((await store.transactions())[-1].ts_ns).isoformat()
    q = f"from={day}&to={day}"
    status, st = await get(m, "C1", f"/api/v1/statements/C1?{q}")
    assert status == 200, st
    by_lot = {x["lot_id"]: x for x in st["lots"]}
    assert by_lot[LOT_ID]["qty"] == 80 and by_lot["LOT-C1"]["qty"] == 1000
    assert by_lot[LOT_ID]["gross_vnd"] == 80 * 61_000
    total = sum(x["net_vnd"] + x["fee_vnd"] + x["levy_vnd"] + x["tax_vnd"] for x in st["lots"])
    assert total == 1_080 * 61_000 and by_lot[LOT_ID]["fee_vnd"] > 0
    status, st = await get(m, "T2", f"/api/v1/statements/T2?{q}")
    buy = next(x for x in st["lines"] if x["kind"] == "purchase")
    assert buy["invoice"].startswith("HX") and buy["trace_url"].endswith(LOT_ID)
    r = await m.client.get(f"/api/v1/statements/T2?{q}&format=csv", headers=m.h("T2"))
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/csv")
    rows = (await r.text()).splitlines()
    assert rows[0].startswith("kind,") and len(rows) == 1 + len(st["lines"])
    assert (await get(m, "operator", f"/api/v1/statements/T2?{q}"))[1] == st
    assert (await get(m, "T1", f"/api/v1/statements/T2?{q}"))[0] == 404
    later = (dt.date.fromisoformat(day) + dt.timedelta(days=1)).isoformat()
    assert (await get(m, "T2", f"/api/v1/statements/T2?from={later}&to={later}"))[1][
        "lines"] == []
    for bad in (f"from={day}", f"from={later}&to={day}", f"from={day}&to=2099-01-01",
                f"{q}&format=xml", "from=2026-13-01&to=2026-13-02", f"{q}&after=1"):
        status, body = await get(m, "T2", f"/api/v1/statements/T2?{bad}")
        assert status == 422 and body["code"] == "invalid_field", bad


async def test_the_trace_page_shows_ledger_invoices_never_buyers(
        booked: tuple[Market, SqliteStore]) -> None:
    m, _ = booked
    ledger = {t["trade_id"]: t["invoice_no"] for t in
              (await get(m, "operator", f"/api/v1/transactions?lot={LOT_ID}"))[1]["transactions"]
              if t["kind"] == "trade"}
    status, doc = await get(m, None, f"/api/v1/trace/{LOT_ID}")
    assert [(s["qty"], s["invoice_no"], s["trade_ref"]) for s in doc["sales"]] == [
        (50, ledger[min(ledger)], f"HX-{min(ledger)}"), (30, ledger[max(ledger)],
                                                          f"HX-{max(ledger)}")]
    assert all(s["price_per_kg_active"] > s["price"] for s in doc["sales"])
    assert "buyer" not in str(doc) and "T1" not in str(doc) and "T2" not in str(doc)
    # the trace page (a script page) reads its card: the same invoices, no buyer
    status, card = await get(m, None, f"/api/v1/trace/{LOT_ID}/card")
    assert status == 200 and [s["invoice_no"] for s in card["sales"]] == [
        ledger[min(ledger)], ledger[max(ledger)]]
    assert "buyer" not in str(card) and "T1" not in str(card) and "T2" not in str(card)


async def test_without_a_ledger_503(market: Market) -> None:
    """A process that keeps no ledger (a multi-process gateway given no --database-url)."""
    market.gw.ledger = None
    for path in ("/api/v1/transactions", "/api/v1/invoices/HX2026-00000001",
                 "/api/v1/statements/T1?from=2026-01-01&to=2026-01-02"):
        r = await market.client.get(path, headers=market.h("T1"))
        assert r.status == 503 and r.content_type == "application/problem+json"
        assert (await r.json())["code"] == "no_ledger"


def test_reconcile_a_served_market_s_data_directory(
        booked: tuple[Market, SqliteStore], capsys: pytest.CaptureFixture[str]) -> None:
    """`herbx reconcile --data-dir` of a running market (the journal under ``engine/``, read
    without its lock) against the ledger booked from it: clean."""
    from gateway.cli import main

    m, store = booked
    data = m.gw.settings.data_dir
    assert main(["reconcile", "--data-dir", str(data), "--ledger", str(store.path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1].startswith('{"ok": true, "differences": 0')


async def test_a_failed_trade_nets_to_nothing_on_each_party_s_statement_page_by_page(
        booked: tuple[Market, SqliteStore]) -> None:
    """T2's trade fails after it was booked: the reversal, read on a page without its trade
    (limit=1), still negates the trade's lines on the buyer's and the seller's statements."""
    m, store = booked
    gw = m.gw
    (trade,) = [t for t in await store.transactions() if t.kind == "trade" and t.buyer == "T2"]
    status, body = await m.settle(trade.trade_id, "failed")
    assert status == 200, body
    booker = Booker(store, Schedule.load(), lambda lot_id: None)
    await booker.offer(list(steps_after(gw.settings.data_dir / "engine", await booker.start())))
    day = vietnam_date((await store.transactions())[-1].ts_ns).isoformat()
    for who in ("T2", "C1"):
        lines: list[Any] = []
        after = ""
        while True:
            status, st = await get(m, who, f"/api/v1/statements/{who}?from={day}&to={day}"
                                           f"&limit=1{after}")
            assert status == 200, st
            lines += st["lines"]
            if st["next"] is None:
                break
            after = f"&after={st['next']}"
        mine = [x for x in lines if x.get("trade_id") == trade.trade_id]
        kinds = {"T2": ["purchase", "purchase_reversal"], "C1": ["sale", "sale_reversal"]}
        assert [x["kind"] for x in mine] == kinds[who], mine
        # never paid: no cash moved, and the buyer's hold is released
        assert all(x.get("cash_vnd", 0) == 0 for x in mine) and mine[1]["invoice"] == trade.invoice
        assert sum(x.get("held_vnd", 0) for x in mine) == 0
