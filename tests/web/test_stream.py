"""The live connection of a page: a local book that no longer matches the server's checksum,
or that missed an update, is replaced by a fresh snapshot; a dropped connection shows its
state, reconnects, and the page is live again without a reload."""

from __future__ import annotations

import itertools

SYMBOL = "QUE-BARK-A"
_ids = itertools.count(1)


def rest_order(server, price: int) -> int:
    """A resting buy by the second web trader, far below the market: one book update."""
    r = server.post("/api/v1/orders", {
        "symbol": SYMBOL, "side": "buy", "type": "limit", "price": price, "qty": 3,
        "tif": "gtc", "client_order_id": f"stream-test-{next(_ids)}"}, "demo-web-t2")
    return int(r["order_id"])


def low_price(server, ticks_below: int) -> int:
    book = server.get(f"/api/v1/instruments/{SYMBOL}/book?depth=1")
    tick = server.get(f"/api/v1/instruments/{SYMBOL}")["tick_vnd"]
    return int(book["bids"][0][0] - ticks_below * tick)


def local_checksum_matches(page, server) -> bool:
    server_sum = server.get(f"/api/v1/instruments/{SYMBOL}/book?depth=10")["checksum"]
    return page.evaluate(f"herbxStream.books.get('{SYMBOL}').checksum()") == server_sum


def test_bad_checksum_and_gap_resync(tabs, server) -> None:
    tab = tabs()
    tab.sign_in("demo-web-t1")
    p = tab.open(f"/floor?s={SYMBOL}")
    p.wait_for_selector("#ladder[data-seq]", state="attached")
    book = f"herbxStream.books.get('{SYMBOL}')"
    # a corrupted local copy: the next update's checksum fails and a snapshot replaces it
    p.evaluate(f"{book}.bids.set(1, 7)")
    orders = [rest_order(server, low_price(server, 30))]
    p.wait_for_function(f"{book}.resyncs >= 1 && !{book}.awaiting && !{book}.bids.has(1)")
    assert local_checksum_matches(p, server)
    # a missed update (the seq jumps): detected by the next update or heartbeat, resynced
    p.evaluate(f"herbxStream.seqs.set('book:{SYMBOL}', herbxStream.seqs.get('book:{SYMBOL}') - 1)")
    orders.append(rest_order(server, low_price(server, 31)))
    p.wait_for_function(f"{book}.resyncs >= 2 && !{book}.awaiting")
    price = low_price(server, 32)
    orders.append(rest_order(server, price))
    p.wait_for_selector(f"#ladder tr.bid[data-price='{price}']", state="attached")
    assert local_checksum_matches(p, server)
    for oid in orders:
        server.post(f"/api/v1/orders/{oid}", None, "demo-web-t2", method="DELETE")
    assert tab.errors == []


def test_reconnect_shows_state_and_resumes(tabs, server) -> None:
    tab = tabs("phone")
    tab.sign_in("demo-web-t1")
    p = tab.open(f"/floor?s={SYMBOL}")
    p.wait_for_selector("#conn[data-state=live]")
    p.evaluate("herbxStream.ws.close()")  # the connection drops
    p.wait_for_selector("#conn[data-state=reconnecting]")
    assert "nối lại" in p.inner_text("#conn")
    p.wait_for_selector("#conn[data-state=live]")
    # live again: a change made elsewhere reaches the ladder, on a fresh snapshot
    price = low_price(server, 33)
    oid = rest_order(server, price)
    p.wait_for_selector(f"#ladder tr.bid[data-price='{price}']", state="attached")
    assert local_checksum_matches(p, server)
    server.post(f"/api/v1/orders/{oid}", None, "demo-web-t2", method="DELETE")
    p.wait_for_selector(f"#ladder tr.bid[data-price='{price}']", state="detached")
    assert tab.errors == []
