"""Issue 8, items 1-3: a request the engine refuses must never leave the journal unreadable.

Each repro of the issue goes through the real gateway; then a valid order is acknowledged after
it, the market is stopped and started again from its data directory, and it must come back with
the same state hash and the acknowledged order. Before the fix, each of these left a record that
recovery refused (``JournalCorrupt … undecodable payload``), or, when it was the last record,
cut it as a torn tail and lost an acknowledged GTD order with its cash hold.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from websockets.asyncio.client import connect

from tests.gateway.conftest import SYMBOL, Market, settings, start
from tests.gateway.wsclient import recv, send

BIG = 2_000_000_000


async def _restart_same(m: Market, tmp_path: Any) -> Market:
    """Stop the market, start it again from the same directory, and check it came back whole."""
    before = m.gw.exchange.state_hash()
    last = m.gw.exchange.last_seq
    await m.client.close()
    m2 = await start(settings(tmp_path), seed=False)
    m2.tokens = {**m.tokens, "operator": m2.tokens["operator"]}  # tokens survive a restart
    assert m2.gw.sequencer is not None
    assert m2.gw.sequencer.recovery.tail_cut is None
    assert m2.gw.exchange.last_seq == last
    assert m2.gw.exchange.state_hash() == before
    return m2


async def _post(m: Market, who: str, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    r = await m.client.post(path, json=body, headers=m.h(who))
    return r.status, await r.json()


async def _resting_order(m: Market) -> int:
    status, body = await m.order("T1", price=60_000, qty=5)
    assert status == 201, body
    return int(body["order_id"])


async def _poison_order_qty(m: Market) -> tuple[int, Any]:
    return await m.order("T1", price=1000, qty=BIG)


async def _poison_replace_qty(m: Market) -> tuple[int, Any]:
    oid = await _resting_order(m)
    r = await m.client.patch(f"/api/v1/orders/{oid}", json={"qty": BIG}, headers=m.h("T1"))
    return r.status, await r.json()


async def _poison_gtd_1960(m: Market) -> tuple[int, Any]:
    return await m.order("T1", price=60_000, tif="gtd", expire_at="1960-01-01T00:00:00Z")


async def _poison_gtd_2300(m: Market) -> tuple[int, Any]:
    return await m.order("T1", price=60_000, tif="gtd", expire_at="2300-01-01T00:00:00Z")


async def _poison_auction_start(m: Market) -> tuple[int, Any]:
    return await _post(m, "operator", "/api/v1/auctions", {
        "kind": "english", "lot_id": "LOT-C1", "seller": "C1", "qty": 10,
        "start_price": 50_000, "start_in_s": -3_000_000_000})


async def _poison_dutch_qty(m: Market) -> tuple[int, Any]:
    return await _post(m, "T1", "/api/v1/auctions/1/buy", {"price": 50_000, "qty": BIG})


async def _poison_qty_step(m: Market) -> tuple[int, Any]:
    return await _post(m, "operator", "/api/v1/instruments", {
        "symbol": "QUE-BARK-Z", "herb": "QUE", "grade": "Z", "tick_vnd": 100,
        "qty_step": BIG})


async def _poison_band(m: Market) -> tuple[int, Any]:
    return await _post(m, "operator", "/api/v1/instruments", {
        "symbol": "QUE-BARK-Z", "herb": "QUE", "grade": "Z", "tick_vnd": 100,
        "band_bps": 2_000_000})


async def _poison_ws_bid(m: Market) -> tuple[int, Any]:
    async with connect(m.ws_url, additional_headers=m.h("T1")) as ws:
        await send(ws, op="bid", auction_id=-1, price=50_000, req_id=7)
        err = await recv(ws, type="error")
    return int(err.get("status", 422)), err


POISONS = {
    "order qty 2e9": _poison_order_qty,
    "replace qty 2e9": _poison_replace_qty,
    "gtd expire_at 1960": _poison_gtd_1960,
    "gtd expire_at 2300": _poison_gtd_2300,
    "auction start_in_s -3e9": _poison_auction_start,
    "dutch buy qty 2e9": _poison_dutch_qty,
    "instrument qty_step 2e9": _poison_qty_step,
    "instrument band_bps 2e6": _poison_band,
    "websocket bid on auction -1": _poison_ws_bid,
}


@pytest.mark.parametrize("name", list(POISONS))
async def test_a_refused_request_never_stops_the_market_from_restarting(
    tmp_path: Any, name: str
) -> None:
    m = await start(settings(tmp_path))
    try:
        status, body = await POISONS[name](m)
        assert 400 <= status < 500, body
        # a later acknowledged order, so the bad record (if any) is not the last one
        status, later = await m.order("T1", price=60_100, qty=2, client_order_id="after")
        assert status == 201, later
        m = await _restart_same(m, tmp_path)
        r = await m.client.get(f"/api/v1/orders/{later['order_id']}",
                               headers={"Authorization": f"Bearer {m.tokens['operator']}"})
        assert r.status == 200 and (await r.json())["leaves_qty"] == 2
    finally:
        await m.client.close()


async def test_an_acknowledged_gtd_order_as_the_last_record_survives_a_restart(
    tmp_path: Any
) -> None:
    """Item 2: the last record, complete with a good checksum, is never cut as a torn tail."""
    m = await start(settings(tmp_path))
    try:
        status, body = await m.order("T1", price=60_000, qty=4, tif="gtd",
                                     expire_at="2261-01-01T00:00:00Z")
        assert status == 201, body
        held = m.gw.exchange.balances("T1").cash_held_vnd
        assert held == 4 * 60_000
        m = await _restart_same(m, tmp_path)
        view = m.gw.exchange.order_status(body["order_id"])
        assert view is not None and view.resting and view.leaves_qty == 4
        assert m.gw.exchange.balances("T1").cash_held_vnd == held
        # the case: a GTD order far in the future, sent last. It used to be answered
        # 201 with its cash held, then cut from the journal as a "torn tail" on restart.
        status, body = await m.order("T1", price=60_000, qty=3, tif="gtd",
                                     expire_at="2300-01-01T00:00:00Z")
        assert status == 422, body  # past 2262: nanoseconds since 1970 leave 63 bits
        m = await _restart_same(m, tmp_path)
        assert m.gw.exchange.balances("T1").cash_held_vnd == held
    finally:
        await m.client.close()


@pytest.mark.parametrize(("field", "value"), [
    ("symbol", "QUE<b>"), ("symbol", "QUE\rA"), ("symbol", "QUE\x1bA"), ("symbol", "QUE#A"),
    ("symbol", "QUE%41"), ("client_order_id", "a\x00b"), ("client_order_id", "a\x1bb"),
    ("client_order_id", "a\nb"), ("client_order_id", "a\u202eb"), ("client_order_id", "a b"),
])
async def test_identifiers_outside_their_character_set_are_refused(
    market: Market, field: str, value: str
) -> None:
    """Item 10: symbols and client order ids have a documented character set."""
    status, body = await market.order("T1", price=60_000, **{field: value})
    assert status == 422, body
    assert body["errors"][0]["field"] == f"$.{field}"
    assert market.gw.exchange.last_seq == market.gw.sequencer.last_seq  # nothing submitted


async def test_duplicate_json_keys_are_refused(market: Market) -> None:
    """Item 10: ``{"qty": 1, "qty": 1000}`` is ambiguous; it is refused, not read as either."""
    before = market.gw.exchange.last_seq
    raw = (f'{{"symbol":"{SYMBOL}","side":"buy","price":60000,"qty":1,"qty":1000}}').encode()
    r = await market.client.post("/api/v1/orders", data=raw, headers={
        **market.h("T1"), "Content-Type": "application/json"})
    assert r.status == 400, await r.text()
    body = await r.json()
    assert body["code"] == "duplicate_key" and "qty" in body["detail"]
    assert market.gw.exchange.last_seq == before


async def test_integers_written_as_integral_floats_are_integers(market: Market) -> None:
    """Item 11: JSON Schema (so the OpenAPI document) counts 65500.0 and 6.55e4 as integers;
    the API reads them so. A fraction is still refused, naming the field."""
    for price in ("65500.0", "6.55e4"):
        raw = f'{{"symbol":"{SYMBOL}","side":"buy","price":{price},"qty":1.0}}'.encode()
        r = await market.client.post("/api/v1/orders", data=raw, headers={
            **market.h("T1"), "Content-Type": "application/json"})
        assert r.status == 201, await r.text()
        view = market.gw.exchange.order_status((await r.json())["order_id"])
        assert (view.price_vnd, view.qty) == (65_500, 1)
    status, body = await market.order("T1", price=65_500.5)
    assert status == 422 and body["errors"][0]["field"] == "$.price"


async def test_duplicate_json_keys_are_refused_on_the_websocket_too(market: Market) -> None:
    before = market.gw.exchange.last_seq
    async with connect(market.ws_url, additional_headers=market.h("T1")) as ws:
        await ws.send(f'{{"op":"order","req_id":1,"symbol":"{SYMBOL}","side":"buy",'
                      '"price":60000,"qty":1,"qty":1000}')
        err = await recv(ws, type="error")
    assert err["code"] == "duplicate_key" and err["status"] == 400
    assert market.gw.exchange.last_seq == before


async def test_the_openapi_document_says_what_the_api_does(market: Market) -> None:
    """Item 11: the Idempotency-Key rules, ``seller`` for operators, whole-string patterns that
    JSON Schema tools read as Python does, and the commands' own bounds on request fields."""
    doc = await (await market.client.get("/api/v1/openapi.json")).json()
    post = doc["paths"]["/api/v1/orders"]["post"]
    key = next(p for p in post["parameters"] if p["name"] == "Idempotency-Key")
    assert "idempotency_key_reused" in key["description"]
    assert {"200", "201", "409"} <= set(post["responses"])
    schemas = doc["components"]["schemas"]
    assert "operator" in schemas["AuctionRequest"]["description"]
    assert "seller" in schemas["AuctionRequest"]["description"]
    order = schemas["OrderRequest"]["properties"]
    assert order["qty"]["maximum"] == 10**9
    assert order["symbol"]["pattern"].endswith("$(?!\\n)")
    assert "\\Z" not in json.dumps(doc)  # a Python-only anchor: ECMA regexes read it as "Z"
    assert schemas["InstrumentRequest"]["properties"]["qty_step"]["maximum"] == 10**9
    assert schemas["AuctionRequest"]["properties"]["start_in_s"]["minimum"] == 0


