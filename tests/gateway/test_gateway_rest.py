"""REST: market data, orders (place, cancel, replace, idempotency), errors as problem+json."""

from __future__ import annotations

import msgspec

from gateway.api.schemas import (
    BalancesOut,
    BookOut,
    FillsOut,
    InstrumentsOut,
    OrderResultOut,
    OrdersOut,
    TickerOut,
    TradesOut,
)
from gateway.stream.checksum import book_checksum
from tests.gateway.conftest import SYMBOL, Market


def conv(data, typ):
    return msgspec.convert(data, typ)


async def test_instruments_and_empty_book(market: Market) -> None:
    r = await market.client.get("/api/v1/instruments")
    assert r.status == 200
    body = conv(await r.json(), InstrumentsOut)
    (inst,) = body.instruments
    assert (inst.symbol, inst.herb, inst.grade, inst.unit, inst.tick_vnd, inst.qty_step,
            inst.status) == (SYMBOL, "QUE", "A", "kg", 100, 1, "open")
    r = await market.client.get(f"/api/v1/instruments/{SYMBOL}/book")
    book = conv(await r.json(), BookOut)
    assert (book.bids, book.asks, book.seq) == ([], [], 0)
    assert book.checksum == book_checksum([], [])


async def test_place_rest_and_trade(market: Market) -> None:
    status, sell = await market.order("C1", side="sell", price=61_600, qty=100,
                                      client_order_id="s1")
    assert status == 201, sell
    sell = conv(sell, OrderResultOut)
    assert (sell.status, sell.filled_qty, sell.leaves_qty, sell.fills) == ("new", 0, 100, [])
    status, buy = await market.order("T1", side="buy", price=61_700, qty=40,
                                     client_order_id="b1")
    assert status == 201
    buy = conv(buy, OrderResultOut)
    assert (buy.status, buy.filled_qty, buy.leaves_qty) == ("filled", 40, 0)
    (fill,) = buy.fills
    assert (fill.price, fill.qty, fill.liquidity, fill.lots) == (61_600, 40, "taker",
                                                                 [["LOT-C1", 40]])
    r = await market.client.get(f"/api/v1/instruments/{SYMBOL}/book?depth=5")
    book = conv(await r.json(), BookOut)
    assert book.asks == [[61_600, 60]] and book.bids == []
    assert book.checksum == book_checksum(book.bids, book.asks)
    r = await market.client.get(f"/api/v1/instruments/{SYMBOL}/trades?limit=10")
    trades = conv(await r.json(), TradesOut).trades
    assert [(t.price, t.qty, t.aggressor) for t in trades] == [(61_600, 40, "buy")]
    assert trades[0].ts.endswith("Z")
    r = await market.client.get(f"/api/v1/instruments/{SYMBOL}/ticker")
    t = conv(await r.json(), TickerOut)
    assert (t.last, t.volume, t.best_ask, t.best_bid) == (61_600, 40, 61_600, None)
    r = await market.client.get("/api/v1/fills", headers=market.h("C1"))
    (f,) = conv(await r.json(), FillsOut).fills
    assert (f.side, f.liquidity, f.qty, f.leaves_qty) == ("sell", "maker", 40, 60)
    await market.pay()  # delivery versus payment: the operator marks the trade paid
    r = await market.client.get("/api/v1/balances", headers=market.h("T1"))
    bal = conv(await r.json(), BalancesOut)
    assert bal.cash_vnd == 1_000_000_000 - 40 * 61_600
    assert [(g.symbol, g.qty) for g in bal.goods] == [(SYMBOL, 40)]


async def test_trades_newest_first_and_limit(market: Market) -> None:
    await market.order("C1", side="sell", price=61_000, qty=500)
    for qty in (1, 2, 3):
        await market.order("T1", side="buy", price=61_000, qty=qty)
    r = await market.client.get(f"/api/v1/instruments/{SYMBOL}/trades?limit=2")
    trades = conv(await r.json(), TradesOut).trades
    assert [t.qty for t in trades] == [3, 2]
    assert trades[0].seq > trades[1].seq


