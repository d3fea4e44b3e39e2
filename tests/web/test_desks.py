"""The desks as people use them: a cooperative registers a lot, a lab posts its assay, the
operator receives it, the cooperative lists it at a price, a trader buys from it, and the public
trace page (on a phone, signed out) shows the sale. Also: a refused step names the next one and
a desk without the role asks for a sign-in. The panels of the ledger, DvP and analytics
endpoints are tested in test_panels.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from grading.samples import CLEAN, sample_results
from tests.web.conftest import quiet_price, screenshot

LOT = "LC26-E2E01"
SYMBOL = "QUE-BARK-A"


def test_a_lot_from_registration_to_its_sale_on_the_trace_page(tabs, server) -> None:
    coop = tabs()
    coop.sign_in("demo-web-htx")
    page = coop.page
    assert page.url.endswith("/coop")  # the cooperative's home
    harvest = (datetime.now(UTC) - timedelta(days=3)).date().isoformat()
    page.fill("#register input[name=lot_id]", LOT)
    page.select_option("#register select[name=spec_id]", "QUE-BARK")
    page.fill("#register input[name=qty]", "100")
    page.fill("#register input[name=harvest_date]", harvest)
    page.fill("#register input[name=commune]", "Xã Mường Hum")
    page.fill("#register input[name=area_code]", "LC-MH-DL-0002")
    page.click("#register button[type=submit]")
    row = page.locator(f"#lots tr[data-lot={LOT}]")
    row.wait_for()
    page.wait_for_selector(f"#lot-h >> text={LOT}")  # the new lot's card, not the one before
    # the next step is named: a lab must post the assay
    assert "phòng kiểm nghiệm gửi kết quả" in row.inner_text()
    assert "phòng kiểm nghiệm gửi kết quả" in page.inner_text("#next-step")

    lab = tabs()
    lab.sign_in("demo-web-lab")
    lp = lab.page
    assert lp.url.endswith("/lab")
    lp.click(f"#lab-lot-table tr[data-lot={LOT}] button")
    lp.wait_for_selector("#assay input[data-param=essential_oil_pct]")
    values = {**sample_results("QUE-BARK", "A"), **CLEAN}
    for inp in lp.locator("#assay input[data-param]").all():
        inp.fill(values[inp.get_attribute("data-param")])
    lp.click("#assay button[type=submit]")
    lp.wait_for_selector("#grade-card")
    assert lp.inner_text("#grade") == "Hạng A"
    reasons = lp.inner_text("#grade-reasons")
    assert "hạng cao nhất" in reasons and "Cinnamaldehyde" in reasons  # why it is A
    assert "Đạt" in lp.inner_text("#assay-values")
    screenshot(lp, "flow-lab-graded")

    ops = tabs()
    ops.sign_in("demo-web-ops")
    op = ops.page
    assert op.url.endswith("/ops")
    form = op.locator(f"#ops-lot-table tr[data-lot={LOT}] form")
    assert form.locator("input").input_value() == "100"
    form.locator("button").click()
    op.wait_for_selector(f"#ops-lot-table tr[data-lot={LOT}] >> text=Đã nhập kho")
    assert ops.errors == []

    # back at the cooperative's desk: the lot waits to be listed; list and sell at a price
    page.reload()
    coop.ready()
    page.click(f"#lots tr[data-lot={LOT}] button")
    page.wait_for_selector(f"#lot-h >> text={LOT}")
    page.wait_for_selector("#sell-form")
    assert "hợp tác xã niêm yết" in page.inner_text("#next-step")
    price = quiet_price(server, SYMBOL)
    page.fill("#sell-form input[name=price]", str(price))
    page.fill("#sell-form input[name=qty]", "100")
    page.click("#sell-form button[type=submit]")
    page.wait_for_selector("#next-step >> text=đặt lệnh bán ở một mức giá")
    assert server.get(f"/api/v1/lots/{LOT}", "demo-web-htx")["state"] == "listed"

    # a trader buys 40 kg at the lot's price
    fill = server.post("/api/v1/orders", {"symbol": SYMBOL, "side": "buy", "type": "limit",
                                          "price": price, "qty": 40, "tif": "ioc",
                                          "client_order_id": "e2e-buy-1"}, "demo-web-t1")
    assert fill["filled_qty"] == 40, fill
    # the seller's desk hears of it on its private channel and shows the sale
    page.wait_for_selector("#lot-sales tbody tr")
    assert "40" in page.inner_text("#lot-sales")
    screenshot(page, "flow-coop-sold")

    phone = tabs("phone")
    tp = phone.open(f"/trace/{LOT}")
    sales = tp.inner_text("#trace-sales")
    assert "40" in sales and f"{price:,}".replace(",", ".") in sales  # VND, Vietnamese separators
    sale = server.get(f"/api/v1/trace/{LOT}")["sales"][0]
    assert f"{sale['price_per_kg_active']:,}".replace(",", ".") in sales  # per kg of active
    assert "grades.A" in tp.inner_text("#main")  # the unverified figures the grade rested on
    assert tp.inner_text("#trace-state") == "Đã bán một phần"
    journey = tp.inner_text("#trace-journey")
    for step in ("Đăng ký", "Kiểm nghiệm", "Nhập kho"):
        assert step in journey
    assert tp.evaluate("document.documentElement.scrollWidth - window.innerWidth") == 0
    tp.click("#lang")
    assert tp.inner_text("#trace-state") == "Partly sold"
    screenshot(tp, "flow-trace-phone")
    for tab in (coop, lab, phone):
        assert tab.errors == []


def test_a_desk_asks_a_visitor_to_sign_in_and_names_its_role(tabs) -> None:
    tab = tabs()
    page = tab.open("/ops")
    assert "Bàn vận hành chợ" in page.inner_text("h1")
    assert "Ban quản lý chợ" in page.inner_text("#main")  # the role, translated
    page.click("#gate-signin")
    assert page.locator("#signin").evaluate("d => d.open")
    assert tab.errors == []