def test_multi_process_engine_refusals_of_a_limit_come_back_as_422_not_503() -> None:
    """The Redis engine reports a command past a limit of its type as ``RecordInvalid``; the
    gateway raises the same exception a single-process pipeline would (422 naming the field),
    not ``PipelineFailed`` (503 "the engine stopped")."""
    import msgspec

    from engine.durable.journal import RecordInvalid
    from engine.messages import PlaceOrder, command_msgpack_decoder
    from gateway.link.redis_link import invalid_text, refusal_of

    bad = msgspec.msgpack.encode(PlaceOrder(account="T1", client_order_id="x", symbol=SYMBOL,
                                            side="buy", price_vnd=1, qty=BIG))
    with pytest.raises(msgspec.ValidationError) as info:
        command_msgpack_decoder.decode(bad)
    invalid = RecordInvalid.of(info.value)
    exc = refusal_of(invalid_text(invalid))
    assert isinstance(exc, RecordInvalid) and exc.field == "$.qty" and "1000000000" in str(exc)


@pytest.mark.parametrize("raw", [
    '{"symbol":"QUE-BARK-A","side":"buy","price":60000,"qty":1,"qty":1000}',
    '{"symbol":"QUE-BARK-A","side":"buy","price":60000,"qty":1,"q\\u0074y":1000}',
    '{"symbol":"QUE-BARK-A","side":"buy","price":60000,"qty":1,"qty" :1000}',
])
async def test_duplicate_keys_are_found_however_they_are_spelt(market: Market, raw: str) -> None:
    r = await market.client.post("/api/v1/orders", data=raw.encode(), headers={
        **market.h("T1"), "Content-Type": "application/json"})
    assert r.status == 400 and (await r.json())["code"] == "duplicate_key"


async def test_a_value_that_spells_a_key_is_no_duplicate(market: Market) -> None:
    status, body = await market.order("T1", price=60_000, client_order_id="qty")
    assert status == 201, body


async def test_integral_floats_are_integers_on_the_websocket_too(market: Market) -> None:
    async with connect(market.ws_url, additional_headers=market.h("T1")) as ws:
        await ws.send(f'{{"op":"order","req_id":5,"symbol":"{SYMBOL}","side":"buy",'
                      '"price":60000.0,"qty":2.0}')
        res = await recv(ws, type="result", req_id=5)
    assert res["status"] == 201 and res["body"]["leaves_qty"] == 2
