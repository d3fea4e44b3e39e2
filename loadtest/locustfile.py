"""Locust users of the HerbX load test: the real mix of a market day (`herbx loadtest`).

Run by `loadtest.run` as its own process (locust runs on gevent, the market on asyncio: the two
never share a process). Everything a user needs — server addresses, its participant and token,
the traded symbols and their fair prices, assay figures — comes from the JSON file named by
``HERBX_LOAD_CONFIG``, written by `loadtest.run` after it created the load participants through
the API, so load users never act as a demo bot's account.

User classes (weights give the mix; see docs/loadtest.md):

- `Trader`: REST order entry (limit GTC near the touch, IOC crossing it, now and then an
  identical resend that must be answered with the original order), cancels, own orders and
  balances (it sells what it bought); one WebSocket per user on its home book and trades.
- `Bidder`: watches the live auctions; bursts of bids in the last seconds of English auctions,
  stops the Dutch clock when the price reaches its valuation.
- `Cooperative`: sells from its lots on the book, registers new lots, reads its statement
  (balances, fills, lots, and any statement endpoint the served OpenAPI document lists).
- `Analyst`: tape, tickers, depth, closed auctions, and whatever bars/indices/export endpoints
  the served OpenAPI document lists (they land with later issues).
- `Auctioneer` (one): keeps one English and one Dutch auction of load lots running, each lot
  brought through register → assay → receive first.

WebSocket: each trader's feed is a greenlet of its own on a gevent socket, with no reader
thread (the threaded `websockets.sync.client` spent more of locust's CPU handing each message
from its thread to the reader than on the message; the asyncio client would need an event loop
inside gevent): an RFC 6455 upgrade checked with websockets' `accept_key`, the server's frames
cut from the stream by `loadtest.frames.cut_frames`, and each text frame decoded by msgspec
into a small struct of the fields the user reads. Its messages go into locust's statistics:
request type ``WS`` for connect and subscribe (latency = time to the answer), type ``FEED`` for book
updates and trades, whose response time is the feed latency: receive time minus the server's
``ts`` (the sequencer's stamp of the change; clocks are one machine's, resolution 1 ms). Each
user keeps its book from the snapshot and updates (`loadtest.watch.WatchedBook`): a sequence
gap or a checksum mismatch is a failure.

A refusal the load provokes on purpose (a bid overtaken, a stale Dutch price, a cancel racing
a fill) is a success of its request and is counted as type ``REFUSED`` with its code; every
other 4xx/5xx is a failure.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import random
import socket
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import gevent  # type: ignore[import-untyped]
import msgspec
from locust import FastHttpUser, between, constant_pacing, task
from locust.env import Environment
from websockets.frames import Frame, Opcode
from websockets.uri import parse_uri
from websockets.utils import accept_key, generate_key

from loadtest.frames import CLOSE, FIN, PING, PONG, TEXT, ProtocolError, cut_frames
from loadtest.watch import WatchedBook

if "HERBX_LOAD_CONFIG" not in os.environ:  # the users need the participants run.py created
    raise SystemExit("loadtest/locustfile.py is run by `herbx loadtest`, which seeds the market "
                     "and names its config in HERBX_LOAD_CONFIG")
CONFIG: dict[str, Any] = json.loads(Path(os.environ["HERBX_LOAD_CONFIG"]).read_text())
_ids = itertools.count(1)
_slots: dict[str, itertools.count[int]] = {}
_slots_lock = threading.Lock()
ORDERS = "/api/v1/orders"
_decode_json = msgspec.json.decode


def _next_slot(kind: str) -> int:
    """Users of a kind take participants in turn (several users may share one)."""
    with _slots_lock:
        return next(_slots.setdefault(kind, itertools.count()))


def _cid(prefix: str) -> str:
    return f"{prefix}{os.getpid()}-{next(_ids)}"


def _iso_ms(text: str) -> float:
    return datetime.fromisoformat(text).timestamp() * 1000


def _refused(env: Any, code: str) -> None:
    env.events.request.fire(request_type="REFUSED", name=code, response_time=0,
                            response_length=0, exception=None, context={})


class MarketUser(FastHttpUser):
    """A participant of the load run: its token on every request (the rate limit is per
    token), answers checked, deliberate refusals counted apart."""

    abstract = True
    kind = ""
    wait_time = between(0.25, 0.75)

    def __init__(self, environment: Environment) -> None:
        slot = _next_slot(self.kind)
        hosts = CONFIG["hosts"]
        self.host = hosts[slot % len(hosts)]  # users spread over the gateways
        super().__init__(environment)
        # the market sets no cookies (bearer tokens): skip the cookie jar's work per request
        self.client.client.cookiejar = None
        people = CONFIG[self.kind]
        self.me: dict[str, Any] = people[slot % len(people)]
        self.h = {"Authorization": f"Bearer {self.me['token']}"}
        self.rng = random.Random(f"{os.getpid()}-{self.kind}-{slot}")
        self.symbols: list[dict[str, Any]] = CONFIG["symbols"]
        self.home = self.symbols[slot % len(self.symbols)]

    def call(self, method: str, path: str, name: str, body: Any = None,
             expected: frozenset[str] = frozenset(), ok: tuple[int, ...] = (200, 201)) -> Any:
        """The parsed JSON body of a success (a CSV or Parquet body: its length in bytes, read
        whole); None for a refusal, counted as a deliberate refusal when its code is in
        ``expected`` and as a failure otherwise."""
        with self.client.request(method, path, json=body, headers=self.h, name=name,
                                 catch_response=True) as r:
            if r.status_code in ok:
                r.success()
                if "json" not in (r.headers.get("Content-Type") or ""):
                    return len(r.content or b"")
                return _decode_json(r.content)  # msgspec: the stdlib's json.loads cost more
            try:
                problem = r.json()
                code = str(problem.get("code", ""))
            except Exception:
                problem, code = r.text, ""
            if code in expected:
                r.success()
                _refused(self.environment, code)
            else:
                r.failure(f"{r.status_code} {code or problem}")
            return None

    def book(self, symbol: str) -> tuple[int | None, int | None]:
        b = self.call("GET", f"/api/v1/instruments/{symbol}/book?depth=1",
                      "GET /api/v1/instruments/[symbol]/book")
        if not b:
            return None, None
        return (b["bids"][0][0] if b["bids"] else None), (b["asks"][0][0] if b["asks"] else None)

    def in_band(self, sym: dict[str, Any], price: int) -> int:
        """A price the instrument's band allows (10% inside it, on the tick)."""
        tick, ref, band = int(sym["tick"]), int(sym["ref"]), int(sym["band_bps"] or 5_000)
        lo = ref * (10_000 - band * 9 // 10) // 10_000
        hi = ref * (10_000 + band * 9 // 10) // 10_000
        return max(lo // tick * tick + tick, min(hi // tick * tick, price // tick * tick))


class FeedMessage(msgspec.Struct):
    """The fields of a stream message the load user reads; the rest (a trade's lots, a
    heartbeat's seqs) is skipped by the decoder without being built."""

    type: str = ""
    seq: int = 0
    ts: str = ""
    bids: list[tuple[int, int]] = []
    asks: list[tuple[int, int]] = []
    checksum: int = 0
    code: str = ""
    detail: str = ""


_decode_feed = msgspec.json.Decoder(FeedMessage).decode
_seconds: dict[str, float] = {}  # "2026-11-30T03:04:55" -> its epoch ms (a second's ts share it)


def _ts_ms(ts: str) -> float:
    """``2026-11-30T03:04:55.123Z`` (the server's `iso_ts`) as epoch milliseconds; the date
    and time part is parsed once per second of the run."""
    head = ts[:19]
    base = _seconds.get(head)
    if base is None:
        if len(_seconds) > 4096:
            _seconds.clear()
        base = _seconds[head] = _iso_ms(head + "Z")
    return base + int(ts[20:23])


class Feed:
    """One WebSocket of a user: book and trades of one symbol, reported into locust.

    A greenlet of its own on a gevent socket, no reader thread (the threaded client's hand-off
    of every message through gevent's emulated locks cost more than the message: see
    docs/loadtest.md). The upgrade is checked as RFC 6455 says (status 101, the
    ``Sec-WebSocket-Accept`` of our key, websockets' `accept_key`); the server's frames
    (unmasked, one final text frame per message, no extension) are cut from the byte stream
    by `cut_frames`, a fraction of a general parser's cost per message; pings are answered, a close
    frame is answered and ends the feed, anything else (a fragment, a binary frame, a masked
    or oversized frame) is a protocol failure. Our frames are masked and built by websockets'
    `Frame.serialize`. Text frames are decoded into `FeedMessage` by msgspec."""

    MAX_FRAME = 1 << 22

    def __init__(self, user: MarketUser, symbol: str) -> None:
        self.user, self.symbol = user, symbol
        self.book = WatchedBook()
        self.sock: socket.socket | None = None
        self.open = False
        self.closing = False
        self.close_code: int | None = None
        self.greenlet = gevent.spawn(self.run)

    def fire(self, kind: str, name: str, ms: float, exc: Exception | None = None) -> None:
        self.user.environment.events.request.fire(
            request_type=kind, name=name, response_time=max(ms, 0.0), response_length=0,
            exception=exc, context={})

    def send_frame(self, opcode: Opcode, data: bytes) -> None:
        sock = self.sock
        if sock is not None:
            sock.sendall(Frame(opcode, data).serialize(mask=True))

    def send(self, msg: dict[str, Any]) -> None:
        self.send_frame(Opcode.TEXT, json.dumps(msg).encode())

    def run(self) -> None:
        t0 = time.perf_counter()
        try:
            rest = self.connect()
        except Exception as exc:
            self.fire("WS", "connect", (time.perf_counter() - t0) * 1000, exc)
            if self.sock is not None:
                self.sock.close()
            return
        self.fire("WS", "connect", (time.perf_counter() - t0) * 1000)
        try:
            self.read(rest)
        except Exception as exc:
            if not self.closing:
                self.fire("WS", "closed", 0, exc)
            return
        finally:
            self.open = False
            if self.sock is not None:
                self.sock.close()
        if not self.closing:
            self.fire("WS", "closed", 0,
                      ConnectionError(f"server closed the stream ({self.close_code})"))

    def connect(self) -> bytearray:
        """The upgraded socket's first bytes after the response head (frames may follow it
        in the same read)."""
        uri = parse_uri(str(self.user.host).replace("http", "ws", 1) + "/ws")
        self.sock = sock = socket.create_connection((uri.host, uri.port), timeout=30)
        key = generate_key()
        sock.sendall((f"GET {uri.resource_name} HTTP/1.1\r\nHost: {uri.host}:{uri.port}\r\n"
                      "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                      f"Authorization: {self.user.h['Authorization']}\r\n\r\n").encode())
        buf = bytearray()
        while (end := buf.find(b"\r\n\r\n")) < 0:
            data = sock.recv(1 << 16)
            if not data or len(buf) > 1 << 16:
                raise ConnectionError("no upgrade response")
            buf += data
        status, *lines = buf[:end].decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip()
                   for k, _, v in (line.partition(":") for line in lines)}
        if status.split(" ", 2)[1:2] != ["101"]:
            raise ConnectionError(f"upgrade refused: {status}")
        if headers.get("sec-websocket-accept") != accept_key(key):
            raise ConnectionError("upgrade answered with a wrong Sec-WebSocket-Accept")
        sock.settimeout(None)  # the 30 s bound was for the upgrade
        self.open = True
        return buf[end + 4:]

    def read(self, buf: bytearray) -> None:
        sock = self.sock
        assert sock is not None
        channel = f"book:{self.symbol}"
        t_sub = time.perf_counter()
        self.send({"op": "subscribe", "channels": [channel, f"trades:{self.symbol}"]})
        while True:
            frames, pos = cut_frames(buf, self.MAX_FRAME)
            for b0, payload in frames:
                opcode = b0 & 0x0F
                if opcode == TEXT and b0 & FIN:
                    self.on_message(payload, channel, t_sub)
                elif opcode == PING:
                    self.send_frame(Opcode.PONG, payload)
                elif opcode == CLOSE:  # answer it (RFC 6455 §5.5.1) and stop reading
                    self.close_code = int.from_bytes(payload[:2], "big") \
                        if len(payload) >= 2 else 1005
                    if not self.closing:
                        with contextlib.suppress(OSError):
                            self.send_frame(Opcode.CLOSE, payload[:2])
                    return
                elif opcode != PONG:  # fragments and binary frames are not the market's
                    raise ProtocolError(f"unexpected frame (first byte {b0:#04x})")
            del buf[:pos]
            data = sock.recv(1 << 16)
            if not data:
                return
            buf += data

    def on_message(self, raw: bytes | bytearray | memoryview, channel: str,
                   t_sub: float) -> None:
        now_ms = time.time() * 1000
        msg = _decode_feed(raw)
        kind = msg.type
        if kind == "update" or kind == "snapshot":
            why = self.book.apply_parts(kind == "snapshot", msg.seq, msg.bids, msg.asks,
                                        msg.checksum)
            if kind == "update":
                self.fire("FEED", "book update", now_ms - _ts_ms(msg.ts))
            if why is not None:
                self.book.resyncs += 1
                self.fire("FEED", "book proof", 0, AssertionError(why))
                self.send({"op": "snapshot", "channel": channel})
        elif kind == "trade":
            self.fire("FEED", "trade", now_ms - _ts_ms(msg.ts))
        elif kind == "subscribed":
            self.fire("WS", "subscribe", (time.perf_counter() - t_sub) * 1000)
        elif kind == "error":
            self.fire("WS", f"error {msg.code}", 0, RuntimeError(msg.detail))

    def best(self) -> tuple[int | None, int | None]:
        bids, asks = self.book.bids, self.book.asks
        return (max(bids) if bids else None), (min(asks) if asks else None)

    def stop(self) -> None:
        self.closing = True
        if self.open:
            with contextlib.suppress(OSError):
                self.send_frame(Opcode.CLOSE, (1000).to_bytes(2, "big"))
        self.greenlet.join(timeout=5)
        if not self.greenlet.dead:
            self.greenlet.kill(block=False)


class Trader(MarketUser):
    """A buyer (pharma company, exporter): orders and cancels over REST, a live book."""

    weight = 60
    kind = "traders"
    RACES = frozenset({"order_not_open", "unknown_order"})  # a cancel that lost to a fill

    def on_start(self) -> None:
        self.open: list[int] = []
        self.goods: dict[str, int] = {}
        self.feed = Feed(self, self.home["symbol"])

    def on_stop(self) -> None:
        self.feed.stop()

    def quote(self) -> tuple[int | None, int | None]:
        bid, ask = self.feed.best()
        return (bid, ask) if bid or ask else self.book(self.home["symbol"])

    @task(6)
    def buy(self) -> None:
        sym = self.home
        bid, ask = self.quote()
        tick, rng = sym["tick"], self.rng
        cross = ask is not None and rng.random() < 0.3
        if cross and ask is not None:
            price, tif = ask, "ioc"
        else:
            price, tif = (bid or sym["ref"]) - tick * rng.randint(0, 5), "gtc"
        body = {"symbol": sym["symbol"], "side": "buy", "type": "limit",
                "price": self.in_band(sym, price), "qty": rng.randrange(1, 50), "tif": tif,
                "client_order_id": _cid("ld")}
        out = self.call("POST", ORDERS, "POST /api/v1/orders", body)
        if out and out["status"] in ("new", "partially_filled"):
            self.open.append(out["order_id"])
        if out and rng.random() < 0.05:  # a client that lost the answer sends it again
            again = self.call("POST", ORDERS, "POST /api/v1/orders (resend)", body, ok=(200,))
            if again is not None and again.get("order_id") != out["order_id"]:
                self.fire_failure("resend made a second order", again)

    def fire_failure(self, what: str, detail: Any) -> None:
        self.environment.events.request.fire(
            request_type="CHECK", name=what, response_time=0, response_length=0,
            exception=AssertionError(str(detail)[:200]), context={})

    @task(3)
    def cancel(self) -> None:
        if len(self.open) < 3:
            return self.buy()
        oid = self.open.pop(0)
        self.call("DELETE", f"{ORDERS}/{oid}", "DELETE /api/v1/orders/[id]",
                  expected=self.RACES)

    @task(1)
    def own_orders(self) -> None:
        self.call("GET", f"{ORDERS}?status=open&limit=50", "GET /api/v1/orders")

    @task(1)
    def balances_and_sell(self) -> None:
        b = self.call("GET", "/api/v1/balances", "GET /api/v1/balances")
        if not b:
            return
        sym = self.home
        have = sum(g.get("available_qty", 0) for g in b.get("goods", [])
                   if g.get("symbol") == sym["symbol"])
        if have > 0:  # a trader resells part of what it bought, at or above the best bid
            bid, ask = self.quote()
            price = (ask - sym["tick"]) if ask and bid and ask - bid > sym["tick"] else \
                (ask or sym["ref"])
            self.call("POST", ORDERS, "POST /api/v1/orders", {
                "symbol": sym["symbol"], "side": "sell", "type": "limit",
                "price": self.in_band(sym, price), "qty": min(have, 20), "tif": "ioc",
                "client_order_id": _cid("ls")})


class Bidder(MarketUser):
    """A buyer at the lot auctions: last-second English bursts, Dutch clock stops."""

    weight = 15
    kind = "bidders"
    wait_time = between(0.5, 1.5)
    RACES = frozenset({"auction_not_open", "auction_closed", "lot_gone", "below_min_bid",
                       "bid_not_raised", "stale_price", "qty_unavailable", "below_min_qty"})

    def on_start(self) -> None:
        self.value_pct = self.rng.randint(95, 112)  # what a lot is worth to this bidder

    def sym(self, symbol: str) -> dict[str, Any] | None:
        return next((s for s in CONFIG["all_symbols"] if s["symbol"] == symbol), None)

    def tick(self, symbol: str) -> int:
        sym = self.sym(symbol)
        return 1 if sym is None else int(sym["tick"])

    def worth(self, symbol: str) -> int | None:
        sym = self.sym(symbol)
        return None if sym is None else sym["ref"] * self.value_pct // 100 // sym["tick"] \
            * sym["tick"]

    @task
    def watch_auctions(self) -> None:
        live = self.call("GET", "/api/v1/auctions", "GET /api/v1/auctions")
        if not live:
            return
        now_ms = time.time() * 1000
        for a in live.get("auctions", []):
            if a.get("status") != "open":
                continue
            worth = self.worth(a["symbol"])
            if worth is None:
                continue
            aid = a["auction_id"]
            if a["kind"] == "english" and a.get("close_at"):
                left_ms = _iso_ms(a["close_at"]) - now_ms
                floor = a.get("min_next_bid") or a["start_price"]
                if 0 < left_ms < 6_000 and floor <= worth:
                    # the burst: raise the maximum a few times, as a nervous bidder does
                    for step in range(self.rng.randint(1, 3)):
                        tick = self.tick(a["symbol"])
                        price = min(worth, floor + step * (worth - floor) // 3 // tick * tick)
                        self.call("POST", f"/api/v1/auctions/{aid}/bids",
                                  "POST /api/v1/auctions/[id]/bids", {"price": price},
                                  expected=self.RACES)
            elif a["kind"] == "dutch" and a.get("price") and a["price"] <= worth:
                qty = max(a.get("min_qty") or 1, min(100, a.get("remaining_qty") or 100))
                self.call("POST", f"/api/v1/auctions/{aid}/buy",
                          "POST /api/v1/auctions/[id]/buy", {"price": a["price"], "qty": qty},
                          expected=self.RACES)


class Cooperative(MarketUser):
    """A seller: offers its graded lots on the book, registers new lots, reads its statement."""

    weight = 15
    kind = "cooperatives"
    RACES = frozenset({"order_not_open", "unknown_order"})

    def on_start(self) -> None:
        self.open: list[int] = []

    @task(4)
    def sell(self) -> None:
        sym = self.rng.choice(self.symbols)
        bid, ask = self.book(sym["symbol"])
        tick = sym["tick"]
        price = (ask or sym["ref"]) + tick * self.rng.randint(-1, 4)
        if bid is not None and self.rng.random() < 0.3:
            price = bid  # hits the best bid
        out = self.call("POST", ORDERS, "POST /api/v1/orders", {
            "symbol": sym["symbol"], "side": "sell", "type": "limit",
            "price": self.in_band(sym, price), "qty": self.rng.randrange(10, 200),
            "tif": "gtc", "client_order_id": _cid("lc")})
        if out and out["status"] in ("new", "partially_filled"):
            self.open.append(out["order_id"])

    @task(2)
    def cancel(self) -> None:
        if len(self.open) < 3:
            return self.sell()
        self.call("DELETE", f"{ORDERS}/{self.open.pop(0)}", "DELETE /api/v1/orders/[id]",
                  expected=self.RACES)

    @task(1)
    def register_lot(self) -> None:
        spec = self.rng.choice(list(CONFIG["assays"]))
        self.call("POST", "/api/v1/lots", "POST /api/v1/lots", {
            "lot_id": _cid("LD"), "spec_id": spec, "qty": self.rng.randrange(100, 3000),
            "harvest_date": CONFIG["harvest_date"], "commune": "Xã Dương Quỳ",
            "growing_area": CONFIG["growing_area"]})

    @task(2)
    def statement(self) -> None:
        self.call("GET", "/api/v1/balances", "GET /api/v1/balances")
        self.call("GET", "/api/v1/fills?limit=100", "GET /api/v1/fills")
        # a multi-process gateway given no --database-url keeps no ledger: 503 no_ledger, a
        # refusal the summary shows
        today = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 7 * 3600))  # Vietnam day
        none = frozenset({"no_ledger"})
        self.call("GET", f"/api/v1/statements/{self.me['id']}?from={today}&to={today}",
                  "GET /api/v1/statements/[participant]", expected=none)
        self.call("GET", f"/api/v1/statements/{self.me['id']}?from={today}&to={today}"
                  "&format=csv", "GET /api/v1/statements/[participant] (csv)", expected=none)

    @task(1)
    def lots(self) -> None:
        self.call("GET", "/api/v1/lots?limit=50", "GET /api/v1/lots")


class Analyst(MarketUser):
    """The price-insurance fund's analyst: reads tape, tickers, depth, bars, indices, ticks,
    insurance figures and exports."""

    weight = 10
    kind = "analysts"
    wait_time = between(0.5, 1.5)

    @task(3)
    def tape(self) -> None:
        s = self.rng.choice(self.symbols)["symbol"]
        self.call("GET", f"/api/v1/instruments/{s}/trades?limit=200",
                  "GET /api/v1/instruments/[symbol]/trades")

    @task(2)
    def tickers(self) -> None:
        self.call("GET", "/api/v1/ticker", "GET /api/v1/ticker")

    @task(2)
    def depth(self) -> None:
        s = self.rng.choice(self.symbols)["symbol"]
        self.call("GET", f"/api/v1/instruments/{s}/book?depth=50",
                  "GET /api/v1/instruments/[symbol]/book")

    @task(1)
    def auctions(self) -> None:
        self.call("GET", "/api/v1/auctions?status=all", "GET /api/v1/auctions?status=all")

    @task(2)
    def analytics(self) -> None:
        """Bars, a herb's index per kg and per kg of active ingredient, the newest ticks, the
        insurance figures, and an export of the last hour of one instrument. A gateway that
        keeps no tick store (multi-process mode without PostgreSQL) answers 503
        ``ticks_unavailable``: counted as a refusal, and visible in the summary."""
        s = self.rng.choice(self.symbols)["symbol"]
        herb = s.rsplit("-", 1)[0]
        na = frozenset({"ticks_unavailable"})
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
        what = self.rng.randrange(6)
        if what == 0:
            self.call("GET", f"/api/v1/bars/{s}?interval=1m", "GET /api/v1/bars/[symbol]",
                      expected=na)
        elif what == 1:
            basis = self.rng.choice(("kg", "active"))
            self.call("GET", f"/api/v1/indices/{herb}?basis={basis}",
                      "GET /api/v1/indices/[herb]", expected=na)
        elif what == 2:
            self.call("GET", f"/api/v1/ticks?symbol={s}&limit=100", "GET /api/v1/ticks",
                      expected=na)
        elif what == 3:
            self.call("GET", "/api/v1/insurance", "GET /api/v1/insurance", expected=na)
        elif what == 4:
            self.call("GET", f"/api/v1/ticks/export.csv?symbol={s}&from={since}",
                      "GET /api/v1/ticks/export.csv",
                      expected=na | frozenset({"exports_busy"}))
        else:
            self.tape()


class Auctioneer(MarketUser):
    """Keeps one English and one Dutch auction of load lots live (the auction desk of the
    load cooperatives): each lot goes register → assay (lab) → receive (operator) first."""

    fixed_count = 1
    kind = "auctioneers"
    wait_time = constant_pacing(2.0)

    def on_start(self) -> None:
        self.lab = {"Authorization": f"Bearer {CONFIG['lab']}"}
        self.op = {"Authorization": f"Bearer {CONFIG['operator']}"}
        self.n = 0

    def as_(self, headers: dict[str, str], method: str, path: str, name: str,
            body: Any) -> Any:
        mine, self.h = self.h, headers
        try:
            return self.call(method, path, name, body)
        finally:
            self.h = mine

    def new_lot(self, spec: str, qty: int) -> str | None:
        lot = f"LA{os.getpid() % 1000}-{self.n}"
        self.n += 1
        if not self.call("POST", "/api/v1/lots", "POST /api/v1/lots", {
                "lot_id": lot, "spec_id": spec, "qty": qty,
                "harvest_date": CONFIG["harvest_date"], "commune": "Xã Dương Quỳ",
                "growing_area": CONFIG["growing_area"]}):
            return None
        if not self.as_(self.lab, "POST", f"/api/v1/lots/{lot}/assays",
                        "POST /api/v1/lots/[id]/assays",
                        {"sample_id": f"S-{lot}", "results": CONFIG["assays"][spec]}):
            return None
        if not self.as_(self.op, "POST", f"/api/v1/lots/{lot}/receive",
                        "POST /api/v1/lots/[id]/receive", {"qty_received": qty}):
            return None
        return lot

    @task
    def keep_auctions(self) -> None:
        live = self.call("GET", "/api/v1/auctions", "GET /api/v1/auctions")
        if live is None:
            return
        mine = {a["kind"] for a in live.get("auctions", [])
                if a.get("seller") == self.me["id"] and a.get("status") in ("open", "scheduled")}
        sym = CONFIG["auction_symbol"]
        ref, tick = sym["ref"], sym["tick"]
        for kind in ("english", "dutch"):
            if kind in mine:
                continue
            lot = self.new_lot(sym["spec"], 1_000)
            if lot is None:
                continue
            body: dict[str, Any] = {"kind": kind, "lot_id": lot, "qty": 1_000}
            if kind == "english":  # short, with a soft close the last-second bursts extend
                body |= {"start_price": ref * 90 // 100 // tick * tick, "duration_s": 20,
                         "reserve": ref * 96 // 100 // tick * tick, "extend_s": 5,
                         "extension_cap_s": 15}
            else:
                body |= {"start_price": ref * 112 // 100 // tick * tick,
                         "step": max(tick, ref // 200 // tick * tick), "interval_ms": 500,
                         "floor": ref * 85 // 100 // tick * tick, "min_qty": 50,
                         "restart_steps": 3}
            self.call("POST", "/api/v1/auctions", "POST /api/v1/auctions", body)

