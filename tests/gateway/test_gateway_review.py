"""Regressions from the gateway review: secrets, numbers the journal cannot hold, revoked
tokens on open WebSockets, odd path digits, rate limits on bad tokens, content types."""

from __future__ import annotations

import asyncio

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.gateway.conftest import SYMBOL, Market, settings, start
from tests.gateway.wsclient import recv, send


async def test_a_real_market_never_serves_its_operator_token(tmp_path) -> None:
    m = await start(settings(tmp_path), seed=False)
    try:
        bootstrap = [t for t in m.gw.demo_tokens.values()]
        assert bootstrap == []  # not a demo: the start-up token is only logged
        page = await (await m.client.get("/")).text()
        assert "hx_" not in page
    finally:
        await m.client.close()


@pytest.mark.parametrize("fields", [
    {"price": 10**30},
    {"price": 61_000, "qty": -(10**30)},
    {"price": 61_000, "tif": "gtd", "expire_at": "9999-12-31T23:59:59Z"},
    {"price": 61_000, "tif": "gtd", "expire_at": "0001-01-01T00:00:00Z"},
])
async def test_numbers_out_of_range_are_refused_and_the_market_keeps_running(
    market: Market, fields: dict
) -> None:
    status, body = await market.order("T1", **fields)
    assert 400 <= status < 500, body
    status, body = await market.order("T1", price=61_000)
    assert status == 201, body  # the pipeline is still up
    assert (await market.client.get("/readyz")).status == 200


async def test_an_auction_bid_with_a_huge_id_over_websocket_is_refused(market: Market) -> None:
    async with connect(market.ws_url, additional_headers=market.h("T1")) as ws:
        await send(ws, op="bid", auction_id=2**64, price=1, req_id=1)
        err = await recv(ws, type="error")
        assert err["code"] == "invalid_field"
    status, _ = await market.order("T1", price=61_000)
    assert status == 201


async def test_revoking_a_token_closes_that_participants_websockets(market: Market) -> None:
    async with connect(market.ws_url, additional_headers=market.h("T1")) as ws:
        await send(ws, op="subscribe", channels=["orders"])
        await recv(ws, type="subscribed")
        r = await market.client.delete("/api/v1/participants/T1/tokens",
                                       headers=market.h("operator"))
        assert r.status == 200
        with pytest.raises(ConnectionClosed) as closed:
            for _ in range(10):
                await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


@pytest.mark.parametrize("path", ["/api/v1/orders/%C2%B2", "/api/v1/orders/%D9%A3",
                                  "/api/v1/auctions/%C2%B2"])
async def test_path_ids_are_ascii_digits(market: Market, path: str) -> None:
    r = await market.client.get(path, headers=market.h("T1"))
    assert r.status == 404


async def test_bad_tokens_are_rate_limited_too(tmp_path) -> None:
    m = await start(settings(tmp_path, rate_per_s=0.001, rate_burst=3), seed=False)
    try:
        bad = {"Authorization": "Bearer not-a-token"}
        statuses = [(await m.client.get("/api/v1/balances", headers=bad)).status
                    for _ in range(4)]
        assert statuses == [401, 401, 401, 429]
    finally:
        await m.client.close()


async def test_a_body_that_is_not_json_is_415(market: Market) -> None:
    r = await market.client.post(
        "/api/v1/orders", data=b'{"symbol":"QUE-BARK-A","side":"buy","qty":1,"price":61000}',
        headers={**market.h("T1"), "Content-Type": "text/plain"})
    assert r.status == 415
    assert (await r.json())["type"].endswith("unsupported_media_type")


async def test_subscribing_to_an_unknown_auction_is_refused(market: Market) -> None:
    async with connect(market.ws_url) as ws:
        await send(ws, op="subscribe", channels=["auction:123456", f"book:{SYMBOL}"])
        err = await recv(ws, type="error")
        assert err["code"] == "unknown_auction"


async def test_websocket_connections_are_bounded(tmp_path) -> None:
    m = await start(settings(tmp_path, ws_max_per_peer=2), seed=False)
    try:
        async with connect(m.ws_url), connect(m.ws_url):
            with pytest.raises(Exception) as refused:
                async with connect(m.ws_url):
                    pass
            assert "429" in str(refused.value)
    finally:
        await m.client.close()


async def test_head_is_answered_on_get_endpoints(market: Market) -> None:
    r = await market.client.head("/api/v1/instruments")
    assert r.status == 200
