"""The panels of the ledger, delivery versus payment and analytics endpoints, against the real
answers: the cooperative's statement (a sale net of fee and levy; its CSV), the operator moving
a trade paid → delivered → settled (the trader hears each step and sees what waits for
payment), an overdue trade (a market of its own whose clock is moved three days on) and a
server without a ledger (a panel that says so, with nothing in the console), the analyst's
bars, indices per kg and per kg of active ingredient, insurance figures and tick export, and
the floor's candles from the bars endpoint with a live update."""

from __future__ import annotations

import asyncio
import csv
import io
import threading
import urllib.error
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import (
    Tab,
    quiet_price,
    require_browser,
    screenshot,
    sell_a_lot,
    until,
)

SYMBOL = "QUE-BARK-A"


def vn(n: int) -> str:
    """``1234567`` as the Vietnamese pages write VND: ``1.234.567 ₫``."""
    return f"{n:,}".replace(",", ".") + " ₫"


def vn_today() -> str:
    return (datetime.now(UTC) + timedelta(hours=7)).date().isoformat()


def downloaded(page: Any, click: str) -> str:
    with page.expect_download() as d:
        page.click(click)
    return Path(d.value.path()).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def sold(server: Any) -> dict[str, Any]:
    """One sale of the demo cooperative (50 kg to WEB-T2, from a fresh lot or an older listed
    one: a sell order draws the seller's oldest goods), booked by the ledger: its statement
    line, and the statement's sums for the line's lot as ``lot_sums``."""
    fill = sell_a_lot(server, "LC26-PNL01", 50)
    trade_ids = {f["trade_id"] for f in fill["fills"]}

    def statement() -> Any:
        st = server.get(f"/api/v1/statements/WEB-HTX?from={vn_today()}&to={vn_today()}"
                        "&limit=1000", "demo-web-htx")
        line = next((x for x in st["lines"] if x["kind"] == "sale"
                     and x["trade_id"] in trade_ids), None)
        return line and (line, st)

    line, st = until(statement, "the ledger to book the sale")
    return {**line, "lot_sums": next(x for x in st["lots"] if x["lot_id"] == line["lot_id"])}


def test_the_cooperative_reads_its_statement_and_downloads_it(tabs, sold) -> None:
    assert sold["fee_vnd"] > 0 and sold["levy_vnd"] > 0
    net = sold["gross_vnd"] - sold["fee_vnd"] - sold["levy_vnd"] - sold.get("tax_vnd", 0)
    # pending (delivery versus payment): the sale is invoiced, its cash comes with the payment
    assert sold["net_vnd"] == net and sold.get("cash_vnd", 0) == 0
    lot_id, sums = sold["lot_id"], sold["lot_sums"]
    tab = tabs()
    tab.sign_in("demo-web-htx")
    page = tab.page
    lot = page.locator(f"#statement-lots tr[data-lot='{lot_id}']")
    lot.wait_for()
    text = lot.inner_text()
    assert vn(sums["gross_vnd"]) in text and vn(sums["net_vnd"]) in text, text
    assert vn(sums["fee_vnd"] + sums["levy_vnd"] + sums["tax_vnd"]) in text
    line = page.locator(f"#statement-lines tr[data-kind=sale][data-invoice='{sold['invoice']}']")
    text = line.inner_text()
    assert lot_id in text and vn(sold["gross_vnd"]) in text and "Bán" in text, text
    assert f"phí {sold['fee_vnd']:,}".replace(",", ".") in text
    body = downloaded(page, "#statement-csv")
    rows = list(csv.DictReader(io.StringIO(body)))
    mine = [r for r in rows if r["kind"] == "sale" and r["invoice"] == sold["invoice"]]
    assert [(int(r["gross_vnd"]), int(r["net_vnd"]), r["lot_id"]) for r in mine] == [
        (sold["gross_vnd"], net, lot_id)]
    page.click("#lang")
    assert "Sale" in line.inner_text()
    screenshot(page, "panel-coop-statement")
    assert tab.errors == []


