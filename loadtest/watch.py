"""`herbx watch SYMBOL`: a terminal tail of a live book that proves its copy as it goes.

A websockets client: subscribes to ``book:<symbol>`` and ``trades:<symbol>``, keeps its own
book from the snapshot and the updates, checks that every update's seq is the last + 1 and that
the CRC32 of its own top 10 equals the server's checksum. A gap or a mismatch is reported and
healed by asking for a new snapshot. Prints the top of the book after each change.

Lives with the tools, not in the gateway: it is a client of the public protocol that runs
outside the market's processes (like the benchmarks' clients) and imports only the public
checksum. Never changes the market (it only subscribes).
"""

from __future__ import annotations

import asyncio
import heapq
import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from gateway.stream.checksum import DEPTH, book_checksum


class WatchedBook:
    def __init__(self) -> None:
        self.seq: int | None = None
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.updates = 0
        self.resyncs = 0

    def levels(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        bids = sorted(self.bids.items(), reverse=True)
        asks = sorted(self.asks.items())
        return bids, asks

    def apply(self, msg: dict[str, Any]) -> str | None:
        """None when the book is proven, else why a new snapshot is needed."""
        return self.apply_parts(msg["type"] == "snapshot", msg["seq"], msg["bids"], msg["asks"],
                                msg["checksum"])

    def apply_parts(self, snapshot: bool, seq: int, bids: Sequence[Sequence[int]],
                    asks: Sequence[Sequence[int]], checksum: int) -> str | None:
        """`apply` of a message already taken apart (the load test decodes its frames into a
        typed struct, not a dict)."""
        if snapshot:
            self.seq = seq
            self.bids = {p: q for p, q in bids}
            self.asks = {p: q for p, q in asks}
        else:
            if self.seq is None or seq != self.seq + 1:
                return f"gap: expected seq {None if self.seq is None else self.seq + 1}, " \
                       f"got {seq}"
            self.seq = seq
            self.updates += 1
            for side, levels in ((self.bids, bids), (self.asks, asks)):
                for p, q in levels:
                    if q:
                        side[p] = q
                    else:
                        side.pop(p, None)
        if self.checksum() != checksum:
            return f"checksum mismatch at seq {seq}"
        return None

    def checksum(self) -> int:
        """The checksum of this copy: only the top 10 of each side count, so only they are
        sorted (O(n log 10), not a sort of every level per message)."""
        b, a = self.bids, self.asks
        top_b = [(p, b[p]) for p in heapq.nlargest(DEPTH, b)]
        top_a = [(p, a[p]) for p in heapq.nsmallest(DEPTH, a)]
        return book_checksum(top_b, top_a)


def render(symbol: str, book: WatchedBook, depth: int, last_trade: str) -> str:
    bids, asks = book.levels()
    lines = [f"{symbol}  seq {book.seq}  updates {book.updates}  resyncs {book.resyncs}  "
             f"checksum ok", f"{'bid qty':>10} {'bid':>12} | {'ask':<12} {'ask qty':<10}"]
    for i in range(depth):
        b = bids[i] if i < len(bids) else None
        a = asks[i] if i < len(asks) else None
        lines.append(f"{b[1] if b else '':>10} {b[0] if b else '':>12} | "
                     f"{a[0] if a else '':<12} {a[1] if a else '':<10}")
    if last_trade:
        lines.append(last_trade)
    return "\n".join(lines)


async def watch(url: str, symbol: str, *, depth: int = 5, count: int = 0,
                out: TextIO = sys.stdout, clear: bool = True) -> WatchedBook:
    from websockets.asyncio.client import connect

    book = WatchedBook()
    channel = f"book:{symbol}"
    last_trade = ""
    async with connect(url) as ws:
        await ws.send(json.dumps({"op": "subscribe",
                                  "channels": [channel, f"trades:{symbol}"]}))
        async for raw in ws:
            msg = json.loads(raw)
            kind = msg.get("type")
            if kind == "error":
                raise SystemExit(f"herbx watch: {msg.get('code')}: {msg.get('detail')}")
            if kind == "trade":
                last_trade = f"last trade {msg['qty']} @ {msg['price']} ({msg['aggressor']}) " \
                             f"{msg['ts']}"
                continue
            if msg.get("channel") != channel:
                continue
            problem = book.apply(msg)
            if problem is not None:
                book.resyncs += 1
                print(f"herbx watch: {problem}; asking for a new snapshot", file=out)
                book.seq = None
                await ws.send(json.dumps({"op": "snapshot", "channel": channel}))
                continue
            print(("\x1b[H\x1b[2J" if clear else "") + render(symbol, book, depth, last_trade),
                  file=out, flush=True)
            if count and book.updates >= count:
                break
    return book


def main(symbol: str, *, url: str, depth: int, count: int) -> int:
    try:
        asyncio.run(watch(url, symbol, depth=depth, count=count, clear=sys.stdout.isatty()))
    except KeyboardInterrupt:
        return 0
    except OSError as exc:
        print(f"herbx watch: cannot connect to {url}: {exc}", file=sys.stderr)
        return 2
    return 0
