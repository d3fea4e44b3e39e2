"""A test WebSocket client (the websockets library) that keeps its own copy of a book and
proves it against every checksum, as a real client would."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.asyncio.client import ClientConnection

from gateway.checksum import book_checksum


class LocalBook:
    def __init__(self) -> None:
        self.seq: int | None = None
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.updates = 0

    def top(self) -> tuple[list[list[int]], list[list[int]]]:
        bids = [[p, self.bids[p]] for p in sorted(self.bids, reverse=True)]
        asks = [[p, self.asks[p]] for p in sorted(self.asks)]
        return bids, asks

    def apply(self, msg: dict[str, Any]) -> None:
        """Snapshot or update; raises `Gap` when an update does not follow the last seq."""
        if msg["type"] == "snapshot":
            self.seq = msg["seq"]
            self.bids = {p: q for p, q in msg["bids"]}
            self.asks = {p: q for p, q in msg["asks"]}
        else:
            if self.seq is None or msg["seq"] != self.seq + 1:
                raise Gap(self.seq, msg["seq"])
            self.seq = msg["seq"]
            self.updates += 1
            for side, levels in ((self.bids, msg["bids"]), (self.asks, msg["asks"])):
                for p, q in levels:
                    if q:
                        side[p] = q
                    else:
                        side.pop(p, None)
        bids, asks = self.top()
        assert book_checksum(bids, asks) == msg["checksum"], (msg, bids, asks)


class Gap(Exception):
    pass


async def recv(ws: ClientConnection, **match: Any) -> dict[str, Any]:
    """The next message whose fields equal ``match`` (heartbeats and others are skipped).
    A generous guard turns a hang into a failure that shows what came instead."""
    skipped: list[Any] = []
    try:
        async with asyncio.timeout(20):
            while True:
                msg = json.loads(await ws.recv())
                if all(msg.get(k) == v for k, v in match.items()):
                    return msg
                skipped.append(msg)
    except TimeoutError:
        raise AssertionError(f"no message matching {match}; got {skipped[-5:]}") from None


async def send(ws: ClientConnection, **msg: Any) -> None:
    await ws.send(json.dumps(msg))
