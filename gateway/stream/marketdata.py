"""Market data as published: mirror books, recent trades, tickers, recent fills per account.

Owns the gateway's view of the market *as it has been published* (after each group commit),
which is what snapshots must agree with: a book snapshot taken here at ``seq`` is followed on the
stream by exactly the update ``seq + 1``. Book updates may be conflated: the channel ``seq``
counts the channel's messages (one update may carry several engine updates, whose ``book_seq``
it reports), and its checksum is the engine's for the last of them. `MarketData.apply` turns a
batch of committed events into addressed public messages; the fan-out delivers them.
Everything kept is bounded.

Must never read the live exchange after start-up (it runs ahead of what is durable), nor invent
a value the events did not carry (checksums come from the pipeline).
"""

from __future__ import annotations

import asyncio
import heapq
from collections import deque
from collections.abc import Callable
from typing import Any

from engine.exchange import Exchange
from engine.messages import (
    BookUpdated,
    Event,
    InstrumentAdded,
    OrderAccepted,
    TradeExecuted,
    TradeSettlementChanged,
)
from gateway.stream.checksum import book_checksum
from gateway.stream.wire import iso_ts, public

Message = dict[str, Any]
#: where a message goes: ("channel", "book:QUE-BARK-A") or ("account", "T01")
Target = tuple[str, str]

_ORDER_EVENTS = frozenset({
    "order_accepted", "order_rejected", "order_cancelled", "order_expired", "order_replaced",
    "order_resent", "cancel_rejected",
})


class MirrorBook:
    """Price levels of one book as published; ``seq`` is the engine's ``book_seq``."""

    __slots__ = ("symbol", "seq", "bids", "asks", "channel_seq", "pending_bids",
                 "pending_asks", "pending_checksum", "pending_ts_ns", "last_flush", "timer",
                 "held_trades", "trade_seq_sent", "ticker_due")

    def __init__(self, symbol: str, seq: int = 0) -> None:
        self.symbol = symbol
        self.seq = seq  # the engine's book_seq of the last applied update
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        # Conflation: the channel's own seq counts the messages sent on ``book:<symbol>``;
        # changes not sent yet wait in ``pending_*`` (absolute quantities, last one wins).
        self.channel_seq = seq
        self.pending_bids: dict[int, int] = {}
        self.pending_asks: dict[int, int] = {}
        self.pending_checksum = 0
        self.pending_ts_ns = 0  # the engine's time of the last change pending
        self.last_flush = float("-inf")
        self.timer: asyncio.TimerHandle | None = None
        # Trade messages of this symbol that wait for the conflated update the timer will
        # send (see `MarketData.apply`), oldest first; and the newest trade id sent
        self.held_trades: list[tuple[Target, Message]] = []
        self.trade_seq_sent = 0
        self.ticker_due = False  # the symbol's ticker goes out with that update

    def apply(self, ev: BookUpdated, checksum: int) -> None:
        assert ev.book_seq == self.seq + 1, (self.symbol, self.seq, ev.book_seq)
        self.seq = ev.book_seq
        for side, pending, levels in ((self.bids, self.pending_bids, ev.bids),
                                      (self.asks, self.pending_asks, ev.asks)):
            for price, qty in levels:
                pending[price] = qty
                if qty:
                    side[price] = qty
                else:
                    side.pop(price, None)
        self.pending_checksum = checksum
        self.pending_ts_ns = ev.ts_ns

    def flush(self, now: float) -> Message:
        """The next update message: every level changed since the last one."""
        self.channel_seq += 1
        self.last_flush = now
        self.timer = None
        msg = {"channel": f"book:{self.symbol}", "type": "update", "seq": self.channel_seq,
               "bids": sorted(self.pending_bids.items(), reverse=True),
               "asks": sorted(self.pending_asks.items()), "checksum": self.pending_checksum,
               "book_seq": self.seq, "ts": iso_ts(self.pending_ts_ns)}
        self.pending_bids = {}
        self.pending_asks = {}
        return msg

    def top(self, n: int) -> tuple[list[list[int]], list[list[int]]]:
        bids = [[p, self.bids[p]] for p in heapq.nlargest(n, self.bids)]
        asks = [[p, self.asks[p]] for p in heapq.nsmallest(n, self.asks)]
        return bids, asks

    def snapshot(self, depth: int) -> Message:
        bids, asks = self.top(depth)
        top_b, top_a = (bids, asks) if depth >= 10 else self.top(10)
        # Pending changes are in the snapshot already; the next update repeats them, which is
        # harmless because its quantities are absolute.
        return {"channel": f"book:{self.symbol}", "type": "snapshot", "symbol": self.symbol,
                "seq": self.channel_seq, "bids": bids, "asks": asks,
                "checksum": book_checksum(top_b, top_a), "book_seq": self.seq}

    def best(self) -> tuple[int | None, int | None]:
        return (max(self.bids) if self.bids else None, min(self.asks) if self.asks else None)

    def _check(self) -> None:
        assert all(q > 0 for q in self.bids.values()) and all(q > 0 for q in self.asks.values())
        if self.bids and self.asks:
            assert max(self.bids) < min(self.asks), "crossed book at rest"
        # what waits for the conflated update has a timer to release it
        assert self.timer is not None or not (self.held_trades or self.ticker_due)


