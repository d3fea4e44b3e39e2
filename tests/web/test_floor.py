"""The trading floor, as two people would use it: a trader places a limit order and sees it in
the ladder and in their open orders; a second trader, in a second browser context, crosses it
and both see the trade live (tape and fills), without reloading."""

from __future__ import annotations

SYMBOL = "QUE-BARK-A"


def vi(n: int) -> str:
    """A number as the Vietnamese page shows it: 61.900."""
    return f"{n:,}".replace(",", ".")


def test_limit_order_then_crossed_by_a_second_trader(tabs, server) -> None:
    book = server.get(f"/api/v1/instruments/{SYMBOL}/book?depth=1")
    tick = server.get(f"/api/v1/instruments/{SYMBOL}")["tick_vnd"]
    price = book["bids"][0][0] + tick
    assert price < book["asks"][0][0], "the bots' quotes leave room inside the spread"

    buyer, seller = tabs(), tabs()
    buyer.sign_in("demo-web-t1")
    seller.sign_in("demo-web-t2")
    b = buyer.open(f"/floor?s={SYMBOL}")
    s = seller.open(f"/floor?s={SYMBOL}")
    for p in (b, s):
        p.wait_for_selector("#conn[data-state=live]")
        p.wait_for_selector("#ladder[data-seq]", state="attached")

    # the buyer: a limit buy of 25 kg, good till cancelled; the ticket shows the cash it holds
    b.check("input[name=side][value=buy]", force=True)
    b.fill("#t-price", str(price))
    b.fill("#t-qty", "25")
    assert vi(price * 25) in b.inner_text("#t-hold")
    b.click("#t-submit")
    row = b.wait_for_selector("#open-orders tr[data-order]")
    assert vi(price) in row.inner_text() and "25/25" in row.inner_text()
    # the ladder shows the new best bid, marked as the buyer's own, on both screens
    b.wait_for_selector(f"#ladder tr.bid.mine[data-price='{price}']")
    s.wait_for_selector(f"#ladder tr.bid[data-price='{price}']")

    # from here the buyer only watches: nothing on their screen may move when the trade lands
    b.evaluate("""() => { window.shift = 0; new PerformanceObserver((l) => {
        for (const e of l.getEntries()) if (!e.hadRecentInput) window.shift += e.value;
    }).observe({type: 'layout-shift'}); }""")

    # the seller crosses it: a limit sell of 25 kg at that price
    s.check("input[name=side][value=sell]", force=True)
    s.fill("#t-price", str(price))
    s.fill("#t-qty", "25")
    assert "25 kg" in s.inner_text("#t-hold")
    s.click("#t-submit")

    # both see the trade live: on the tape and among their own fills
    for p in (b, s):
        p.wait_for_function(
            "([price]) => [...document.querySelectorAll('#tape tbody tr')].some("
            "r => r.cells[1].textContent === price && r.cells[2].textContent === '25')",
            arg=[vi(price)])
        p.wait_for_selector("#fills tr[data-trade]")
        assert vi(price) in p.inner_text("#fills")
    # the buyer's order is gone from their open orders, its level from the ladder
    b.wait_for_function("!document.querySelector('#open-orders tr[data-order]')")
    b.wait_for_selector(f"#ladder tr.bid[data-price='{price}']", state="detached")
    assert b.evaluate("window.shift") < 0.01  # no layout shift from live updates
    assert buyer.errors == [] and seller.errors == []


def test_cancel_and_replace(tabs, server) -> None:
    book = server.get(f"/api/v1/instruments/{SYMBOL}/book?depth=1")
    tick = server.get(f"/api/v1/instruments/{SYMBOL}")["tick_vnd"]
    low = book["bids"][0][0] - 20 * tick  # rests well below the market
    tab = tabs("phone")
    tab.sign_in("demo-web-t1")
    p = tab.open(f"/floor?s={SYMBOL}")
    p.fill("#t-price", str(low))
    p.fill("#t-qty", "12")
    p.click("#t-submit")
    p.wait_for_selector("#open-orders tr[data-order]")
    p.click("#open-orders [data-action=replace]")
    p.fill("#open-orders input[aria-label]:nth-of-type(2)", "15")
    p.click("#open-orders [data-action=save]")
    p.wait_for_function("document.querySelector('#open-orders tr[data-order]')?.textContent.includes('15/15')")
    p.click("#open-orders [data-action=cancel]")
    p.wait_for_function("!document.querySelector('#open-orders tr[data-order]')")
    assert tab.errors == []


def test_keyboard_and_english(tabs) -> None:
    tab = tabs()
    tab.sign_in("demo-web-t2")
    p = tab.open(f"/floor?s={SYMBOL}")
    assert "Đang mở" in p.inner_text("#sym-title")  # the state, translated
    p.focus("#instruments tr[data-symbol='ATISO-LEAF-A']")
    p.keyboard.press("Enter")  # choose an instrument from the keyboard
    p.wait_for_function("document.querySelector('#sym-title').textContent.startsWith('ATISO-LEAF-A')")
    assert "s=ATISO-LEAF-A" in p.url
    p.click("#lang")
    assert "Open" in p.inner_text("#sym-title") and "Order ticket" in p.inner_text("#ticket-h")
    assert p.inner_text("#t-submit") == "Place buy"
    # the ticket is a form: typing and Enter places the order, a refusal is shown translated
    p.fill("#t-price", "1")
    p.fill("#t-qty", "5")
    p.press("#t-qty", "Enter")
    p.wait_for_selector("#t-error:not(:empty)")
    assert "band" in p.inner_text("#t-error") or "tick" in p.inner_text("#t-error")
    assert all("422" in e for e in tab.errors)  # the refused order's 422, and nothing else