def test_the_operator_settles_a_trade_step_by_step_and_the_trader_hears_it(
        tabs, server) -> None:
    fill = sell_a_lot(server, "LC26-PNL02", 30, buyer="demo-web-t2")
    trade_id = fill["fills"][0]["trade_id"]
    value = fill["fills"][0]["price"] * 30
    trader = tabs()
    trader.sign_in("demo-web-t2")
    tp = trader.open(f"/floor?s={SYMBOL}")
    tp.wait_for_selector("#conn[data-state=live]")
    # the buyer's cash for the trade waits for payment, shown as such
    assert int(server.get("/api/v1/balances", "demo-web-t2")["cash_dvp_vnd"]) >= value
    assert tp.inner_text("#cash-dvp") != vn(0)
    assert "chờ thanh toán" in tp.inner_text("#balances").lower()

    ops = tabs()
    ops.sign_in("demo-web-ops")
    op = ops.page
    row = op.locator(f"#settlement-trades tr[data-trade='{trade_id}']")
    row.wait_for()
    assert row.get_attribute("data-state") == "pending"
    assert vn(value) in row.inner_text() and "Chờ thanh toán" in row.inner_text()
    screenshot(op, "panel-ops-settlement")
    for state in ("paid", "delivered"):
        row.locator(f"button[data-action={state}]").click()
        op.wait_for_selector(f"#settlement-trades tr[data-trade='{trade_id}'][data-state={state}]")
        assert server.get(f"/api/v1/settlement/trades/{trade_id}", "demo-web-ops")["state"] == state
        if state == "paid":  # the buyer's floor hears it on its private channel
            tp.wait_for_selector(f"#notices >> text=#{trade_id}")
            assert "Đã thanh toán" in tp.inner_text("#notices")
    row.locator("button[data-action=settled]").click()
    row.wait_for(state="detached")  # settled: no longer waiting, off the list
    with pytest.raises(urllib.error.HTTPError) as gone:
        server.get(f"/api/v1/settlement/trades/{trade_id}", "demo-web-ops")
    gone.value.close()
    assert gone.value.code == 404
    assert ops.errors == [] and trader.errors == []


# ---- a market of its own: the clock moved on (overdue), and no ledger -------------------------


