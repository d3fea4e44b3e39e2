"""The WebSocket stream ``/ws``: subscriptions, snapshots, private order updates, order entry.

One `Client` per connection. Every message to it is a complete WebSocket frame, built once per
message (server frames are unmasked, so one frame serves every subscriber) and written to the
connection's transport without awaiting while the transport keeps up. Behind a reader that
does not, frames wait in the client's own backlog (a per-client task feeds them to the
transport as it drains); the backlog is the connection's send buffer, bounded in bytes. When a
client lets it grow past the bound, the backlog is dropped and the client is closed with code
1008 and the reason ``slow consumer`` (it reconnects and resyncs from a snapshot): the close
frame follows what is already in flight, so even a reader that stalled for seconds reads it,
and a slow reader never delays the sequencer or anyone else. (docs/benchmarks.md: awaiting each
client's send is what made aiohttp's fan-out slow; this is the websockets library's
``broadcast`` discipline on aiohttp's server.) Limits: message size (aiohttp closes with 1009
above it), JSON nesting (``bad_message``), subscriptions per connection, channels per message,
the rate limit per participant or address, charged per channel a message names; failed token
attempts are charged to the address like REST's.

Protocol (JSON text frames; see docs/api.md): ``auth``, ``subscribe``, ``unsubscribe``,
``snapshot`` (re-request a book after a gap), ``order``, ``cancel``, ``replace``, ``bid``,
``dutch_buy``, ``ping``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import Any, TypeVar

import msgspec
from aiohttp import WSCloseCode, WSMsgType, web
from aiohttp.abc import AbstractStreamWriter

from engine.messages import Id, Qty, Vnd
from gateway.api import orders as api_orders
from gateway.api.bounds import Int
from gateway.api.http import authenticate, integral_floats, rate_limit, refuse_duplicate_keys
from gateway.api.problems import Problem
from gateway.api.schemas import OrderRequest, ReplaceRequest
from gateway.auth import Participant
from gateway.state import GATEWAY, Gateway
from gateway.stream.bars import known_bars_channel
from gateway.stream.fanout import encode, text_frame
from gateway.stream.wire import now_iso

log = logging.getLogger("herbx.ws")
T = TypeVar("T")

SLOW_CONSUMER = 1008  # policy violation: the client did not keep up
POLICY_VIOLATION = 1008  # also: the token the session rests on was revoked
GOING_AWAY = 1001
PRIVATE = "orders"


class Op(msgspec.Struct, kw_only=True):
    op: str
    req_id: Int | str | None = None
    # decoded with the envelope so that a message is charged for the channels it names before
    # any of them is looked at; its shape is checked by the op (422 invalid_field)
    channels: Any = None


class AuthOp(msgspec.Struct, kw_only=True):
    token: str


class SnapshotOp(msgspec.Struct, kw_only=True):
    channel: str


class OrderIdOp(msgspec.Struct, kw_only=True):
    order_id: Id


_decode_op = msgspec.json.Decoder(Op).decode
#: msgspec raises RecursionError on JSON nested deeper than the interpreter's recursion limit
_UNDECODABLE = (msgspec.ValidationError, msgspec.DecodeError, RecursionError)


class Client:
    def __init__(self, gw: Gateway, ws: web.WebSocketResponse, peer: str) -> None:
        self.gw = gw
        self.ws = ws
        self.peer = peer
        self.who: Participant | None = None
        self.channels: dict[str, None] = {}
        self.transport: asyncio.Transport | None = None  # set once the upgrade is done
        self.writer: AbstractStreamWriter | None = None  # its drain() waits for the transport
        self._limit = gw.settings.ws_send_buffer_bytes
        self._high = 64 * 1024  # the transport's high-water mark, read at the upgrade
        self.backlog: deque[bytes] = deque()  # frames the transport could not take yet
        self.backlog_bytes = 0
        self.flusher: asyncio.Task[None] | None = None
        self.closing = False
        self.close_task: asyncio.Task[None] | None = None
        self.inflight: set[asyncio.Task[None]] = set()

    def attach(self, transport: asyncio.Transport, writer: AbstractStreamWriter) -> None:
        self.transport = transport
        self.writer = writer
        self._high = transport.get_write_buffer_limits()[1]

    # -- sending --------------------------------------------------------------------------------

    def push(self, frame: bytes) -> None:
        """Send one ready-made frame without awaiting: straight to the transport while it keeps
        up, else into the backlog. Over the backlog's bound, the client is cut off instead."""
        if self.closing:
            return
        transport = self.transport
        if transport is None or transport.is_closing():
            self.closing = True
            return
        if not self.backlog and transport.get_write_buffer_size() <= self._high:
            transport.write(frame)
            return
        self.backlog.append(frame)
        self.backlog_bytes += len(frame)
        if self.backlog_bytes > self._limit:
            self.cut_off(SLOW_CONSUMER, "slow consumer: send buffer overflow")
        elif self.flusher is None:
            self.flusher = asyncio.create_task(self._flush())

    def push_many(self, frames: list[bytes]) -> None:
        """Send ready-made frames, in order, exactly as `push` would one by one, but with one
        transport write when they all fit under the transport's high-water mark (the common
        case: the reader keeps up). Otherwise they go through `push` one at a time, so the
        backlog, its bound and the slow-consumer cut-off behave frame by frame as before."""
        if len(frames) == 1:
            self.push(frames[0])
            return
        transport = self.transport
        if (not self.closing and not self.backlog and transport is not None
                and not transport.is_closing()):
            data = b"".join(frames)
            # frame by frame, each write would find the buffer at most this full
            if transport.get_write_buffer_size() + len(data) <= self._high:
                transport.write(data)
                return
        for frame in frames:
            self.push(frame)

    async def _flush(self) -> None:
        """Feed the backlog to the transport as the reader drains it (this client only)."""
        try:
            while self.backlog and not self.closing:
                transport, writer = self.transport, self.writer
                if transport is None or writer is None or transport.is_closing():
                    return
                if transport.get_write_buffer_size() > self._high:
                    await writer.drain()  # returns when the transport is below its low water
                    if transport.get_write_buffer_size() > self._high:
                        await asyncio.sleep(0.01)  # not paused after all: do not spin
                    continue
                while self.backlog and transport.get_write_buffer_size() <= self._high:
                    frame = self.backlog.popleft()
                    self.backlog_bytes -= len(frame)
                    transport.write(frame)
        except ConnectionError:
            self.closing = True
        finally:
            self.flusher = None

    def send(self, msg: dict[str, Any]) -> None:
        self.push(text_frame(encode(msg)))

    def cut_off(self, code: int, reason: str, timeout_s: float | None = None) -> None:
        """Stop sending, drop the backlog, forget the subscriptions, close with ``code`` and
        ``reason``. The close frame goes right behind what the transport already holds (at
        most its high-water mark), so a reader that resumes gets it after a short read; one that
        does not answer the close within ``timeout_s`` (default ``ws_close_timeout_s``) is
        aborted."""
        if self.closing:
            return
        self.closing = True
        self.backlog.clear()
        self.backlog_bytes = 0
        if self.flusher is not None:
            self.flusher.cancel()
        self.detach()
        timeout = self.gw.settings.ws_close_timeout_s if timeout_s is None else timeout_s
        self.close_task = asyncio.create_task(self._close(code, reason, timeout))

    async def _close(self, code: int, reason: str, timeout_s: float) -> None:
        transport = self.transport
        try:
            async with asyncio.timeout(timeout_s):
                # aiohttp writes the close frame, then waits for the client's reply or (when
                # this connection's handler is reading) closes the transport, which sends what
                # is buffered first: wait for that to reach the socket
                await self.ws.close(code=code, message=reason.encode(), drain=False)
                while transport is not None and transport.get_write_buffer_size():
                    await asyncio.sleep(0.05)
        except (TimeoutError, ConnectionError):
            pass
        if transport is not None and transport.get_write_buffer_size():
            transport.abort()  # the client never read up to the close frame: free the socket

    def detach(self) -> None:
        hub = self.gw.hub
        for ch in self.channels:
            hub.unsubscribe(ch, self)
        self.channels.clear()
        if self.who is not None:
            hub.unfollow_account(self.who.id, self)

    # -- receiving ------------------------------------------------------------------------------

    def error(self, code: str, detail: str, req_id: Any = None, status: int | None = None,
              **extra: Any) -> None:
        msg: dict[str, Any] = {"type": "error", "code": code, "detail": detail}
        if req_id is not None:
            msg["req_id"] = req_id
        if status is not None:
            msg["status"] = status
        msg.update(extra)
        self.send(msg)

    def cost(self, op: Op) -> int:
        """Tokens a message costs: one, or one per channel it names (a message naming more than
        the cap is refused unread, so it costs the cap and one)."""
        if not isinstance(op.channels, list):
            return 1
        return max(1, min(len(op.channels), self.gw.settings.ws_max_subscriptions + 1))

    async def handle(self, data: str) -> None:
        try:
            op = _decode_op(data)
        except _UNDECODABLE as exc:
            self.error("bad_message", _undecodable(exc))
            return
        wait = self.gw.limiter.take(self.who.id if self.who else f"ip:{self.peer}", self.cost(op))
        if wait > 0:
            self.error("rate_limited", f"retry after {wait:.3f} s", op.req_id, 429)
            if op.op == "auth":  # token guessing: no second chance on this connection
                self.cut_off(POLICY_VIOLATION, "too many token attempts")
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
            if op.op in _ENGINE_OPS:
                refuse_duplicate_keys(data)  # as REST: {"qty": 1, "qty": 1000} is refused
            await handler(self, data, op)
        except Problem as exc:
            self.error(exc.code, exc.detail, op.req_id, exc.status)
        except _UNDECODABLE as exc:
            self.error("invalid_field", _undecodable(exc), op.req_id, 422)

    def subscribe(self, channel: str) -> None:
        """Subscribe (a book's snapshot follows); a channel already held is left as it is."""
        if channel in self.channels:
            return
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
        elif kind == "bars":
            if not known_bars_channel(name, gw.market.books):
                raise Problem(404, "unknown_channel", f"no channel {channel!r} (bars:<symbol>:"
                              "<1m|5m|1h|1d> of a listed instrument)")
        elif channel not in ("ticker", "auctions"):
            raise Problem(404, "unknown_channel", f"no channel {channel!r}")
        if len(self.channels) >= gw.settings.ws_max_subscriptions:
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

    def heartbeat(self, frames: dict[tuple[str, ...], bytes] | None = None,
                  ts: str | None = None) -> None:
        """``frames``: heartbeats already built in this round, by channel list; clients that
        follow the same channels get the same frame (one encoding, not one per client)."""
        key = tuple(self.channels)
        frame = None if frames is None else frames.get(key)
        if frame is None:
            seqs = {ch: self.gw.market.seq_of(ch) for ch in key if ch != PRIVATE}
            frame = text_frame(encode({"type": "heartbeat", "ts": ts or now_iso(),
                                       "seqs": seqs}))
            if frames is not None:
                frames[key] = frame
        self.push(frame)