async def test_cancel_and_replace(market: Market) -> None:
    _, o = await market.order("T1", price=60_000, qty=50, client_order_id="x")
    oid = o["order_id"]
    r = await market.client.patch(f"/api/v1/orders/{oid}", json={"qty": 30},
                                  headers=market.h("T1"))
    assert r.status == 200, await r.text()
    rep = conv(await r.json(), OrderResultOut)
    assert (rep.status, rep.leaves_qty, rep.client_order_id) == ("new", 30, "x")
    r = await market.client.get("/api/v1/orders", headers=market.h("T1"))
    (view,) = conv(await r.json(), OrdersOut).orders
    assert (view.order_id, view.qty, view.leaves_qty, view.resting) == (oid, 30, 30, True)
    r = await market.client.delete(f"/api/v1/orders/{oid}", headers=market.h("T2"))
    assert r.status == 404  # another trader's order is as good as unknown
    r = await market.client.delete(f"/api/v1/orders/{oid}", headers=market.h("T1"))
    assert r.status == 200
    c = conv(await r.json(), OrderResultOut)
    assert (c.status, c.leaves_qty, c.cancel_reason) == ("cancelled", 0, "user")
    r = await market.client.delete(f"/api/v1/orders/{oid}", headers=market.h("T1"))
    assert r.status == 409
    assert (await r.json())["code"] == "order_not_open"
    r = await market.client.get("/api/v1/orders?status=all", headers=market.h("T1"))
    assert [o.status for o in conv(await r.json(), OrdersOut).orders] == ["cancelled"]
    r = await market.client.get(f"/api/v1/orders/{oid}", headers=market.h("T1"))
    assert (await r.json())["status"] == "cancelled"


async def test_client_order_id_resend_is_idempotent(market: Market) -> None:
    s1, first = await market.order("T1", price=60_000, qty=5, client_order_id="same")
    s2, again = await market.order("T1", price=60_000, qty=5, client_order_id="same")
    assert (s1, s2) == (201, 200)
    assert again["order_id"] == first["order_id"] and again["resent"] is True
    r = await market.client.get("/api/v1/orders", headers=market.h("T1"))
    assert len((await r.json())["orders"]) == 1


async def test_idempotency_key_replays_the_first_response(market: Market) -> None:
    h = {**market.h("T1"), "Idempotency-Key": "k-1"}
    body = {"symbol": SYMBOL, "side": "buy", "price": 60_000, "qty": 5}
    r1 = await market.client.post("/api/v1/orders", json=body, headers=h)
    r2 = await market.client.post("/api/v1/orders", json=body, headers=h)
    assert (r1.status, r2.status) == (201, 201)
    assert await r1.read() == await r2.read()
    assert r2.headers["Idempotent-Replayed"] == "true"
    r3 = await market.client.post("/api/v1/orders", json={**body, "qty": 6}, headers=h)
    assert r3.status == 422 and (await r3.json())["code"] == "idempotency_key_reused"
    r = await market.client.get("/api/v1/orders", headers=market.h("T1"))
    assert len((await r.json())["orders"]) == 1


async def test_engine_refusals_are_problems(market: Market) -> None:
    for fields, status, code in [
        ({"price": 60_050}, 422, "price_off_tick"),
        ({"price": 60_000, "qty": 0}, 422, "invalid_qty"),
        ({"price": 60_000, "qty": 10**9}, 422, "insufficient_cash"),
        ({"symbol": "NOPE-X-A", "price": 60_000}, 404, "unknown_symbol"),
        ({"type": "limit"}, 422, "price_required"),
    ]:
        status_got, body = await market.order("T1", **fields)
        assert (status_got, body["code"]) == (status, code), body
        assert body["status"] == status and body["type"].endswith(code)
    status_got, body = await market.order("C1", side="sell", price=60_000, qty=5_000)
    assert (status_got, body["code"]) == (422, "insufficient_goods")


