"""A test WebSocket client (the websockets library) that keeps its own copy of a book and
proves it against every checksum, as a real client would."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.asyncio.client import ClientConnection

from loadtest.watch import WatchedBook


class LocalBook(WatchedBook):
    """`herbx watch`'s own book (the code a real client runs), made strict for tests: a gap
    raises `Gap`, a checksum mismatch fails the test."""

    def top(self) -> tuple[list[list[int]], list[list[int]]]:
        """Bids best first and asks best first, as the REST book shows them."""
        bids, asks = self.levels()
        return [[p, q] for p, q in bids], [[p, q] for p, q in asks]

    def apply(self, msg: dict[str, Any]) -> None:  # type: ignore[override]
        problem = super().apply(msg)
        if problem is not None and problem.startswith("gap"):
            raise Gap(self.seq, msg["seq"])
        assert problem is None, (problem, msg)


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
