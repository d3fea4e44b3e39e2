"""`herbx bench fanout`: which WebSocket server fans out a book faster, aiohttp's or websockets'?

An I/O benchmark (the gateway issue asks to choose the server side by measurement). For each
server kind it starts a minimal server in this process that, once ``subscribers`` clients are
connected, publishes one book-update-sized JSON message ``rate`` times a second for
``seconds`` seconds to every client, the way the gateway's fan-out does (the message encoded
once, then written to each connection without awaiting a slow one). The clients run in a
separate process (the websockets asyncio client), record the delivery latency of every
message from the ``sent_ns`` it carries (both processes read the same wall clock), and report
percentiles. The last line printed is one JSON object with both servers' figures.

A fourth kind, ``gateway_hub``, is the gateway's own delivery path (`gateway.stream.fanout.Hub`
writing through `gateway.stream.ws.Client`): each tick publishes one commit group of three
messages (a book update, a trade, a ticker) on three channels every client follows, so it sends
three times ``rate`` messages; ``publish_us_per_delivery`` is the server's time inside the
publish per message and client.

Figures are for one machine with two cores shared by server and clients: the clients' own
parsing competes with the server for CPU, so absolute numbers are pessimistic; the comparison
is what matters.

Never imported by the market.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import os
import sys
import time
from typing import Any

BOOK_UPDATE = (
    '{{"channel":"book:QUE-BARK-A","type":"update","seq":{seq},"bids":[[61500,120]],'
    '"asks":[[61700,35]],"checksum":3310468839,"sent_ns":{sent}}}'
)


#: the gateway's own fan-out publishes a commit group's messages together: a book update, the
#: trade that caused it and the instrument's ticker (what one order that trades produces)
GROUP = (
    BOOK_UPDATE,
    '{{"channel":"trades:QUE-BARK-A","type":"trade","seq":{seq},"ts":"2026-11-29T09:00:00.123Z",'
    '"price":61500,"qty":120,"aggressor":"buy","sent_ns":{sent}}}',
    '{{"channel":"ticker","type":"ticker","seq":{seq},"symbol":"QUE-BARK-A","last":61500,'
    '"open":61000,"high":61700,"low":60900,"change":500,"volume":123456,"trades":812,'
    '"best_bid":61500,"best_ask":61700,"last_price_per_kg_active":null,"sent_ns":{sent}}}',
)

KINDS = ("aiohttp", "aiohttp_sequential", "websockets", "gateway_hub")


# -- clients (a separate process) --------------------------------------------------------------


async def _clients(url: str, n: int, out: Any) -> None:
    import websockets

    latencies: list[int] = []
    received = 0
    done = asyncio.Event()
    remaining = n

    async def one(ws: Any) -> None:
        nonlocal received, remaining
        async for raw in ws:
            if raw == "end":
                break
            now = time.time_ns()
            # read sent_ns without a full JSON parse: it is the last field
            sent = int(raw[raw.rindex(":") + 1 : -1])
            latencies.append(now - sent)
            received += 1
        remaining -= 1
        if remaining == 0:
            done.set()

    conns = []
    for _ in range(n):
        conns.append(await websockets.connect(url, max_queue=None, compression=None))
    tasks = [asyncio.create_task(one(ws)) for ws in conns]
    out.send("connected")
    await done.wait()
    for t in tasks:
        await t
    for ws in conns:
        await ws.close()
    latencies.sort()
    out.send({"received": received, "latencies_ns": latencies[:: max(1, len(latencies) // 20000)]})


def _client_main(url: str, n: int, out: Any) -> None:
    asyncio.run(_clients(url, n, out))


# -- servers ---------------------------------------------------------------------------------


class _Run:
    def __init__(self, rate: int, seconds: float) -> None:
        self.rate = rate
        self.seconds = seconds
        self.sent = 0
        self.lagging_publishes = 0
        self.publish_s = 0.0  # wall time inside the synchronous publish calls


async def _publish_loop(run: _Run, send_all: Any, publish_group: Any = None) -> None:
    """``send_all(text)`` once per tick, or ``publish_group(seq, sent_ns)`` when given."""
    interval = 1 / run.rate
    start = time.perf_counter()
    n = int(run.rate * run.seconds)
    for seq in range(1, n + 1):
        target = start + seq * interval
        delay = target - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            run.lagging_publishes += 1
        t0 = time.perf_counter()
        if publish_group is not None:
            publish_group(seq, time.time_ns())
            run.sent += len(GROUP)
        else:
            send_all(BOOK_UPDATE.format(seq=seq, sent=time.time_ns()))
            run.sent += 1
        run.publish_s += time.perf_counter() - t0


async def _serve_aiohttp(port: int, n: int, run: _Run, connected: asyncio.Event,
                         go: asyncio.Event, sequential: bool = False) -> None:
    from aiohttp import WSMsgType, web

    conns: list[web.WebSocketResponse] = []

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=False)
        await ws.prepare(request)
        conns.append(ws)
        if len(conns) == n:
            connected.set()
        async for msg in ws:
            if msg.type == WSMsgType.CLOSE:
                break
        return ws

    app = web.Application()
    app.router.add_get("/ws", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        await go.wait()

        def send_all(text: str) -> None:
            # aiohttp's send_str is a coroutine: one task per client and message
            for ws in conns:
                asyncio.ensure_future(ws.send_str(text))

        async def send_all_sequential(text: str) -> None:
            # one task per message awaiting each client's send in turn (a send rarely suspends,
            # but one that does holds up the clients after it)
            for ws in conns:
                await ws.send_str(text)

        if sequential:
            await _publish_loop(run, lambda text: asyncio.ensure_future(send_all_sequential(text)))
        else:
            await _publish_loop(run, send_all)
        send_all("end")
        await asyncio.sleep(0.5)
    finally:
        for ws in conns:
            await ws.close()
        await runner.cleanup()


async def _serve_websockets(port: int, n: int, run: _Run, connected: asyncio.Event,
                            go: asyncio.Event) -> None:
    import websockets
    from websockets.asyncio.server import broadcast, serve

    conns: list[Any] = []

    async def handler(ws: Any) -> None:
        conns.append(ws)
        if len(conns) == n:
            connected.set()
        with contextlib.suppress(websockets.ConnectionClosed):
            await ws.wait_closed()

    async with serve(handler, "127.0.0.1", port, compression=None, max_queue=None):
        await go.wait()
        await _publish_loop(run, lambda text: broadcast(conns, text))
        broadcast(conns, "end")
        await asyncio.sleep(0.5)


async def _serve_gateway_hub(port: int, n: int, run: _Run, connected: asyncio.Event,
                             go: asyncio.Event) -> None:
    """The gateway's own delivery path: `gateway.stream.fanout.Hub` and `gateway.stream.ws.Client`
    on aiohttp, each publish one commit group of three messages on three channels that every
    client follows (``rate`` groups a second, so three times as many messages)."""
    from types import SimpleNamespace

    import msgspec
    from aiohttp import WSMsgType, web

    from gateway.config import Settings
    from gateway.stream.fanout import Hub, text_frame
    from gateway.stream.ws import Client

    hub = Hub()
    gw: Any = SimpleNamespace(settings=Settings(), hub=hub)  # what a Client reads of it
    channels = ("book:QUE-BARK-A", "trades:QUE-BARK-A", "ticker")
    clients: list[Client] = []

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=False)
        writer = await ws.prepare(request)
        client = Client(gw, ws, request.remote or "?")
        assert request.transport is not None
        client.attach(request.transport, writer)
        for ch in channels:
            hub.subscribe(ch, client)
        clients.append(client)
        if len(clients) == n:
            connected.set()
        async for msg in ws:
            if msg.type == WSMsgType.CLOSE:
                break
        return ws

    def publish_group(seq: int, sent_ns: int) -> None:
        hub.publish([(("channel", ch), msgspec.json.decode(template.format(seq=seq, sent=sent_ns)))
                     for ch, template in zip(channels, GROUP, strict=True)])

    app = web.Application()
    app.router.add_get("/ws", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        await go.wait()
        await _publish_loop(run, None, publish_group)
        for client in clients:
            client.push(text_frame(b"end"))
        await asyncio.sleep(0.5)
    finally:
        for client in clients:
            await client.ws.close()
        await runner.cleanup()


async def _measure(
    kind: str, port: int, subscribers: int, rate: int, seconds: float
) -> dict[str, Any]:
    run = _Run(rate, seconds)
    connected = asyncio.Event()
    go = asyncio.Event()
    if kind == "websockets":
        server = asyncio.create_task(_serve_websockets(port, subscribers, run, connected, go))
    elif kind == "gateway_hub":
        server = asyncio.create_task(_serve_gateway_hub(port, subscribers, run, connected, go))
    else:
        server = asyncio.create_task(_serve_aiohttp(port, subscribers, run, connected, go,
                                                     sequential=kind == "aiohttp_sequential"))
    await asyncio.sleep(0.3)
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_client_main, args=(f"ws://127.0.0.1:{port}/ws", subscribers, child))
    proc.start()
    loop = asyncio.get_running_loop()
    assert await loop.run_in_executor(None, parent.recv) == "connected"
    await asyncio.wait_for(connected.wait(), 60)
    t0 = time.perf_counter()
    go.set()
    result = await loop.run_in_executor(None, parent.recv)
    wall = time.perf_counter() - t0
    await server
    proc.join(30)
    lat = result["latencies_ns"]

    def pct(p: float) -> float:
        return round(lat[min(len(lat) - 1, int(len(lat) * p))] / 1e6, 2) if lat else -1.0

    expected = run.sent * subscribers
    return {
        "server": kind,
        "subscribers": subscribers,
        "rate_per_s": rate,
        "seconds": seconds,
        "messages_sent": run.sent,
        "deliveries": result["received"],
        "deliveries_expected": expected,
        "deliveries_per_s": round(result["received"] / wall),
        "p50_ms": pct(0.5),
        "p99_ms": pct(0.99),
        "max_ms": pct(1.0),
        "publisher_lagged": run.lagging_publishes,
        # the server's own cost per delivery (only whole for the synchronous kinds, websockets
        # and gateway_hub: aiohttp's sends run later, in tasks)
        "publish_us_per_delivery": round(run.publish_s / max(1, expected) * 1e6, 3),
    }


def main(subscribers: int = 1000, rate: int = 200, seconds: float = 5.0,
         port: int = 18765) -> int:
    results = {}
    for i, kind in enumerate(KINDS):
        r = asyncio.run(_measure(kind, port + i, subscribers, rate, seconds))
        print(json.dumps(r), file=sys.stderr)
        results[kind] = r
    better = min(results, key=lambda k: results[k]["p99_ms"]
                 if results[k]["deliveries"] == results[k]["deliveries_expected"] else 1e9)
    summary: dict[str, Any] = {
        "subscribers": subscribers, "rate_per_s": rate, "seconds": seconds,
        "cpus": os.cpu_count(),
    }
    for kind in KINDS:
        summary[f"{kind}_p99_ms"] = results[kind]["p99_ms"]
        summary[f"{kind}_deliveries_per_s"] = results[kind]["deliveries_per_s"]
    summary["gateway_hub_publish_us_per_delivery"] = (
        results["gateway_hub"]["publish_us_per_delivery"])
    summary["faster"] = better
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    sys.exit(main(*args))
