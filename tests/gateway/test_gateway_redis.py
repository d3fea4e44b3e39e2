"""Multi-process mode against a real Redis: one `herbx engine`, two `herbx gateway` processes.

An order placed through gateway A is seen as a trade on a WebSocket of gateway B, whose book
stream keeps its seq and checksums intact; both gateways serve the same book. Skips without a
Redis (fails instead when CI=true).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import aiohttp
import pytest
from websockets.asyncio.client import connect

from gateway.demo.market import assay_results
from tests.gateway.wsclient import LocalBook, recv, send

REDIS_URL = os.environ.get("HERBX_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
ROOT = Path(__file__).resolve().parents[2]
OPERATOR = "redis-test-operator"
SYMBOL = "QUE-BARK-A"


def _redis_up() -> bool:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
        return True
    except Exception:
        return False


if not _redis_up():
    if os.environ.get("CI") == "true":
        raise RuntimeError(f"Redis is required in CI: {REDIS_URL}")
    pytest.skip(f"no Redis at {REDIS_URL}", allow_module_level=True)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Processes:
    def __init__(self, tmp: Path) -> None:
        self.prefix = f"herbx-test-{uuid.uuid4().hex[:8]}"
        self.tmp = tmp
        self.procs: list[subprocess.Popen[bytes]] = []
        self.env = {**os.environ, "HERBX_OPERATOR_TOKEN": OPERATOR}

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        p = subprocess.Popen([sys.executable, "-m", "gateway.cli", *args,
                              "--redis-url", REDIS_URL, "--redis-prefix", self.prefix,
                              "--data-dir", str(self.tmp), "--tick-ms", "0",
                              "--log-level", "warning"],
                             cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
        self.procs.append(p)
        return p

    def gateway(self) -> str:
        port = _port()
        self.start("gateway", "--port", str(port), "--conflate-ms", "0",
                   "--rate-per-s", "100000", "--rate-burst", "100000")
        return f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            if p.stderr is not None:
                p.stderr.close()
        import redis

        r = redis.Redis.from_url(REDIS_URL)
        r.delete(f"{self.prefix}:commands", f"{self.prefix}:journal")
        r.close()


async def _ready(http: aiohttp.ClientSession, base: str) -> None:
    async with asyncio.timeout(60):
        while True:
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"{base}/readyz") as r:
                    if r.status == 200:
                        return
            await asyncio.sleep(0.1)


async def _call(http, method, url, token, **body):
    async with http.request(method, url, json=body or None,
                            headers={"Authorization": f"Bearer {token}"}) as r:
        data = await r.json()
        assert r.status < 400, (method, url, r.status, data)
        return data


async def test_order_through_a_is_a_trade_on_b(tmp_path) -> None:
    procs = Processes(tmp_path)
    try:
        procs.start("engine")
        a, b = procs.gateway(), procs.gateway()
        async with aiohttp.ClientSession() as http:
            await _ready(http, a)
            await _ready(http, b)
            await _call(http, "POST", f"{a}/api/v1/instruments", OPERATOR, symbol=SYMBOL,
                        herb="QUE", grade="A", tick_vnd=100)
            tokens = {}
            for pid, role in (("T1", "trader"), ("C1", "cooperative"), ("L1", "lab")):
                await _call(http, "POST", f"{a}/api/v1/participants", OPERATOR, id=pid,
                            name=pid, role=role, number=3)
                tokens[pid] = (await _call(http, "POST", f"{a}/api/v1/participants/{pid}/tokens",
                                           OPERATOR))["token"]
            await _call(http, "POST", f"{a}/api/v1/deposits", OPERATOR, account="T1",
                        amount_vnd=10**10)

            class _Gw:
                from grading.catalogue import load_catalogue

                catalogue = load_catalogue()

            results = [{"parameter": r.parameter, "value": r.value, "unit": r.unit}
                       for r in assay_results(_Gw, "QUE-BARK", "A")]  # type: ignore[arg-type]
            await _call(http, "POST", f"{a}/api/v1/lots", tokens["C1"], lot_id="R-1",
                        spec_id="QUE-BARK", qty=500, harvest_date="2026-10-01", commune="x",
                        growing_area={"code": "LC-R-0001", "issuer": "x",
                                      "valid_from": "2024-01-01"})
            await _call(http, "POST", f"{a}/api/v1/lots/R-1/assays", tokens["L1"],
                        sample_id="s", results=results)
            await _call(http, "POST", f"{a}/api/v1/lots/R-1/receive", OPERATOR,
                        qty_received=500)
            await _call(http, "POST", f"{a}/api/v1/lots/R-1/list", tokens["C1"], venue="book")
            ws_url = b.replace("http://", "ws://") + "/ws"
            async with connect(ws_url) as ws:
                await send(ws, op="subscribe", channels=[f"book:{SYMBOL}", f"trades:{SYMBOL}"])
                book = LocalBook()
                book.apply(await recv(ws, channel=f"book:{SYMBOL}", type="snapshot"))
                sell = await _call(http, "POST", f"{a}/api/v1/orders", tokens["C1"],
                                   symbol=SYMBOL, side="sell", price=61_000, qty=100)
                assert sell["status"] == "new"
                buy = await _call(http, "POST", f"{a}/api/v1/orders", tokens["T1"],
                                  symbol=SYMBOL, side="buy", price=61_000, qty=30)
                assert buy["status"] == "filled" and buy["fills"][0]["lots"] == [["R-1", 30]]
                trade = None
                while trade is None or book.seq < 2:  # the rest, then the partial fill
                    msg = await recv(ws)
                    if msg.get("type") == "trade":
                        trade = msg
                    elif msg.get("channel") == f"book:{SYMBOL}":
                        book.apply(msg)
                assert (trade["price"], trade["qty"], trade["aggressor"]) == (61_000, 30, "buy")
                assert book.asks == {61_000: 70} and book.seq == 2
            books = []
            for base in (a, b):
                async with http.get(f"{base}/api/v1/instruments/{SYMBOL}/book") as r:
                    books.append(await r.json())
            assert books[0] == books[1]
            # B answers queries from its replica too
            bal = await _call(http, "GET", f"{b}/api/v1/balances", tokens["T1"])
            # the trade waits for payment: T1's cash is held for it (delivery versus payment)
            assert (bal["cash_vnd"], bal["cash_dvp_vnd"]) == (10**10, 30 * 61_000)
            # a gateway started now catches up from the journal stream, trades included
            c = procs.gateway()
            await _ready(http, c)
            async with http.get(f"{c}/api/v1/instruments/{SYMBOL}/book") as r:
                assert await r.json() == books[0]
            async with http.get(f"{c}/api/v1/instruments/{SYMBOL}/trades") as r:
                assert [(t["price"], t["qty"]) for t in (await r.json())["trades"]] == [
                    (61_000, 30)]
            # every gateway shows the same lot views, rebuilt from the journal stream
            traces = []
            for base in (a, b, c):
                async with http.get(f"{base}/api/v1/trace/R-1") as r:
                    doc = await r.json()
                    del doc["trace_url"]  # each gateway names its own host
                    traces.append(doc)
            assert traces[0] == traces[1] == traces[2]
            assert (traces[0]["state"], traces[0]["remaining_qty"]) == ("partly_sold", 470)
            assert traces[0]["sales"][0]["price_per_kg_active"] is not None
    finally:
        procs.stop()
