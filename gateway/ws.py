"""The WebSocket stream ``/ws``: subscriptions, snapshots, private order updates, order entry.

One `Client` per connection. Every message to it is a complete WebSocket frame, built once per
message (server frames are unmasked, so one frame serves every subscriber) and written to the
connection's transport without awaiting; the transport's write buffer is the connection's send
buffer, bounded in bytes. When a client lets it grow past the bound it is cut off with close
code 1008 and the reason ``slow consumer`` (it reconnects and resyncs from a snapshot), so a
slow reader never delays the sequencer or anyone else. (docs/benchmarks.md: awaiting each
client's send is what made aiohttp's fan-out slow; this is the websockets library's
``broadcast`` discipline on aiohttp's server.) Limits: message size (aiohttp closes
with 1009 above it), subscriptions per connection, the rate limit per participant or address.

Protocol (JSON text frames; see docs/api.md): ``auth``, ``subscribe``, ``unsubscribe``,
``snapshot`` (re-request a book after a gap), ``order``, ``cancel``, ``replace``, ``bid``,
``dutch_buy``, ``ping``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import msgspec
from aiohttp import WSCloseCode, WSMsgType, web

from gateway import api_orders
from gateway.auth import Participant
from gateway.bounds import Int
from gateway.fanout import encode, text_frame
from gateway.http import authenticate
from gateway.problems import Problem
from gateway.schemas import OrderRequest, ReplaceRequest
from gateway.state import GATEWAY, Gateway
from gateway.wire import now_iso

log = logging.getLogger("herbx.ws")

SLOW_CONSUMER = 1008  # policy violation: the client did not keep up
POLICY_VIOLATION = 1008  # also: the token the session rests on was revoked
GOING_AWAY = 1001
PRIVATE = "orders"


class Op(msgspec.Struct, kw_only=True):
    op: str
    req_id: Int | str | None = None


class AuthOp(msgspec.Struct, kw_only=True):
    token: str


class SubscribeOp(msgspec.Struct, kw_only=True):
    channels: list[str]


class SnapshotOp(msgspec.Struct, kw_only=True):
    channel: str


class OrderIdOp(msgspec.Struct, kw_only=True):
    order_id: Int


_decode_op = msgspec.json.Decoder(Op).decode


class Client:
    def __init__(self, gw: Gateway, ws: web.WebSocketResponse, peer: str) -> None:
        self.gw = gw
        self.ws = ws
        self.peer = peer
        self.who: Participant | None = None
        self.channels: dict[str, None] = {}
        self.transport: asyncio.Transport | None = None  # set once the upgrade is done
        self._limit = gw.settings.ws_send_buffer_bytes
        self.closing = False
        self.close_task: asyncio.Task[None] | None = None
        self.inflight: set[asyncio.Task[None]] = set()

    # -- sending --------------------------------------------------------------------------------

    def push(self, frame: bytes) -> None:
        """Write one ready-made frame without awaiting. The transport's write buffer is the
        connection's send buffer: over the limit, the client is cut off instead."""
        if self.closing:
            return
        transport = self.transport
        if transport is None or transport.is_closing():
            self.closing = True
            return
        if transport.get_write_buffer_size() > self._limit:
            self.cut_off(SLOW_CONSUMER, "slow consumer: send buffer overflow")
            return
        transport.write(frame)

    def send(self, msg: dict[str, Any]) -> None:
        self.push(text_frame(encode(msg)))

    def cut_off(self, code: int, reason: str) -> None:
        """Stop sending, forget the subscriptions, close with ``code`` and ``reason`` (after
        what is buffered; a client that does not drain within the timeout is aborted)."""
        if self.closing:
            return
        self.closing = True
        self.detach()
        self.close_task = asyncio.create_task(self._close(code, reason))

    async def _close(self, code: int, reason: str) -> None:
        try:
            async with asyncio.timeout(5.0):
                await self.ws.close(code=code, message=reason.encode())
        except (TimeoutError, ConnectionError):
            if self.transport is not None:
                self.transport.abort()

    def detach(self) -> None:
        hub = self.gw.hub
        for ch in self.channels:
            hub.unsubscribe(ch, self)
        self.channels.clear()
        if self.who is not None:
            hub.unfollow_account(self.who.id, self)

    # -- receiving ------------------------------------------------------------------------------

    def error(self, code: str, detail: str, req_id: Any = None, status: int | None = None) -> None:
        msg: dict[str, Any] = {"type": "error", "code": code, "detail": detail}
        if req_id is not None:
            msg["req_id"] = req_id
        if status is not None:
            msg["status"] = status
        self.send(msg)

    async def handle(self, data: str) -> None:
        try:
            op = _decode_op(data)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            self.error("bad_message", str(exc))
            return
        wait = self.gw.limiter.take(self.who.id if self.who else f"ip:{self.peer}")
        if wait > 0:
            self.error("rate_limited", f"retry after {wait:.3f} s", op.req_id, 429)
            return
        handler = _OPS.get(op.op)
        if handler is None:
            self.error("unknown_op", f"unknown op {op.op!r}", op.req_id)
            return
        if op.op in _ENGINE_OPS:
            # Orders wait for the group commit; run them side by side so that one connection
            # can keep many in flight (answers carry req_id and may come in any order).
            if len(self.inflight) >= self.gw.settings.ws_max_inflight:
                self.error("too_many_in_flight", "wait for answers before sending more",
                           op.req_id, 429)
                return
            task = asyncio.create_task(self._run(handler, data, op))
            self.inflight.add(task)
            task.add_done_callback(self.inflight.discard)
            return
        await self._run(handler, data, op)

    async def _run(self, handler: Any, data: str, op: Op) -> None:
        try:
            await handler(self, data, op)
        except Problem as exc:
            self.error(exc.code, exc.detail, op.req_id, exc.status)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            self.error("invalid_field", str(exc), op.req_id, 422)

    def subscribe(self, channel: str) -> None:
        gw = self.gw
        kind, _, name = channel.partition(":")
        if channel == PRIVATE:
            if self.who is None:
                raise Problem(401, "unauthorized", "authenticate first (header or auth op)")
            if self.who.role not in ("trader", "cooperative"):
                raise Problem(403, "forbidden", "the orders channel needs a trader or "
                              "cooperative token")
        elif kind in ("book", "trades"):
            if name not in gw.market.books:
                raise Problem(404, "unknown_symbol", f"no instrument {name!r}")
        elif kind == "auction":
            if not (name.isascii() and name.isdigit() and len(name) <= 18
                    and int(name) in gw.auctions.auctions):
                raise Problem(404, "unknown_auction", f"no auction {name!r}")
        elif channel not in ("ticker", "auctions"):
            raise Problem(404, "unknown_channel", f"no channel {channel!r}")
        if channel not in self.channels and len(self.channels) >= gw.settings.ws_max_subscriptions:
            raise Problem(429, "too_many_subscriptions",
                          f"at most {gw.settings.ws_max_subscriptions} channels per connection")
        if channel == PRIVATE:
            assert self.who is not None
            gw.hub.follow_account(self.who.id, self)
        else:
            gw.hub.subscribe(channel, self)
        self.channels[channel] = None
        if kind == "book":
            # Taken from the published mirror in the same loop step as the subscription, so
            # the next update this client gets is exactly seq + 1.
            self.send(gw.market.books[name].snapshot(1 << 30))

    def unsubscribe(self, channel: str) -> None:
        if channel not in self.channels:
            return
        del self.channels[channel]
        if channel == PRIVATE and self.who is not None:
            self.gw.hub.unfollow_account(self.who.id, self)
        else:
            self.gw.hub.unsubscribe(channel, self)

    def heartbeat(self) -> None:
        seqs = {ch: self.gw.market.seq_of(ch) for ch in self.channels if ch != PRIVATE}
        self.send({"type": "heartbeat", "ts": now_iso(), "seqs": seqs})