def _undecodable(exc: Exception) -> str:
    return "JSON nested too deeply" if isinstance(exc, RecursionError) else str(exc)


# -- ops ------------------------------------------------------------------------------------------


async def op_auth(c: Client, data: str, op: Op) -> None:
    token = msgspec.json.decode(data, type=AuthOp).token
    who = c.gw.registry.authenticate(token)
    if who is None:
        # charged to the address as a bad REST token is (same limiter, same key), on top of
        # the message itself: a failed `auth` costs an anonymous connection two tokens, so
        # guessing through the WebSocket is never cheaper than through REST
        if c.gw.limiter.take(f"ip:{c.peer}") > 0:
            c.error("rate_limited", "too many failed token attempts", op.req_id, 429)
            c.cut_off(POLICY_VIOLATION, "too many failed token attempts")
            return
        raise Problem(401, "unauthorized", "unknown or revoked token")
    if c.who is not None and c.who.id != who.id:
        c.unsubscribe(PRIVATE)
    c.who = who
    c.send({"type": "authenticated", "participant": who.id, "role": who.role,
            **({"req_id": op.req_id} if op.req_id is not None else {})})


def _channels(c: Client, op: Op) -> list[str]:
    """The distinct channels a message names, in order; refused whole (one error, nothing
    looked up) when it names more than a connection may hold."""
    if op.channels is None:
        raise Problem(422, "invalid_field", "Object missing required field `channels`")
    names = msgspec.convert(op.channels, list[str])
    cap = c.gw.settings.ws_max_subscriptions
    if len(names) > cap:
        raise Problem(422, "too_many_channels",
                      f"a message may name at most {cap} channels, not {len(names)}")
    return list(dict.fromkeys(names))


