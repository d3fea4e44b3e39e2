"""Hardening found by attacking a running market from outside: a client order id reused for
another order, an Idempotency-Key retry the key store forgot, the last operator token, a real
market started with --demo."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.asyncio.client import connect

from tests.gateway.conftest import SYMBOL, Market, settings, start
from tests.gateway.wsclient import recv, send

# -- a client order id resent with a different order -----------------------------------------------


async def open_orders(market: Market, who: str = "T1") -> list[dict[str, Any]]:
    r = await market.client.get("/api/v1/orders?status=all", headers=market.h(who))
    return (await r.json())["orders"]


async def test_a_client_order_id_resent_with_another_order_is_409_with_the_original(
    market: Market,
) -> None:
    s1, first = await market.order("T1", price=60_000, qty=5, client_order_id="mine-1")
    s2, same = await market.order("T1", price=60_000, qty=5, client_order_id="mine-1")
    assert (s1, s2) == (201, 200) and same["resent"] is True
    for change in ({"price": 60_100}, {"qty": 6}, {"side": "sell"}, {"tif": "ioc"},
                   {"post_only": True}, {"tif": "gtd", "expire_at": "2099-01-01T00:00:00Z"}):
        r = await market.client.post("/api/v1/orders", headers=market.h("T1"), json={
            "symbol": SYMBOL, "side": "buy", "price": 60_000, "qty": 5,
            "client_order_id": "mine-1", **change})
        problem = await r.json()
        assert r.status == 409, problem
        assert r.content_type == "application/problem+json"
        assert problem["code"] == "client_order_id_reused"
        assert problem["type"].endswith("/client_order_id_reused")
        assert problem["order"] == {**same, "resent": True}
        assert f"order {first['order_id']}" in problem["detail"]
    [order] = await open_orders(market)
    assert (order["order_id"], order["price"], order["qty"]) == (first["order_id"], 60_000, 5)


async def test_a_market_buy_resent_with_another_cash_cap_is_409(market: Market) -> None:
    await market.order("C1", side="sell", price=60_000, qty=2)
    buy = {"type": "market", "qty": 2, "cash_cap": 200_000, "client_order_id": "mkt-1"}
    s1, first = await market.order("T1", **buy)
    assert s1 == 201 and first["status"] == "filled"
    assert (await market.order("T1", **buy))[0] == 200
    status, problem = await market.order("T1", **{**buy, "cash_cap": 300_000})
    assert (status, problem["code"]) == (409, "client_order_id_reused")
    assert "cash_cap" in problem["detail"]


async def test_over_websocket_a_reused_client_order_id_is_a_409_error(market: Market) -> None:
    async with connect(market.ws_url, additional_headers=market.h("T1")) as ws:
        await send(ws, op="subscribe", channels=["orders"])
        await recv(ws, type="subscribed")
        await send(ws, op="order", req_id=1, symbol=SYMBOL, side="buy", price=60_000, qty=7,
                   client_order_id="ws-1")
        first = await recv(ws, type="result", req_id=1)
        await send(ws, op="order", req_id=2, symbol=SYMBOL, side="buy", price=60_000, qty=8,
                   client_order_id="ws-1")
        got: dict[str, dict[str, Any]] = {}
        while len(got) < 2:  # the answer and the orders channel's event, in either order
            msg = json.loads(await asyncio.wait_for(ws.recv(), 20))
            if msg.get("req_id") == 2 or msg.get("type") == "order_resent":
                got[msg["type"]] = msg
        err = got["error"]
        assert (err["code"], err["status"]) == ("client_order_id_reused", 409)
        assert str(first["body"]["order_id"]) in err["detail"] and "qty" in err["detail"]
        assert got["order_resent"]["reason"] == "client_order_id_reused"
    assert [o["qty"] for o in await open_orders(market)] == [7]


async def test_openapi_documents_the_resend_answers_of_post_orders(market: Market) -> None:
    doc = await (await market.client.get("/api/v1/openapi.json")).json()
    answers = doc["paths"]["/api/v1/orders"]["post"]["responses"]
    assert {"200", "201", "409", "422"} <= set(answers)
    ref = answers["409"]["content"]["application/problem+json"]["schema"]["$ref"]
    schema = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert "order" in schema["properties"] and "order" in schema["required"]


async def test_an_idempotency_key_retry_the_store_forgot_places_no_second_order(
    tmp_path: Any,
) -> None:
    m = await start(settings(tmp_path, idempotency_keys=1))
    try:
        def key(k: str) -> dict[str, str]:
            return {**m.h("T1"), "Idempotency-Key": k}

        body = {"symbol": SYMBOL, "side": "buy", "price": 60_000, "qty": 5}
        r1 = await m.client.post("/api/v1/orders", json=body, headers=key("k-a"))
        assert r1.status == 201
        first = await r1.json()
        r = await m.client.post("/api/v1/orders", json={**body, "qty": 1}, headers=key("k-b"))
        assert r.status == 201  # the store keeps one key: k-a is forgotten
        again = await m.client.post("/api/v1/orders", json=body, headers=key("k-a"))
        assert again.status == 200 and "Idempotent-Replayed" not in again.headers
        assert (await again.json())["order_id"] == first["order_id"]
        other = await m.client.post("/api/v1/orders", json={**body, "qty": 9},
                                    headers=key("k-a"))
        assert other.status == 422  # remembered again: the store itself refuses
        assert (await other.json())["code"] == "idempotency_key_reused"
        r = await m.client.post("/api/v1/orders", json={**body, "qty": 2}, headers=key("k-c"))
        assert r.status == 201  # k-a forgotten again: now the engine refuses
        other = await m.client.post("/api/v1/orders", json={**body, "qty": 9},
                                    headers=key("k-a"))
        assert other.status == 409
        assert (await other.json())["code"] == "client_order_id_reused"
        assert sorted(o["qty"] for o in await open_orders(m)) == [1, 2, 5]
    finally:
        await m.client.close()