# -- ops ------------------------------------------------------------------------------------------


async def op_auth(c: Client, data: str, op: Op) -> None:
    token = msgspec.json.decode(data, type=AuthOp).token
    who = c.gw.registry.authenticate(token)
    if who is None:
        raise Problem(401, "unauthorized", "unknown or revoked token")
    if c.who is not None and c.who.id != who.id:
        c.unsubscribe(PRIVATE)
    c.who = who
    c.send({"type": "authenticated", "participant": who.id, "role": who.role,
            **({"req_id": op.req_id} if op.req_id is not None else {})})


async def op_subscribe(c: Client, data: str, op: Op) -> None:
    channels = msgspec.json.decode(data, type=SubscribeOp).channels
    done = []
    for ch in channels:
        try:
            c.subscribe(ch)
            done.append(ch)
        except Problem as exc:
            c.error(exc.code, exc.detail, op.req_id, exc.status)
    if done:
        c.send({"type": "subscribed", "channels": done})


async def op_unsubscribe(c: Client, data: str, op: Op) -> None:
    channels = msgspec.json.decode(data, type=SubscribeOp).channels
    for ch in channels:
        c.unsubscribe(ch)
    c.send({"type": "unsubscribed", "channels": channels})


async def op_snapshot(c: Client, data: str, op: Op) -> None:
    channel = msgspec.json.decode(data, type=SnapshotOp).channel
    kind, _, name = channel.partition(":")
    if kind != "book" or name not in c.gw.market.books:
        raise Problem(404, "unknown_channel", f"no book channel {channel!r}")
    if channel not in c.channels:
        c.subscribe(channel)  # sends the snapshot
    else:
        c.send(c.gw.market.books[name].snapshot(1 << 30))