async def op_subscribe(c: Client, data: str, op: Op) -> None:
    done: list[str] = []
    refused: dict[str, Problem] = {}
    for ch in _channels(c, op):
        try:
            c.subscribe(ch)
            done.append(ch)
        except Problem as exc:
            refused[ch] = exc
    if refused:  # one error per message, naming every refused channel and why
        first = next(iter(refused.values()))
        more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
        c.error(first.code, first.detail + more, op.req_id, first.status,
                channels={ch: exc.code for ch, exc in refused.items()})
    if done:
        c.send({"type": "subscribed", "channels": done})


async def op_unsubscribe(c: Client, data: str, op: Op) -> None:
    channels = _channels(c, op)
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


def _convert(raw: Any, typ: type[T]) -> T:
    """``raw`` as ``typ``; on a float where an integer goes, once more with integral floats read
    as integers (65500.0 is 65500, as over REST), so the common case converts once."""
    try:
        return msgspec.convert(raw, typ)
    except msgspec.ValidationError as exc:
        fixed, changed = integral_floats(raw)
        if not changed or "got `float`" not in str(exc):
            raise
        return msgspec.convert(fixed, typ)


async def op_order(c: Client, data: str, op: Op) -> None:
    who = _trader(c)
    raw = msgspec.json.decode(data)
    raw.pop("op", None)
    raw.pop("req_id", None)
    req = _convert(raw, OrderRequest)
    status, result = await api_orders.place(c.gw, who, req)
    _result(c, op, status, result)


