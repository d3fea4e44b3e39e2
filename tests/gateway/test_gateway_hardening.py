"""The gateway against abuse from outside (issue 8): subscription floods, stalled readers,
deeply nested frames, token guessing on the WebSocket, half-sent requests and connection floods.

Everything here goes through real sockets: the test server of conftest (WebSocket client of the
websockets library) or, for the connection guard, the server `herbx serve` runs.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from gateway.app import create_app
from gateway.connections import connection_cap
from gateway.serve import Running
from gateway.serve import start as start_serving
from tests.gateway.conftest import SYMBOL, Market, settings, start
from tests.gateway.wsclient import recv, send

BOOK = f"book:{SYMBOL}"
TRADES = f"trades:{SYMBOL}"


async def until_pong(ws: ClientConnection, req_id: int) -> list[dict[str, Any]]:
    """Every message up to the pong answering ``ping`` ``req_id`` (heartbeats left out): what
    the server sent in answer to the messages before the ping."""
    await send(ws, op="ping", req_id=req_id)
    seen = []
    async with asyncio.timeout(20):
        while True:
            msg = json.loads(await ws.recv())
            if msg.get("type") == "pong" and msg.get("req_id") == req_id:
                return seen
            if msg.get("type") != "heartbeat":
                seen.append(msg)


# -- item 4: subscription floods --------------------------------------------------------------


async def test_a_channel_held_or_named_twice_gives_one_snapshot(market: Market) -> None:
    async with connect(market.ws_url) as ws:
        await send(ws, op="subscribe", channels=[BOOK] * 5 + [TRADES, BOOK])
        got = await until_pong(ws, 1)
        assert [m["type"] for m in got] == ["snapshot", "subscribed"]
        assert got[1]["channels"] == [BOOK, TRADES]
        # subscribing again to what is held: acknowledged, no second snapshot
        await send(ws, op="subscribe", channels=[BOOK, BOOK])
        got = await until_pong(ws, 2)
        assert got == [{"type": "subscribed", "channels": [BOOK]}]
        # the subscription is still live: the next change arrives once
        await market.order("T1", price=60_000, qty=1)
        update = await recv(ws, channel=BOOK, type="update")
        assert update["bids"] == [[60_000, 1]]


async def test_a_message_naming_more_channels_than_the_cap_is_refused_whole(tmp_path) -> None:
    m = await start(settings(tmp_path, ws_max_subscriptions=4))
    try:
        async with connect(m.ws_url) as ws:
            await send(ws, op="subscribe", channels=[BOOK] * 850)
            got = await until_pong(ws, 1)
            assert [(e["type"], e["code"], e["status"]) for e in got] == [
                ("error", "too_many_channels", 422)]
            assert BOOK not in m.gw.hub.channels
            await send(ws, op="subscribe", channels=[BOOK, TRADES, "ticker", "auctions"])
            assert (await recv(ws, type="subscribed"))["channels"] == [
                BOOK, TRADES, "ticker", "auctions"]
    finally:
        await m.client.close()


async def test_refused_channels_come_back_in_one_error(market: Market) -> None:
    names = [f"book:NOPE{i}" for i in range(20)] + ["weather", "orders"]
    async with connect(market.ws_url) as ws:
        await send(ws, op="subscribe", channels=[BOOK, *names], req_id=7)
        got = await until_pong(ws, 1)
        errors = [e for e in got if e["type"] == "error"]
        assert len(errors) == 1
        err = errors[0]
        assert (err["code"], err["status"], err["req_id"]) == ("unknown_symbol", 404, 7)
        assert err["channels"] == {**{n: "unknown_symbol" for n in names[:20]},
                                   "weather": "unknown_channel", "orders": "unauthorized"}
        assert [e["channels"] for e in got if e["type"] == "subscribed"] == [[BOOK]]


async def test_a_message_pays_for_every_channel_it_names(tmp_path) -> None:
    m = await start(settings(tmp_path, rate_per_s=0.001, rate_burst=10))
    try:
        four = [BOOK, TRADES, "ticker", "auctions"]
        async with connect(m.ws_url) as ws:
            await send(ws, op="subscribe", channels=four)
            await recv(ws, type="subscribed")
            await send(ws, op="unsubscribe", channels=four)
            await recv(ws, type="unsubscribed")
            await send(ws, op="subscribe", channels=four, req_id=3)  # 8 of 10 spent: refused
            err = await recv(ws, type="error", req_id=3)
            assert (err["code"], err["status"]) == ("rate_limited", 429)
            assert await until_pong(ws, 4) == []  # one token left for a one-token message
            assert BOOK not in m.gw.hub.channels
    finally:
        await m.client.close()


# -- item 5: stalled readers, nesting, token guessing --------------------------------------------


async def test_a_stalled_reader_gets_its_1008_close_right_behind_what_is_in_flight(
    tmp_path,
) -> None:
    bound = 256 * 1024
    m = await start(settings(tmp_path, ws_send_buffer_bytes=bound))
    try:
        async with connect(m.ws_url, max_queue=1) as slow:
            await send(slow, op="subscribe", channels=[BOOK])
            await recv(slow, type="snapshot")
            await recv(slow, type="subscribed")
            # the reader stalls; the market keeps publishing until the server gives up on it
            padding = {"channel": BOOK, "type": "padding", "pad": "x" * 60_000}
            published = 0
            while BOOK in m.gw.hub.channels:
                m.gw.hub.publish([(("channel", BOOK), padding)])
                published += 1
                assert published < 5_000, "the stalled reader was never cut off"
            await asyncio.sleep(0.5)  # still stalled while the server closes
            received = 0
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    msg = json.loads(await asyncio.wait_for(slow.recv(), 20))
                    received += msg.get("type") == "padding"
        assert closed.value.rcvd is not None, "cut off without a close frame"
        assert closed.value.rcvd.code == 1008
        assert closed.value.rcvd.reason == "slow consumer: send buffer overflow"
        # what was queued past the transport (the bound's worth and more) was dropped, not
        # sent ahead of the close frame
        assert published - received >= bound // 60_000, (published, received)
    finally:
        await m.client.close()


def nested(depth: int) -> str:
    return '{"op": "ping", "x": ' + "[" * depth + "]" * depth + "}"


async def test_deeply_nested_frames_are_bad_messages_and_the_size_bound_holds(
    market: Market,
) -> None:
    async with connect(market.ws_url) as ws:
        await ws.send(nested(4_000))  # 8 KB: under the 16 KiB bound
        err = await recv(ws, type="error")
        assert err["code"] == "bad_message" and "nested" in err["detail"]
        assert await until_pong(ws, 1) == []  # the connection goes on
        await ws.send(nested(10_000))  # 20 KB: over the bound, closed before any parsing
        with pytest.raises(ConnectionClosed) as closed:
            await recv(ws, type="never")
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


async def test_bad_tokens_on_the_upgrade_share_the_rest_limit(tmp_path) -> None:
    m = await start(settings(tmp_path, rate_per_s=0.001, rate_burst=3), seed=False)
    try:
        bad = {"Authorization": "Bearer not-a-token"}
        statuses = [(await m.client.get("/api/v1/balances", headers=bad)).status
                    for _ in range(2)]
        for _ in range(2):
            with pytest.raises(InvalidStatus) as info:
                async with connect(m.ws_url, additional_headers=bad):
                    pass
            statuses.append(info.value.response.status_code)
        assert statuses == [401, 401, 401, 429]
        assert (await m.client.get("/api/v1/balances", headers=bad)).status == 429
    finally:
        await m.client.close()


async def test_bad_tokens_in_the_auth_op_share_the_rest_limit_and_end_the_stream(
    tmp_path,
) -> None:
    m = await start(settings(tmp_path, rate_per_s=0.001, rate_burst=4), seed=False)
    try:
        bad = {"Authorization": "Bearer not-a-token"}
        for _ in range(3):
            assert (await m.client.get("/api/v1/balances", headers=bad)).status == 401
        async with connect(m.ws_url) as ws:
            await send(ws, op="auth", token="not-a-token", req_id=1)  # the last token left
            err = await recv(ws, type="error", req_id=1)
            assert (err["code"], err["status"]) == ("rate_limited", 429)
            with pytest.raises(ConnectionClosed) as closed:
                await recv(ws, type="never")
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    finally:
        await m.client.close()


# -- item 6: half-sent requests, connection floods ----------------------------------------------


@asynccontextmanager
async def serving(tmp_path: Any, **over: Any) -> AsyncIterator[Running]:
    """The market as `herbx serve` listens: behind the connection guard, on a free port."""
    s = settings(tmp_path, port=0, **over)
    running = await start_serving(create_app(s), s)
    try:
        yield running
    finally:
        await running.stop()


Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def dial(srv: Running) -> Conn:
    return await asyncio.open_connection("127.0.0.1", srv.port)


async def get(conn: Conn, path: str = "/healthz") -> int:
    """One whole GET on a kept-alive connection; the response's status."""
    reader, writer = conn
    writer.write(f"GET {path} HTTP/1.1\r\nHost: herbx\r\n\r\n".encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
    assert length is not None, head
    await reader.readexactly(int(length.group(1)))
    return int(head.split(b" ", 2)[1])


async def until_closed(conn: Conn) -> bytes:
    """Everything the server sends until it closes the connection (a generous guard turns a
    connection left open into a failure)."""
    try:
        return await asyncio.wait_for(conn[0].read(), 10)
    except ConnectionResetError:
        return b""
    except TimeoutError:
        raise AssertionError("the server left the connection open") from None


def hang_up(conns: list[Conn]) -> None:
    for _, writer in conns:
        writer.close()


async def test_half_sent_requests_are_closed_after_the_header_timeout(tmp_path) -> None:
    async with serving(tmp_path, header_timeout_s=0.3, keepalive_timeout_s=30) as srv:
        silent = [await dial(srv) for _ in range(5)]  # connect, send nothing
        half = [await dial(srv) for _ in range(15)]
        for _, writer in half:
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: herbx\r\nX-Slow: 1")  # never ends
        kept = await dial(srv)
        assert await get(kept) == 200
        await asyncio.sleep(0.6)  # idle between requests: the keep-alive timeout's business
        assert await get(kept) == 200
        kept[1].write(b"GET /healthz HTTP/1.1\r\n")  # half of the next request
        async with connect(f"ws://127.0.0.1:{srv.port}/ws") as ws:
            await asyncio.sleep(0.6)  # a request being served is not timed by the guard
            assert await until_pong(ws, 1) == []
        for conn in [*silent, *half, kept]:
            assert await until_closed(conn) == b""
        assert srv.guard.timed_out == 21
        fresh = await dial(srv)
        assert await get(fresh) == 200
        hang_up([*silent, *half, kept, fresh])


async def test_an_idle_keep_alive_connection_is_closed(tmp_path) -> None:
    async with serving(tmp_path, keepalive_timeout_s=0.3) as srv:
        conn = await dial(srv)
        assert await get(conn) == 200
        assert await until_closed(conn) == b""
        hang_up([conn])


async def test_over_the_cap_new_connections_are_refused_and_the_open_ones_served(
    tmp_path,
) -> None:
    async with serving(tmp_path, max_connections=6, header_timeout_s=30) as srv:
        kept = await dial(srv)
        assert await get(kept) == 200
        held = [await dial(srv) for _ in range(5)]
        for _, writer in held:
            writer.write(b"GET /healthz HTTP/1.1\r\n")
        async with asyncio.timeout(10):
            while srv.guard.open < 6:  # the server has taken all six
                await asyncio.sleep(0.01)
        extra = [await dial(srv) for _ in range(10)]
        for conn in extra:
            answer = await until_closed(conn)
            assert answer.startswith(b"HTTP/1.1 503 "), answer
            assert b'"code":"too_many_connections"' in answer
        assert srv.guard.refused == 10
        assert await get(kept) == 200  # the server keeps serving the connections it has
        hang_up(held)
        async with asyncio.timeout(10):  # the closed ones free their places
            while (status := await get(conn := await dial(srv))) == 503:
                hang_up([conn])
        assert status == 200
        hang_up([kept, conn, *extra])


def test_the_connection_cap_stays_under_the_descriptor_limit() -> None:
    assert connection_cap(12_000, fd_soft_limit=1_024) == 768
    assert connection_cap(12_000, fd_soft_limit=300) == 150
    assert connection_cap(12_000, fd_soft_limit=1_048_576) == 12_000
    assert connection_cap(100, fd_soft_limit=20_000) == 100