@pytest.fixture
def clocked(tmp_path: Any) -> Iterator[Any]:
    """The gateway in this process (tests/gateway's seeded market: T1, C1, ...) with an injected
    clock, serving on a real port from a thread of its own, so a browser can use it."""
    require_browser()
    from tests.gateway.conftest import FakeClock, settings, start

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def run(coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(60)

    clock = FakeClock()
    market = run(start(settings(tmp_path, heartbeat_s=1.0, settlement_cycle_days=1),
                       clock=clock))
    try:
        yield market, clock, run
    finally:
        run(market.client.close())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def sign_in_by_token(tab: Tab, base: str, path: str, token: str) -> Any:
    page = tab.page
    page.goto(base + path)
    tab.ready()
    page.click("#gate-signin")
    page.fill("#signin-token", token)
    with page.expect_navigation():
        page.click("#signin-form button[type=submit]")
    tab.ready()
    return page


def test_an_overdue_trade_and_a_server_without_a_ledger(browser, clocked) -> None:
    market, clock, run = clocked
    from tests.gateway.test_gateway_dvp import trade

    trade_id = run(trade(market))
    clock.advance(3 * 86_400)  # T+1 passed two days ago
    base = str(market.client.make_url("")).rstrip("/")

    class Server:  # what Tab needs of a server
        pass

    srv = Server()
    srv.base = base  # type: ignore[attr-defined]
    tab = Tab(browser, srv)  # type: ignore[arg-type]
    try:
        page = sign_in_by_token(tab, base, "/ops", market.tokens["operator"])
        row = page.locator(f"#settlement-trades tr[data-trade='{trade_id}']")
        row.wait_for()
        assert "Quá hạn" in row.inner_text()
        page.wait_for_selector("#settle-summary[data-overdue='1']")
        assert "T+1" in page.inner_text("#settle-summary")
        page.check("#settle-overdue")
        page.click("#settle-filter button[type=submit]")
        page.wait_for_selector(f"#settlement-trades tr[data-trade='{trade_id}']")
        screenshot(page, "panel-ops-overdue")
        assert tab.errors == []
    finally:
        tab.close()

    # a process without a ledger: the statement panel says so and asks nothing (a 503 would
    # be a console error)
    market.gw.ledger = None
    tab = Tab(browser, srv)  # type: ignore[arg-type]
    try:
        page = sign_in_by_token(tab, base, "/coop", market.tokens["C1"])
        body = page.locator("#coop-statement .panel-body[data-state]")
        body.wait_for()
        assert body.get_attribute("data-state") == "unavailable"
        assert "/api/v1/statements/C1" in body.inner_text()
        assert tab.errors == []
    finally:
        tab.close()


# ---- the analyst --------------------------------------------------------------------------------


def test_the_analyst_reads_bars_indices_insurance_and_exports_ticks(tabs, server,
                                                                      sold) -> None:
    tab = tabs()
    tab.sign_in("demo-web-fund")
    page = tab.page
    assert page.url.endswith("/analyst")
    page.select_option("#bars-form select[name=symbol]", SYMBOL)
    page.select_option("#bars-form select[name=interval]", "1m")
    page.click("#bars-form button[type=submit]")
    page.wait_for_selector("#bars-table tbody tr")
    since = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    bars = server.get(f"/api/v1/bars/{SYMBOL}?interval=1m&from={since.replace('+', '%2B')}")
    newest = bars["bars"][-1]
    first = page.locator("#bars-table tbody tr").first.inner_text()
    assert f"{newest['close']:,}".replace(",", ".") in first
    assert f"{newest['volume']:,}".replace(",", ".") in first

    herb = "QUE-BARK"
    for basis, header in (("kg", "₫/kg"), ("active", "₫/kg hoạt chất")):
        page.select_option("#index-form select[name=herb]", herb)
        page.select_option("#index-form select[name=basis]", basis)
        page.click("#index-form button[type=submit]")
        row = page.locator(f"#index-table tr[data-day='{vn_today()}']")
        row.wait_for()
        point = next(p for p in server.get(f"/api/v1/indices/{herb}?basis={basis}")["points"]
                     if p["day"] == vn_today())
        assert row.get_attribute("data-index") == point["index"]
        assert vn(point["vwap"]) in row.inner_text()
        assert header in page.inner_text("#index-table thead")

    season = page.locator("#insurance-table tr[data-season='QUE-BARK/2026-DEMO']")
    season.wait_for()
    ins = server.get("/api/v1/insurance", "demo-web-fund")
    demo = next(s for s in ins["seasons"] if s["season"] == "2026-DEMO")
    assert vn(demo["floor_vnd"]) in season.inner_text()
    if demo["status"] == "not_enough_data":
        assert "Chưa đủ khối lượng" in season.inner_text()
    else:
        assert vn(demo["reference_vnd"]) in season.inner_text()
    assert "₫" in page.inner_text("#fund")  # the fund's levy income, from the ledger
    report = downloaded(page, "#insurance-csv")
    assert report.splitlines()[0].startswith("herb,season,demo,floor_vnd")

    body = downloaded(page, "#export button[type=submit]")
    ticks = list(csv.DictReader(io.StringIO(body)))
    assert any(r["symbol"] == SYMBOL and int(r["qty"]) == 50 for r in ticks), body[:500]
    assert "buyer" not in body.splitlines()[0]
    screenshot(page, "panel-analyst")
    assert tab.errors == []


# ---- the floor's candles ---------------------------------------------------------------------------


def test_the_floor_draws_candles_from_bars_and_updates_them_live(tabs, server, sold) -> None:
    tab = tabs()
    tab.sign_in("demo-web-t1")
    page = tab.open(f"/floor?s={SYMBOL}")
    page.wait_for_selector("#conn[data-state=live]")
    page.wait_for_selector("#chart canvas", state="attached")
    chart = page.locator("#chart")
    page.wait_for_function("Number(document.querySelector('#chart').dataset.bars) > 0")
    assert chart.get_attribute("data-live") is None
    day = page.inner_text("#day-volume")
    # a trade now: WEB-T1 sells 7 kg to WEB-T2 inside the spread
    price = quiet_price(server)
    server.post("/api/v1/orders", {"symbol": SYMBOL, "side": "sell", "type": "limit",
                                   "price": price, "qty": 7, "tif": "gtc",
                                   "client_order_id": "floor-live-s"}, "demo-web-t1")
    server.post("/api/v1/orders", {"symbol": SYMBOL, "side": "buy", "type": "limit",
                                   "price": price, "qty": 7, "tif": "ioc",
                                   "client_order_id": "floor-live-b"}, "demo-web-t2")
    page.wait_for_function("Number(document.querySelector('#chart').dataset.live) > 0")
    page.wait_for_function(f"document.querySelector('#day-volume').textContent !== '{day}'")
    screenshot(page, "panel-floor-candles")
    assert tab.errors == []