async def op_cancel(c: Client, data: str, op: Op) -> None:
    who = _trader(c)
    order_id = msgspec.json.decode(data, type=OrderIdOp).order_id
    _result(c, op, 200, await api_orders.cancel(c.gw, who, order_id))


async def op_replace(c: Client, data: str, op: Op) -> None:
    who = _trader(c)
    raw = msgspec.json.decode(data)
    order_id = _convert(raw, OrderIdOp).order_id
    req = _convert({k: v for k, v in raw.items() if k in ("qty", "price")}, ReplaceRequest)
    _result(c, op, 200, await api_orders.replace(c.gw, who, order_id, req))


class AuctionOp(msgspec.Struct, kw_only=True):
    auction_id: Id
    price: Vnd
    qty: Qty = 0


async def op_bid(c: Client, data: str, op: Op) -> None:
    from gateway.api.auctions import BidRequest, bid

    who = _trader(c)
    a = msgspec.json.decode(data, type=AuctionOp)
    _result(c, op, 201, await bid(c.gw, who, a.auction_id, BidRequest(price=a.price)))


async def op_dutch_buy(c: Client, data: str, op: Op) -> None:
    from gateway.api.auctions import DutchBuyRequest, dutch_buy

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
    try:
        who = authenticate(gw, request)  # 401 before the upgrade for a bad header token
    except Problem:
        rate_limit(gw, f"ip:{request.remote}")  # charged as REST charges it: 429 when spent
        raise
    s = gw.settings
    if len(gw.clients) >= s.ws_max_connections:
        raise Problem(503, "too_many_connections", f"at most {s.ws_max_connections} streams",
                      headers={"Retry-After": str(s.retry_after_s)})
    peer = request.remote or "?"
    if sum(1 for c in gw.clients if c.peer == peer) >= s.ws_max_per_peer:
        raise Problem(429, "too_many_connections",
                      f"at most {s.ws_max_per_peer} streams from one address",
                      headers={"Retry-After": str(s.retry_after_s)})
    ws = web.WebSocketResponse(max_msg_size=s.ws_max_msg_bytes, autoping=True, compress=False,
                               timeout=s.ws_close_timeout_s)
    writer = await ws.prepare(request)
    client = Client(gw, ws, peer)
    assert request.transport is not None
    client.attach(request.transport, writer)
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
        if client.flusher is not None:
            client.flusher.cancel()
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