class Stats:
    """Session statistics of one instrument since this gateway started."""

    __slots__ = ("open", "last", "high", "low", "volume", "trades", "last_trade_id")

    def __init__(self) -> None:
        self.open: int | None = None
        self.last: int | None = None
        self.high: int | None = None
        self.low: int | None = None
        self.volume = 0
        self.trades = 0
        self.last_trade_id = 0

    def add(self, t: TradeExecuted) -> None:
        p = t.price_vnd
        if self.open is None:
            self.open = self.high = self.low = p
        self.last = p
        self.high = max(self.high or p, p)
        self.low = min(self.low or p, p)
        self.volume += t.qty
        self.trades += 1
        self.last_trade_id = t.trade_id


def lot_legs(t: TradeExecuted) -> list[Message]:
    """A trade's lot legs with their active content and price per kg of active ingredient."""
    return [{"lot_id": leg.lot_id, "qty": leg.qty, "active_content": v.active_content,
             "price_per_kg_active": v.price_per_kg_active_vnd, "resale": v.resale}
            for leg, v in zip(t.lots, t.lot_values, strict=True)]


class MarketData:
    """``conflate_s``: book updates of one instrument go out at most once per this interval
    (the first change after a quiet interval at once, later ones merged); 0 sends each engine
    update as it comes. ``deliver`` sends messages that a conflation timer releases."""

    def __init__(self, exchange: Exchange, *, trades_kept: int, fills_kept: int,
                 conflate_s: float = 0.0) -> None:
        self.conflate_s = conflate_s
        self.deliver: Callable[[list[tuple[Target, Message]]], None] = lambda _: None
        self.books: dict[str, MirrorBook] = {}
        self.tapes: dict[str, deque[Message]] = {}
        self.stats: dict[str, Stats] = {}
        # symbol -> price per kg of active ingredient of its last trade of a recorded lot
        self.last_active: dict[str, int | None] = {}
        self.fills: dict[str, deque[Message]] = {}
        self.channel_seqs: dict[str, int] = {"ticker": 0}
        self.orders: dict[str, deque[int]] = {}  # account -> its recent order ids, oldest first
        self._trades_kept = trades_kept
        self._fills_kept = fills_kept
        for inst in exchange.instrument_views():  # start-up only: the recovered, durable state
            snap = exchange.depth(inst.symbol, 1 << 30)
            assert snap is not None  # a listed instrument has a book
            book = self._add(inst.symbol, snap.book_seq)
            book.bids = dict(snap.bids)
            book.asks = dict(snap.asks)
        for order in exchange.order_views():  # read-only; see docs/gateway.md
            self._order(order.account, order.order_id)

    def _order(self, account: str, order_id: int) -> None:
        ids = self.orders.get(account)
        if ids is None:
            ids = self.orders[account] = deque(maxlen=self._fills_kept)
        ids.append(order_id)

    def orders_of(self, account: str) -> list[int]:
        return list(self.orders.get(account, ()))

    def _add(self, symbol: str, seq: int = 0) -> MirrorBook:
        book = self.books[symbol] = MirrorBook(symbol, seq)
        self.tapes[symbol] = deque(maxlen=self._trades_kept)
        self.stats[symbol] = Stats()
        return book

    # -- queries --------------------------------------------------------------------------------

    def seq_of(self, channel: str) -> int:
        kind, _, name = channel.partition(":")
        if kind == "book" and name in self.books:
            return self.books[name].channel_seq
        if kind == "trades" and name in self.books:
            return self.books[name].trade_seq_sent
        return self.channel_seqs.get(channel, 0)

    def ticker(self, symbol: str) -> Message:
        s = self.stats[symbol]
        bid, ask = self.books[symbol].best()
        return {"symbol": symbol, "last": s.last, "open": s.open, "high": s.high, "low": s.low,
                "change": None if s.last is None or s.open is None else s.last - s.open,
                "volume": s.volume, "trades": s.trades, "best_bid": bid, "best_ask": ask,
                "last_price_per_kg_active": self.last_active.get(symbol)}

    def recent_trades(self, symbol: str, limit: int) -> list[Message]:
        tape = self.tapes[symbol]
        return [tape[i] for i in range(len(tape) - 1, max(len(tape) - 1 - limit, -1), -1)]

    def recent_fills(self, account: str, limit: int) -> list[Message]:
        fills = self.fills.get(account)
        if not fills:
            return []
        return [fills[i] for i in range(len(fills) - 1, max(len(fills) - 1 - limit, -1), -1)]

    # -- the published stream -------------------------------------------------------------------

    def _next(self, channel: str) -> int:
        seq = self.channel_seqs.get(channel, 0) + 1
        self.channel_seqs[channel] = seq
        return seq

    def apply(
        self, events: list[Event], checksums: dict[tuple[str, int], int]
    ) -> list[tuple[Target, Message]]:
        out: list[tuple[Target, Message]] = []
        tickers: dict[str, None] = {}
        changed: dict[str, MirrorBook] = {}
        for ev in events:
            match ev:
                case BookUpdated():
                    book = self.books[ev.symbol]
                    book.apply(ev, checksums[(ev.symbol, ev.book_seq)])
                    changed[ev.symbol] = book
                    tickers[ev.symbol] = None
                case TradeExecuted():
                    self._trade(ev, out)
                    tickers[ev.symbol] = None
                case OrderAccepted():
                    self._order(ev.account, ev.order_id)
                    self._other(ev, out)
                case InstrumentAdded():
                    self._add(ev.symbol)
                case TradeSettlementChanged():
                    _settlement(ev, out)
                case _:
                    self._other(ev, out)
        for book in changed.values():
            self._schedule(book, out)
        if self.conflate_s > 0:
            out = self._hold_trades(out)
        else:
            self._sent_trades(out)
        for symbol in tickers:
            book = self.books[symbol]
            if book.timer is not None:
                book.ticker_due = True  # it goes out with the book's update, as its trades
            else:
                out.append(self._ticker_message(symbol))
        return out

    def _ticker_message(self, symbol: str) -> tuple[Target, Message]:
        return (("channel", "ticker"), {"channel": "ticker", "type": "ticker",
                                        "seq": self._next("ticker"), **self.ticker(symbol)})

    def _hold_trades(self, out: list[tuple[Target, Message]]) -> list[tuple[Target, Message]]:
        """``out`` without the trade messages of books whose conflated update is still due:
        those wait (in order) and go out with that update, in the same write to each client
        (the symbol's ticker too, so that it never announces a trade not yet sent).

        A client of a book follows its trades too (the trading floor, the load test's
        traders); sending the trades of every commit group at once and the book's update up
        to ``conflate_s`` later cost two writes per client where one carries both; held, a
        trade never reaches a client before the book change it made. A trade waits at most
        ``conflate_s``."""
        kept: list[tuple[Target, Message]] = []
        for item in out:
            (kind, name), msg = item
            if kind == "channel" and msg.get("type") == "trade":
                book = self.books.get(msg["channel"][7:])  # "trades:<symbol>"
                if book is not None:
                    if book.timer is not None:
                        book.held_trades.append(item)
                        continue
                    book.trade_seq_sent = msg["seq"]
            kept.append(item)
        return kept

    def _sent_trades(self, out: list[tuple[Target, Message]]) -> None:
        for (kind, _), msg in out:
            if kind == "channel" and msg.get("type") == "trade":
                book = self.books.get(msg["channel"][7:])
                if book is not None:
                    book.trade_seq_sent = msg["seq"]

    def _schedule(self, book: MirrorBook, out: list[tuple[Target, Message]]) -> None:
        if book.timer is not None:
            return  # a flush is due already; it will carry these changes
        if self.conflate_s <= 0:
            out.append((("channel", f"book:{book.symbol}"), book.flush(0.0)))
            return
        loop = asyncio.get_running_loop()
        wait = book.last_flush + self.conflate_s - loop.time()
        if wait <= 0:
            out.append((("channel", f"book:{book.symbol}"), book.flush(loop.time())))
        else:
            book.timer = loop.call_later(wait, self._flush_later, book)

    def _flush_later(self, book: MirrorBook) -> None:
        msg = book.flush(asyncio.get_running_loop().time())
        held, book.held_trades = book.held_trades, []
        if held:
            book.trade_seq_sent = held[-1][1]["seq"]
        out = [*held, (("channel", f"book:{book.symbol}"), msg)]
        if book.ticker_due:
            book.ticker_due = False
            out.append(self._ticker_message(book.symbol))
        self.deliver(out)

    def flush_all(self) -> None:
        """Send every conflated change now (tests; shutdown)."""
        for book in self.books.values():
            if book.timer is not None:
                book.timer.cancel()
                self._flush_later(book)

    def replay_trades(self, trades: list[TradeExecuted]) -> None:
        """Rebuild recent trades, session statistics and fills at start-up (nothing is sent)."""
        for t in trades:
            if t.symbol in self.stats:
                self._trade(t, [])
                self.books[t.symbol].trade_seq_sent = t.trade_id

    def _trade(self, t: TradeExecuted, out: list[tuple[Target, Message]]) -> None:
        self.stats[t.symbol].add(t)
        if t.lot_values:
            self.last_active[t.symbol] = t.lot_values[-1].price_per_kg_active_vnd
        ch = f"trades:{t.symbol}"
        ts = iso_ts(t.ts_ns)
        msg = {"channel": ch, "type": "trade", "seq": t.trade_id, "ts": ts, "price": t.price_vnd,
               "qty": t.qty, "aggressor": t.aggressor}
        if t.lot_values:  # recorded lots: content and price per kg of active ingredient
            msg["lots"] = lot_legs(t)
        self.tapes[t.symbol].append({k: v for k, v in msg.items() if k not in ("channel", "type")})
        out.append((("channel", ch), msg))
        for account, side, order_id, leaves, liquidity in (
            (t.buyer, "buy", t.taker_order_id if t.aggressor == "buy" else t.maker_order_id,
             t.taker_leaves_qty if t.aggressor == "buy" else t.maker_leaves_qty,
             "taker" if t.aggressor == "buy" else "maker"),
            (t.seller, "sell", t.taker_order_id if t.aggressor == "sell" else t.maker_order_id,
             t.taker_leaves_qty if t.aggressor == "sell" else t.maker_leaves_qty,
             "taker" if t.aggressor == "sell" else "maker"),
        ):
            fill = {"trade_id": t.trade_id, "order_id": order_id, "symbol": t.symbol,
                    "side": side, "price": t.price_vnd, "qty": t.qty, "leaves_qty": leaves,
                    "liquidity": liquidity, "ts": ts,
                    "lots": [[leg.lot_id, leg.qty] for leg in t.lots]}
            if t.lot_values:
                fill["lot_values"] = lot_legs(t)
            fills = self.fills.get(account)
            if fills is None:
                fills = self.fills[account] = deque(maxlen=self._fills_kept)
            fills.append(fill)
            out.append((("account", account), {"channel": "orders", "type": "fill", **fill}))

    def _other(self, ev: Event, out: list[tuple[Target, Message]]) -> None:
        tag = type(ev).__struct_config__.tag
        recipient: str | None = getattr(ev, "recipient", None)
        if recipient is not None:
            out.append((("account", recipient), {"channel": "orders", **public(ev)}))
        elif tag in _ORDER_EVENTS:
            account: str = getattr(ev, "account", "")
            out.append((("account", account), {"channel": "orders", **public(ev)}))
        elif hasattr(ev, "auction_id"):
            ch = f"auction:{ev.auction_id}"
            msg = {"channel": ch, **public(ev)}
            msg["seq"] = self._next(ch)
            msg["event_seq"] = ev.seq
            out.append((("channel", ch), msg))
            # the all-auctions channel counts its own messages, as every channel does
            out.append((("channel", "auctions"),
                        {**msg, "channel": "auctions", "seq": self._next("auctions")}))


def _settlement(ev: TradeSettlementChanged, out: list[tuple[Target, Message]]) -> None:
    """A trade moved in delivery versus payment: its buyer and its seller each hear it on their
    private ``orders`` channel (``paid``: the goods are now the buyer's, the money the
    seller's)."""
    for account, side in ((ev.buyer, "buy"), (ev.seller, "sell")):
        out.append((("account", account), {
            "channel": "orders", "type": "settlement", "trade_id": ev.trade_id,
            "symbol": ev.symbol, "side": side, "state": ev.to_state,
            "previous_state": ev.from_state, "price": ev.price_vnd, "qty": ev.qty,
            "value_vnd": ev.value_vnd, "ts": iso_ts(ev.ts_ns),
            "lots": [[leg.lot_id, leg.qty] for leg in ev.lots]}))
