"""The load of `herbx chaos`: a small asyncio client of the public REST and WebSocket API.

Owns the chaos market's participants (made through the operator API: funded buyers, cooperatives
with a graded lot each, a lab), the order workers (crossing limit orders and cancels, each with
a unique client order id; every 201 answer is recorded as acknowledged, with its fills), and the
book subscribers, which keep a book across kills: a lost connection is reconnected and the
book resynced from a new snapshot, a gap or a checksum mismatch is resynced too (and counted).

Never imports the market's code: only `loadtest.watch`'s book (the code a real client runs) and
the grading samples for a plausible assay.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from loadtest.watch import WatchedBook

SYMBOL = "QUE-BARK-A"
BUYERS = ("CHB1", "CHB2", "CHB3")
SELLERS = ("CHS1", "CHS2")
LAB = "CHLAB"
MID_VND = 60_000
TICK_VND = 100
LOT_KG = 1_000_000
CASH_VND = 10**13
MAX_RESTING_CANCELS = 2_000  # resting acked orders remembered per owner for cancels


@dataclass
class Acked:
    """An order the market acknowledged (201), as the client saw it then."""

    order_id: int
    client_order_id: str
    owner: str
    gateway: str
    filled_qty: int
    trade_ids: tuple[int, ...]
    checked: bool = False


@dataclass
class Subscriber:
    """A WebSocket client keeping one book across kills."""

    base: str
    book: WatchedBook = field(default_factory=WatchedBook)
    connected: bool = False
    connects: int = 0
    problems: list[str] = field(default_factory=list)


class Load:
    def __init__(self, http: aiohttp.ClientSession, gateways: list[str], operator: str, *,
                 rng: random.Random, workers: int, subscribers: int) -> None:
        self.http = http
        self.gateways = gateways
        self.operator = operator
        self.rng = rng
        self.workers = workers
        self.tokens: dict[str, str] = {}
        self.acked: list[Acked] = []
        self.resting: dict[str, list[int]] = {}
        self.sent = 0
        self.cancels = 0
        self.unknown = 0  # requests whose answer was lost (connection cut): outcome unknown
        self.refused = 0
        self.statuses: Counter[int] = Counter()  # answers to order entry, by HTTP status
        # answers that are not clear: a 500, a 5xx without problem+json, a body that is not
        # JSON (a market in trouble must still say what happened, in the API's error shape)
        self.unclear: list[str] = []
        self.subs = [Subscriber(gateways[i % len(gateways)]) for i in range(subscribers)]
        self._run = asyncio.Event()
        self._idle = asyncio.Event()
        self._inflight = 0
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []
        self._n = 0

    # -- set-up through the operator API -------------------------------------------------------

    async def call(self, method: str, path: str, token: str, body: Any = None,
                   base: str | None = None) -> tuple[int, Any]:
        url = f"{base or self.gateways[0]}{path}"
        async with self.http.request(method, url, json=body,
                                     headers={"Authorization": f"Bearer {token}"}) as r:
            if r.status == 500 or (r.status >= 500
                                   and r.content_type != "application/problem+json"):
                self.unclear.append(f"{method} {path}: {r.status} {r.content_type}")
            try:
                return r.status, await r.json(content_type=None)
            except ValueError:
                self.unclear.append(f"{method} {path}: {r.status} with a body that is not JSON")
                return r.status, None

    async def must(self, method: str, path: str, token: str, body: Any = None) -> Any:
        status, doc = await self.call(method, path, token, body)
        if status >= 400:
            raise RuntimeError(f"chaos set-up: {method} {path}: {status} {doc}")
        return doc

    async def setup(self) -> None:
        from grading.catalogue import load_catalogue
        from settlement.ticks.history import sample_assay

        op = self.operator
        await self.must("POST", "/api/v1/instruments", op, {
            "symbol": SYMBOL, "herb": "QUE", "grade": "A", "tick_vnd": TICK_VND})
        people = ([(p, "trader") for p in BUYERS] + [(p, "cooperative") for p in SELLERS]
                  + [(LAB, "lab")])
        for i, (pid, role) in enumerate(people):
            await self.must("POST", "/api/v1/participants", op,
                            {"id": pid, "name": f"chaos {pid}", "role": role, "number": i + 1})
            doc = await self.must("POST", f"/api/v1/participants/{pid}/tokens", op)
            self.tokens[pid] = doc["token"]
        for pid in BUYERS:
            await self.must("POST", "/api/v1/deposits", op, {
                "account": pid, "amount_vnd": CASH_VND, "transfer_id": f"chaos-{pid}"})
        results = [{"parameter": r.parameter, "value": str(r.value), "unit": r.unit}
                   for r in sample_assay(load_catalogue(), "QUE-BARK", "A")]
        for i, pid in enumerate(SELLERS):
            lot = f"CH-{i + 1}"
            await self.must("POST", "/api/v1/lots", self.tokens[pid], {
                "lot_id": lot, "spec_id": "QUE-BARK", "qty": LOT_KG,
                "harvest_date": "2026-10-01", "commune": "Bảo Yên",
                "growing_area": {"code": f"LC-CH-{i + 1:04d}", "issuer": "chaos",
                                 "valid_from": "2024-01-01"}})
            await self.must("POST", f"/api/v1/lots/{lot}/assays", self.tokens[LAB],
                            {"sample_id": f"s-{lot}", "results": results})
            await self.must("POST", f"/api/v1/lots/{lot}/receive", op, {"qty_received": LOT_KG})
            await self.must("POST", f"/api/v1/lots/{lot}/list", self.tokens[pid],
                            {"venue": "book"})

    # -- running, pausing ------------------------------------------------------------------

    def start(self) -> None:
        self._run.set()
        for i in range(self.workers):
            self._tasks.append(asyncio.create_task(self._worker(i)))
        for sub in self.subs:
            self._tasks.append(asyncio.create_task(self._subscribe(sub)))

    async def pause(self) -> None:
        """Stop sending, and wait for the answers of what is in flight."""
        self._run.clear()
        while self._inflight:
            self._idle.clear()
            await self._idle.wait()

    def resume(self) -> None:
        self._run.set()

    async def stop(self) -> None:
        self._stopping = True
        await self.pause()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with suppress(asyncio.CancelledError):
                await t

    def resyncs(self) -> int:
        return sum(max(0, s.connects - 1) for s in self.subs)

    async def _worker(self, i: int) -> None:
        rng = random.Random(self.rng.random())
        while True:
            await self._run.wait()
            self._inflight += 1
            try:
                if rng.random() < 0.2:
                    await self._cancel(rng)
                else:
                    await self._place(rng)
            except (TimeoutError, aiohttp.ClientError, OSError):
                self.unknown += 1  # the market is down: its outcome is whatever it journaled
                await asyncio.sleep(0.05)
            finally:
                self._inflight -= 1
                if not self._inflight:
                    self._idle.set()

    async def probe(self, base: str) -> str | None:
        """One order on ``base`` while a service is down: None when it is refused clearly
        (503 problem+json), else what happened instead (an order acknowledged anyway is
        recorded, so the checks cover it)."""
        self._n += 1
        coid = f"ch-probe-{self._n}"
        body = {"symbol": SYMBOL, "side": "buy", "type": "limit", "tif": "gtc",
                "price": MID_VND - 50 * TICK_VND, "qty": 1, "client_order_id": coid}
        owner = BUYERS[0]
        try:
            async with self.http.post(f"{base}/api/v1/orders", json=body, headers={
                    "Authorization": f"Bearer {self.tokens[owner]}"}) as r:
                doc = await r.json(content_type=None)
                if r.status == 503 and r.content_type == "application/problem+json":
                    return None
                if r.status == 201:
                    self.acked.append(Acked(doc["order_id"], coid, owner, base,
                                            doc["filled_qty"], ()))
                return f"{r.status} {r.content_type}: {doc}"[:300]
        except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as exc:
            return f"no clear answer: {exc!r}"

    async def _place(self, rng: random.Random) -> None:
        side = rng.choice(("buy", "sell"))
        owner = rng.choice(BUYERS if side == "buy" else SELLERS)
        self._n += 1
        coid = f"ch-{self._n}"
        base = rng.choice(self.gateways)
        body = {"symbol": SYMBOL, "side": side, "type": "limit", "tif": "gtc",
                "price": MID_VND + TICK_VND * rng.randint(-4, 4), "qty": rng.randint(1, 20),
                "client_order_id": coid}
        self.sent += 1
        status, doc = await self.call("POST", "/api/v1/orders", self.tokens[owner], body, base)
        self.statuses[status] += 1
        if status == 201:
            self.acked.append(Acked(doc["order_id"], coid, owner, base, doc["filled_qty"],
                                    tuple(f["trade_id"] for f in doc.get("fills", []))))
            if doc["leaves_qty"]:
                resting = self.resting.setdefault(owner, [])
                resting.append(doc["order_id"])
                del resting[:-MAX_RESTING_CANCELS]
        elif status in (502, 503, 504):
            self.unknown += 1
            await asyncio.sleep(0.05)
        else:
            self.refused += 1

    async def _cancel(self, rng: random.Random) -> None:
        owner = rng.choice(BUYERS + SELLERS)
        resting = self.resting.get(owner)
        if not resting:
            return
        oid = resting.pop(rng.randrange(len(resting)))
        status, _ = await self.call("DELETE", f"/api/v1/orders/{oid}", self.tokens[owner],
                                    base=rng.choice(self.gateways))
        if status < 300:
            self.cancels += 1

    async def _subscribe(self, sub: Subscriber) -> None:
        url = sub.base.replace("http://", "ws://") + "/ws"
        channel = f"book:{SYMBOL}"
        while not self._stopping:
            try:
                async with self.http.ws_connect(url, heartbeat=None) as ws:
                    sub.connects += 1
                    sub.book = WatchedBook()
                    await ws.send_json({"op": "subscribe", "channels": [channel]})
                    sub.connected = True
                    awaiting = True  # updates before the snapshot belong to the old stream
                    async for frame in ws:
                        if frame.type != aiohttp.WSMsgType.TEXT:
                            break
                        msg = frame.json()
                        if msg.get("channel") != channel:
                            continue
                        if awaiting and msg.get("type") != "snapshot":
                            continue
                        awaiting = False
                        problem = sub.book.apply(msg)
                        if problem is not None:  # resync: a new snapshot
                            sub.problems.append(problem)
                            awaiting = True
                            await ws.send_json({"op": "unsubscribe", "channels": [channel]})
                            await ws.send_json({"op": "subscribe", "channels": [channel]})
            except (TimeoutError, aiohttp.ClientError, OSError):
                pass
            sub.connected = False
            await asyncio.sleep(0.05)