async def test_input_errors(market: Market) -> None:
    c, h = market.client, market.h("T1")
    r = await c.post("/api/v1/orders", data=b"{not json", headers=h)
    assert r.status == 400 and r.content_type == "application/problem+json"
    r = await c.post("/api/v1/orders", data=b"", headers=h)
    assert r.status == 400
    r = await c.post("/api/v1/orders", json={"symbol": SYMBOL, "side": "up", "qty": 1},
                     headers=h)
    body = await r.json()
    assert r.status == 422 and body["errors"][0]["field"] == "$.side"
    r = await c.post("/api/v1/orders", json={"symbol": SYMBOL, "side": "buy", "qty": "1"},
                     headers=h)
    assert r.status == 422 and (await r.json())["errors"][0]["field"] == "$.qty"
    r = await c.post("/api/v1/orders", json={"symbol": SYMBOL, "side": "buy", "qty": 1,
                                             "bogus": 1}, headers=h)
    assert r.status == 422
    r = await c.post("/api/v1/orders", json={"side": "buy", "qty": 1}, headers=h)
    assert r.status == 422 and "symbol" in (await r.json())["detail"]
    r = await c.get("/api/v1/nope")
    assert r.status == 404 and r.content_type == "application/problem+json"
    r = await c.put("/api/v1/orders", headers=h)
    assert r.status == 405 and "Allow" in r.headers
    r = await c.post("/api/v1/orders", data=b"x" * 70_000, headers=h)
    assert r.status == 413
    r = await c.get(f"/api/v1/instruments/{SYMBOL}/book?depth=0")
    assert r.status == 422
    r = await c.get(f"/api/v1/instruments/{SYMBOL}/trades?limit=abc")
    assert r.status == 422
    r = await c.get("/api/v1/instruments/NOPE/book")
    assert r.status == 404
    r = await c.delete("/api/v1/orders/abc", headers=h)
    assert r.status == 404


async def test_auth_errors(market: Market) -> None:
    c = market.client
    r = await c.get("/api/v1/balances")
    assert r.status == 401 and "WWW-Authenticate" in r.headers
    r = await c.get("/api/v1/balances", headers={"Authorization": "Bearer nope"})
    assert r.status == 401
    r = await c.get("/api/v1/balances", headers={"Authorization": "Basic abc"})
    assert r.status == 401
    r = await c.get("/api/v1/balances", headers=market.h("A1"))
    assert r.status == 403


async def test_openapi_document(market: Market) -> None:
    r = await market.client.get("/api/v1/openapi.json")
    doc = await r.json()
    assert doc["openapi"].startswith("3.1")
    post = doc["paths"]["/api/v1/orders"]["post"]
    ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/OrderRequest"
    assert "price" in doc["components"]["schemas"]["OrderRequest"]["properties"]
    assert post["x-roles"] == ["cooperative", "trader"]
    ids = [op["operationId"] for path in doc["paths"].values() for op in path.values()]
    assert len(ids) == len(set(ids))


async def test_health_and_readiness(market: Market) -> None:
    r = await market.client.get("/healthz")
    assert r.status == 200
    # the engine core this process runs: the test process imports the interpreted one
    assert (await r.json())["core"] == "interpreted"
    r = await market.client.get("/readyz")
    assert r.status == 200 and (await r.json())["status"] == "ready"


async def test_a_transfer_reference_books_money_once(market: Market) -> None:
    op = market.h("operator")
    body = {"account": "T1", "amount_vnd": 5_000_000, "transfer_id": "VCB-2026-000123"}
    first = await market.client.post("/api/v1/deposits", headers=op, json=body)
    assert first.status == 201, await first.text()
    booked = await first.json()
    assert booked["transfer_id"] == "VCB-2026-000123"
    again = await market.client.post("/api/v1/deposits", headers=op, json=body)
    assert again.status == 409
    assert (await again.json())["type"].endswith("duplicate_transfer")
    out = await market.client.post("/api/v1/withdrawals", headers=op,
                                   json=body | {"amount_vnd": 1})
    assert out.status == 409  # one reference, one movement of money
    balances = await market.client.get("/api/v1/accounts/T1/balances", headers=op)
    assert balances.status == 200
    assert (await balances.json())["cash_vnd"] == booked["balance_vnd"]
    # without a reference the gateway makes one up, so each request books once
    plain = await market.client.post("/api/v1/deposits", headers=op,
                                     json={"account": "T1", "amount_vnd": 1})
    assert plain.status == 201 and (await plain.json())["transfer_id"].startswith("hx-")
