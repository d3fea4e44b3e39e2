"""`herbx bench gateway`: drive a real `herbx serve` over loopback and measure it.

An I/O benchmark (never a test). It starts ``herbx serve`` in a subprocess on a free port with
a fresh data directory and the journal on (fdatasync per group commit), seeds it over REST, then:

1. order entry: ``connections`` WebSocket connections (half buyers, half cooperatives selling
   from a lot in custody) each keep ``window`` orders in flight until ``orders`` are answered;
   prices overlap so about a tenth trade. Ack latency = from sending an order to its ``result``.
2. fan-out: ``subscribers`` WebSocket clients (in ``procs`` client processes) follow one book
   while a driver changes it ``rate`` times a second for ``seconds`` (every order rests at a new
   level, so the engine's book_seq n is order n). Delivery latency = from sending an order to a
   subscriber receiving the update that carries it (so it includes the group commit); with
   conflation one update carries several orders, and the latency counted is the oldest one's.

Both sides share one machine: client processes compete with the server for CPU. The last line
is one JSON object with ``orders_per_s``, ``ack_p99_ms`` and ``fanout_p99_ms`` (and more).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any

OPERATOR_TOKEN = "bench-operator-token"
ORDERS_SYMBOL = "QUE-BARK-A"
FANOUT_SYMBOL = "QUE-BARK-B"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (the load test and the fuzzer use it too)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


# -- seeding over REST ----------------------------------------------------------------------------


async def _seed(base: str, connections: int) -> dict[str, str]:
    import aiohttp

    from gateway.demo.market import assay_results

    op = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    tokens: dict[str, str] = {}
    async with aiohttp.ClientSession(base) as http:

        async def call(method: str, path: str, headers: dict[str, str], **body: Any) -> Any:
            async with http.request(method, path, json=body or None, headers=headers) as r:
                data = await r.json()
                if r.status >= 400:
                    raise RuntimeError(f"{method} {path}: {r.status} {data}")
                return data

        for sym, grade in ((ORDERS_SYMBOL, "A"), (FANOUT_SYMBOL, "B")):
            await call("POST", "/api/v1/instruments", op, symbol=sym, herb="QUE", grade=grade,
                       tick_vnd=100)
        people = [("LAB", "lab")] + [(f"B{i}", "trader") for i in range(connections)] + \
                 [(f"S{i}", "cooperative") for i in range(connections)]
        for pid, role in people:
            await call("POST", "/api/v1/participants", op, id=pid, name=pid, role=role,
                       number=1 + len(tokens))
            tokens[pid] = (await call("POST", f"/api/v1/participants/{pid}/tokens", op))["token"]
        for pid, role in people:
            if role == "trader":
                await call("POST", "/api/v1/deposits", op, account=pid,
                           amount_vnd=10**15)
        from types import SimpleNamespace

        from grading.catalogue import load_catalogue

        gw = SimpleNamespace(catalogue=load_catalogue())  # what `assay_results` needs
        results = [{"parameter": r.parameter, "value": r.value, "unit": r.unit}
                   for r in assay_results(gw, "QUE-BARK", "A")]  # type: ignore[arg-type]
        area = {"code": "LC-BENCH-0001", "issuer": "bench", "valid_from": "2024-01-01"}
        day = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 86_400 * 5))
        for i in range(connections):
            sid, lot = f"S{i}", f"BENCH-{i}"
            h = {"Authorization": f"Bearer {tokens[sid]}"}
            await call("POST", "/api/v1/lots", h, lot_id=lot, spec_id="QUE-BARK",
                       qty=10**9, harvest_date=day, growing_area=area, commune="bench")
            await call("POST", f"/api/v1/lots/{lot}/assays",
                       {"Authorization": f"Bearer {tokens['LAB']}"}, sample_id="s",
                       results=results)
            await call("POST", f"/api/v1/lots/{lot}/receive", op, qty_received=10**9)
            await call("POST", f"/api/v1/lots/{lot}/list", h, venue="book")  # now it may sell
    return tokens


# -- phase 1: order entry ---------------------------------------------------------------------


async def _order_conn(url: str, token: str, side: str, n: int, window: int, seed: int,
                      lat_ms: list[float], refused: list[int]) -> None:
    from websockets.asyncio.client import connect

    rng = random.Random(seed)
    sent: dict[int, int] = {}
    free = asyncio.Semaphore(window)
    async with connect(url, additional_headers={"Authorization": f"Bearer {token}"},
                       max_queue=None, compression=None) as ws:

        async def reader() -> None:
            got = 0
            while got < n:
                msg = json.loads(await ws.recv())
                rid = msg.get("req_id")
                if rid is None or rid not in sent:
                    continue
                lat_ms.append((time.perf_counter_ns() - sent.pop(rid)) / 1e6)
                if msg["type"] != "result":
                    refused[0] += 1
                got += 1
                free.release()

        task = asyncio.create_task(reader())
        for i in range(n):
            await free.acquire()
            # buyers 59,000-61,000, sellers 60,000-62,000: about a tenth cross
            base = 59_000 if side == "buy" else 60_000
            price = base + 100 * rng.randrange(0, 21)
            sent[i] = time.perf_counter_ns()
            await ws.send(json.dumps({"op": "order", "req_id": i, "symbol": ORDERS_SYMBOL,
                                      "side": side, "price": price, "qty": rng.randrange(1, 20)}))
        await task


async def _orders_phase(url: str, tokens: dict[str, str], connections: int, orders: int,
                        window: int) -> dict[str, Any]:
    lat: list[float] = []
    refused = [0]
    per = orders // (2 * connections)
    t0 = time.perf_counter()
    await asyncio.gather(*(
        _order_conn(url, tokens[f"{p}{i}"], side, per, window, 1000 * i + (p == "S"), lat,
                    refused)
        for i in range(connections) for p, side in (("B", "buy"), ("S", "sell"))))
    elapsed = time.perf_counter() - t0
    return {"orders": len(lat), "seconds": round(elapsed, 3),
            "orders_per_s": round(len(lat) / elapsed), "ack_p50_ms": round(_pct(lat, 50), 2),
            "ack_p99_ms": round(_pct(lat, 99), 2), "refused": refused[0]}


# -- phase 2: fan-out -----------------------------------------------------------------------------


def _int_field(raw: str, name: str) -> int:
    i = raw.index(f'"{name}":') + len(name) + 3
    j = i
    while raw[j].isdigit():
        j += 1
    return int(raw[i:j])


async def _subscribers(url: str, n: int, expected: int, out: Any) -> None:
    """Each update may carry several orders (conflation): record, per message, the oldest and
    the newest order it carries (by the engine's book_seq) with the time it arrived."""
    from websockets.asyncio.client import connect

    recv: list[tuple[int, int, int]] = []  # oldest book_seq, newest book_seq, recv ns
    conns = [await connect(url, max_queue=None, compression=None) for _ in range(n)]
    starts: list[int] = []
    for ws in conns:
        await ws.send(json.dumps({"op": "subscribe", "channels": [f"book:{FANOUT_SYMBOL}"]}))
    for ws in conns:
        while True:
            msg = json.loads(await ws.recv())
            if msg.get("type") == "snapshot":
                starts.append(msg["book_seq"])
                break
    out.send(("ready", max(starts)))
    final = max(starts) + expected

    async def one(ws: Any, last: int) -> None:
        while last < final:
            raw = await ws.recv()
            if '"type":"update"' not in raw:
                continue
            now = time.time_ns()
            newest = _int_field(raw, "book_seq")
            recv.append((last + 1, newest, now))
            last = newest

    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(120):
            await asyncio.gather(*(one(ws, s) for ws, s in zip(conns, starts, strict=True)))
    for ws in conns:
        await ws.close()
    out.send(("done", recv[:: max(1, len(recv) // 50_000)], len(recv)))


def _subscriber_main(url: str, n: int, expected: int, out: Any) -> None:
    asyncio.run(_subscribers(url, n, expected, out))


async def _fanout_phase(url: str, token: str, subscribers: int, procs: int, rate: int,
                        seconds: float) -> dict[str, Any]:
    from websockets.asyncio.client import connect

    n = int(rate * seconds)
    ctx = multiprocessing.get_context("spawn")
    pipes, workers = [], []
    for k in range(procs):
        parent, child = ctx.Pipe()
        share = subscribers // procs + (1 if k < subscribers % procs else 0)
        w = ctx.Process(target=_subscriber_main, args=(url, share, n, child), daemon=True)
        w.start()
        pipes.append(parent)
        workers.append(w)
    loop = asyncio.get_running_loop()
    seqs = [(await loop.run_in_executor(None, p.recv))[1] for p in pipes]
    seq0 = max(seqs)
    sent_ns: list[int] = []
    lagging = 0
    async with connect(url, additional_headers={"Authorization": f"Bearer {token}"},
                       max_queue=None) as ws:

        async def drain() -> None:
            async for _ in ws:
                pass

        reader = asyncio.create_task(drain())
        start = time.perf_counter()
        for i in range(n):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                lagging += 1
            sent_ns.append(time.time_ns())
            # each order rests alone at a new price: exactly one book update each
            await ws.send(json.dumps({"op": "order", "req_id": i, "symbol": FANOUT_SYMBOL,
                                      "side": "buy", "price": 10_000 + 100 * i, "qty": 1}))
        results = [await loop.run_in_executor(None, p.recv) for p in pipes]
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
    for w in workers:
        w.join(10)
    oldest = [(t - sent_ns[a - seq0 - 1]) / 1e6 for _, sample, _ in results
              for a, _, t in sample if 0 < a - seq0 <= n]
    newest = [(t - sent_ns[b - seq0 - 1]) / 1e6 for _, sample, _ in results
              for _, b, t in sample if 0 < b - seq0 <= n]
    messages = sum(total for _, _, total in results)
    return {"subscribers": subscribers, "rate": rate, "seconds": seconds,
            "messages_delivered": messages, "book_changes": n,
            "fanout_p50_ms": round(_pct(oldest, 50), 1),
            "fanout_p99_ms": round(_pct(oldest, 99), 1),
            "newest_change_p99_ms": round(_pct(newest, 99), 1),
            "driver_lagging_sends": lagging}


# -- main -----------------------------------------------------------------------------------------


async def _run(args: dict[str, Any]) -> dict[str, Any]:
    import aiohttp

    port = free_port()
    data = tempfile.mkdtemp(prefix="herbx-bench-")
    env = {**os.environ, "HERBX_OPERATOR_TOKEN": OPERATOR_TOKEN}
    server = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "serve", "--port", str(port), "--data-dir", data,
         "--log-level", "warning", "--tick-ms", "1000", "--rate-per-s", "1000000",
         "--rate-burst", "1000000"], env=env, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    url = f"ws://127.0.0.1:{port}/ws"
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(200):
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"{base}/readyz") as r:
                        if r.status == 200:
                            break
                await asyncio.sleep(0.05)
        tokens = await _seed(base, args["connections"])
        result: dict[str, Any] = {"machine": f"{os.cpu_count()} cpu, {sys.platform}",
                                  "journal": "on (fdatasync per group commit)"}
        print(f"order entry: {args['orders']} orders over {2 * args['connections']} "
              f"connections, window {args['window']} ...", flush=True)
        result["orders"] = await _orders_phase(url, tokens, args["connections"], args["orders"],
                                               args["window"])
        print(f"  {result['orders']}", flush=True)
        print(f"fan-out: {args['subscribers']} subscribers, {args['rate']} updates/s for "
              f"{args['seconds']} s ...", flush=True)
        result["fanout"] = await _fanout_phase(url, tokens["B0"], args["subscribers"],
                                               args["procs"], args["rate"], args["seconds"])
        print(f"  {result['fanout']}", flush=True)
        return result
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        shutil.rmtree(data, ignore_errors=True)


def main(*, orders: int = 20_000, connections: int = 4, window: int = 64,
         subscribers: int = 1000, rate: int = 200, seconds: float = 10.0,
         procs: int = 2) -> int:
    result = asyncio.run(_run(dict(orders=orders, connections=connections, window=window,
                                   subscribers=subscribers, rate=rate, seconds=seconds,
                                   procs=procs)))
    summary = {"orders_per_s": result["orders"]["orders_per_s"],
               "ack_p99_ms": result["orders"]["ack_p99_ms"],
               "fanout_p99_ms": result["fanout"]["fanout_p99_ms"], **result}
    print(json.dumps(summary))
    return 0