def _trader(c: Client) -> Participant:
    if c.who is None:
        raise Problem(401, "unauthorized", "authenticate first")
    if c.who.role not in ("trader", "cooperative"):
        raise Problem(403, "forbidden", f"role {c.who.role} may not trade")
    return c.who


def _result(c: Client, op: Op, status: int, body: Any) -> None:
    c.send({"type": "result", "req_id": op.req_id, "status": status,
            "body": msgspec.to_builtins(body)})


async def op_order(c: Client, data: str, op: Op) -> None:
    who = _trader(c)
    raw = msgspec.json.decode(data)
    raw.pop("op", None)
    raw.pop("req_id", None)
    req = msgspec.convert(raw, OrderRequest)
    status, result = await api_orders.place(c.gw, who, req)
    _result(c, op, status, result)


async def op_cancel(c: Client, data: str, op: Op) -> None:
    who = _trader(c)
    order_id = msgspec.json.decode(data, type=OrderIdOp).order_id
    _result(c, op, 200, await api_orders.cancel(c.gw, who, order_id))


async def op_replace(c: Client, data: str, op: Op) -> None:
    who = _trader(c)
    raw = msgspec.json.decode(data)
    order_id = msgspec.convert(raw, OrderIdOp).order_id
    req = msgspec.convert({k: v for k, v in raw.items() if k in ("qty", "price")}, ReplaceRequest)
    _result(c, op, 200, await api_orders.replace(c.gw, who, order_id, req))


class AuctionOp(msgspec.Struct, kw_only=True):
    auction_id: Int
    price: Int
    qty: Int = 0


async def op_bid(c: Client, data: str, op: Op) -> None:
    from gateway.api_auctions import BidRequest, bid

    who = _trader(c)
    a = msgspec.json.decode(data, type=AuctionOp)
    _result(c, op, 201, await bid(c.gw, who, a.auction_id, BidRequest(price=a.price)))


async def op_dutch_buy(c: Client, data: str, op: Op) -> None:
    from gateway.api_auctions import DutchBuyRequest, dutch_buy

    who = _trader(c)
    a = msgspec.json.decode(data, type=AuctionOp)
    _result(c, op, 201, await dutch_buy(c.gw, who, a.auction_id,
                                        DutchBuyRequest(price=a.price, qty=a.qty)))


async def op_ping(c: Client, data: str, op: Op) -> None:
    c.send({"type": "pong", "ts": now_iso(), **({"req_id": op.req_id} if op.req_id else {})})


_ENGINE_OPS = frozenset({"order", "cancel", "replace", "bid", "dutch_buy"})
_OPS = {
    "auth": op_auth, "subscribe": op_subscribe, "unsubscribe": op_unsubscribe,
    "snapshot": op_snapshot, "order": op_order, "cancel": op_cancel, "replace": op_replace,
    "ping": op_ping, "bid": op_bid, "dutch_buy": op_dutch_buy,
}


async def ws_handler(request: web.Request) -> web.StreamResponse:
    gw = request.app[GATEWAY]
    if gw.closing:
        raise Problem(503, "shutting_down", "the server is shutting down",
                      headers={"Retry-After": str(gw.settings.retry_after_s)})
    who = authenticate(gw, request)  # 401 before the upgrade for a bad header token
    s = gw.settings
    if len(gw.clients) >= s.ws_max_connections:
        raise Problem(503, "too_many_connections", f"at most {s.ws_max_connections} streams",
                      headers={"Retry-After": str(s.retry_after_s)})
    peer = request.remote or "?"
    if sum(1 for c in gw.clients if c.peer == peer) >= s.ws_max_per_peer:
        raise Problem(429, "too_many_connections",
                      f"at most {s.ws_max_per_peer} streams from one address",
                      headers={"Retry-After": str(s.retry_after_s)})
    ws = web.WebSocketResponse(max_msg_size=gw.settings.ws_max_msg_bytes, autoping=True,
                               compress=False)
    await ws.prepare(request)
    client = Client(gw, ws, peer)
    client.transport = request.transport
    client.who = who
    gw.clients[client] = None
    try:
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                await client.handle(msg.data)
            elif msg.type == WSMsgType.BINARY:
                client.error("bad_message", "send JSON text frames")
            if client.closing:
                break
    finally:
        gw.clients.pop(client, None)
        client.detach()
        client.closing = True
        for task in list(client.inflight):  # queued commands still run; nobody hears back
            task.cancel()
        for task in list(client.inflight):
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await task
        if client.close_task is not None:
            await client.close_task
        elif not ws.closed:
            await ws.close(code=WSCloseCode.GOING_AWAY if gw.closing else WSCloseCode.OK)
    return ws
