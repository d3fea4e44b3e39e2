"""The aiohttp application: wiring, start-up and graceful shutdown.

`create_app(settings)` builds the app; its one cleanup context opens the sequencer (recovering
from the data directory), starts the pipeline, the feed of the settlement ledger
(`gateway.link.feed`, `gateway.link.ledger`), the clock, the heartbeats and, with ``demo``, the
seeded market and its bots; on the way down it stops accepting, drains the queue, commits, lets
the ledger book what was committed, and closes the sequencer. WebSockets are closed first, on
shutdown, with 1001 "going away".

Layout of the data directory: ``engine/`` (the sequencer's journal and snapshots),
``ledger.sqlite`` (the ledger, unless it is in PostgreSQL), ``gateway/participants.json``. Lots
live in the journal (an old ``gateway/lots.json`` is refused,
`gateway.lots.refuse_legacy_registry`).

Never holds a request handler or a business rule: it only assembles the parts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from engine.durable.sequencer import Sequencer
from engine.messages import Event, PurgeOrders, Tick, TradeExecuted
from gateway.api.idempotency import IdempotencyStore
from gateway.api.problems import error_middleware
from gateway.api.ratelimit import RateLimiter
from gateway.api.routes import setup_routes
from gateway.auth import Participant, Registry
from gateway.config import Settings
from gateway.link.feed import Feed, FeedLimits
from gateway.link.housekeeping import PurgeSchedule
from gateway.link.ledger import ledger_booker, ledger_store
from gateway.link.pipeline import Checksums, Overloaded, Pipeline, PipelineFailed
from gateway.link.ticks import live_bars, tick_store
from gateway.lots import LotViews, refuse_legacy_registry
from gateway.state import GATEWAY, Gateway
from gateway.stream.auction_board import AuctionBoard
from gateway.stream.fanout import Hub
from gateway.stream.marketdata import MarketData
from gateway.stream.wire import now_iso
from grading.catalogue import load_catalogue
from grading.trace import TraceConfig
from settlement.ticks.writer import TickWriter

log = logging.getLogger("herbx.gateway")

SETTINGS = web.AppKey("settings", Settings)
TASKS = web.AppKey("tasks", list[asyncio.Task[None]])
CLOCK: web.AppKey[Callable[[], int]] = web.AppKey("clock")
GOING_AWAY = 1001


def create_app(settings: Settings, now_ns: Callable[[], int] = time.time_ns) -> web.Application:
    """``now_ns`` is the sequencer's clock (the only one the market sees); tests inject one."""
    # keepalive_timeout reaches aiohttp's RequestHandler of every connection (also in tests);
    # the header deadline and the connection cap are the listener's (gateway.connections)
    app = web.Application(middlewares=[error_middleware],
                          client_max_size=settings.max_body_bytes,
                          handler_args={"keepalive_timeout": settings.keepalive_timeout_s})
    app[SETTINGS] = settings
    app[CLOCK] = now_ns
    app[TASKS] = []
    setup_routes(app)
    app.cleanup_ctx.append(market_ctx)
    app.on_shutdown.append(close_websockets)
    return app


def trace_config(s: Settings) -> TraceConfig:
    if s.public_url:
        scheme, _, host = s.public_url.partition("://")
        return TraceConfig(resolver_host=host.rstrip("/"), scheme=scheme)
    host = "127.0.0.1" if s.host in ("0.0.0.0", "::", "") else s.host
    return TraceConfig(resolver_host=f"{host.lower()}:{s.port}", scheme="http")


def bootstrap_operator(registry: Registry) -> str | None:
    """A fresh market gets one operator; its token comes from HERBX_OPERATOR_TOKEN or is made
    up and returned (to be printed once)."""
    if any(p.role == "operator" for p in registry.participants.values()):
        return None
    registry.add(Participant(id="operator", name="Ban quản lý chợ (operator)", role="operator"))
    return registry.issue_token("operator", os.environ.get("HERBX_OPERATOR_TOKEN") or None)


async def market_ctx(app: web.Application) -> AsyncIterator[None]:
    s = app[SETTINGS]
    data = Path(s.data_dir)
    refuse_legacy_registry(data)
    redis: Any = None
    recent: list[TradeExecuted] = []
    sequencer: Sequencer | None = None
    replica: Any = None
    feed: Feed | None = None
    ledger: Any = None
    ticks: Any = None
    writer: TickWriter | None = None
    if s.mode == "gateway":
        from engine.exchange import Exchange
        from gateway.link.redis_link import connect

        if not s.redis_url:
            raise ValueError("a multi-process gateway needs --redis-url")
        redis = connect(s.redis_url)
        replica = Exchange()
    else:
        # the trades of the journal after the newest snapshot, for the tapes and tickers,
        # collected while the sequencer recovers (one pass over the journal)
        trades: deque[TradeExecuted] = deque(maxlen=s.trades_kept * 64)

        def collect(events: list[Event]) -> None:
            trades.extend(e for e in events if type(e) is TradeExecuted)

        sequencer = Sequencer(data / "engine", sync=s.journal_sync, now_ns=app[CLOCK],
                              on_events=collect)
        recent = list(trades)
    try:
        catalogue = load_catalogue()
        hub = Hub()
        gw_box: list[Gateway] = []
        lots = LotViews(lambda: gw_box[0].exchange)
        if sequencer is not None and not s.consumers:  # `herbx consume` books
            sequencer.retain_from = lambda: 0  # its position is not known here: prune nothing
            if s.database_url:
                ledger = await _reader_store(s)
        elif sequencer is not None:  # this process books; a multi-process gateway only reads
            ledger = ledger_store(data, s.database_url, s.database_schema)
            booker = ledger_booker(ledger, lots, catalogue, trace_config(s))
            ticks = tick_store(data, s.database_url, s.database_schema)
            writer = TickWriter(ticks)
            feed = Feed(data / "engine", [booker, writer], head_seq=sequencer.last_seq,
                        limits=feed_limits(s))
            sequencer.retain_from = feed.retain_seq
            for consumer, store in ((booker, ledger), (writer, ticks)):
                try:  # open it now, so readers find it open; if it is down, the feed retries
                    await consumer.start()
                except Exception as exc:  # noqa: BLE001 - the market starts without it
                    log.error("%s store %s did not open (%r); the feed retries",
                              consumer.name, store.name, exc)
        elif s.database_url:
            ledger = await _reader_store(s)
            # the tick store the engine process writes (PostgreSQL), read here
            ticks = await _opened(tick_store(data, s.database_url, s.database_schema), "tick")

        def publish(events: list[Event], checksums: Checksums) -> None:
            gw = gw_box[0]
            gw.auctions.apply(events)
            hub.publish(gw.market.apply(events, checksums))

        pipeline: Any
        if redis is not None:
            from gateway.link.redis_link import RedisPipeline

            pipeline = RedisPipeline(redis, s.redis_prefix, replica, publish,
                                     queue_size=s.queue_size)
            replayed = await pipeline.catch_up()
            log.info("gateway %s: replica at seq %d after %d journal entries",
                     pipeline.gateway_id, replica.last_seq, replayed)
            exchange = replica
        else:
            assert sequencer is not None
            pipeline = Pipeline(sequencer, publish, queue_size=s.queue_size,
                                batch_size=s.batch_size,
                                on_steps=feed.publish if feed is not None else None)
            exchange = sequencer.exchange
        market = MarketData(exchange, trades_kept=s.trades_kept, fills_kept=s.fills_kept,
                            conflate_s=s.conflate_ms / 1000)
        market.deliver = hub.publish
        market.replay_trades(recent if replica is None else list(pipeline.recent_trades))
        gw = Gateway(settings=s, sequencer=sequencer, pipeline=pipeline, market=market, hub=hub,
                     registry=Registry(data / "gateway" / "participants.json"), lots=lots,
                     catalogue=catalogue, idempotency=IdempotencyStore(s.idempotency_keys),
                     limiter=RateLimiter(s.rate_per_s, s.rate_burst),
                     auctions=AuctionBoard(exchange), trace=trace_config(s), now_ns=app[CLOCK],
                     replica=replica, ledger=ledger, feed=feed)
        gw_box.append(gw)
        app[GATEWAY] = gw
        if writer is not None:  # tick data: the REST readers, and live bars from the writer
            gw.ticks = ticks
            live_bars(writer, hub, market)
        elif ticks is not None:  # a multi-process gateway reads what the engine writes
            gw.ticks = ticks
        token = bootstrap_operator(gw.registry)
        if token is not None:
            # shown once in the log; only a demo market also lists it on its public start page
            if s.demo:
                gw.demo_tokens["operator"] = token
            log.warning("new market: operator token %s (shown once)", token)
        pipeline.start()
        if feed is not None:
            feed.start()
    except BaseException:
        if feed is not None:
            await feed.stop()
        elif ledger is not None:
            await ledger.close()
        if feed is None and ticks is not None:
            await ticks.close()
        if sequencer is not None:
            sequencer.close()
        if redis is not None:
            await redis.aclose()
        raise
    tasks = app[TASKS]
    try:
        if s.tick_ms > 0 and s.mode != "gateway":  # in multi-process mode the engine ticks
            tasks.append(asyncio.create_task(clock(gw), name="herbx-clock"))
        tasks.append(asyncio.create_task(heartbeats(gw), name="herbx-heartbeat"))
        if s.demo:
            from gateway.demo.market import start_demo

            tasks += await start_demo(gw)
        yield
    finally:
        gw.closing = True
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        tasks.clear()
        await pipeline.stop()  # drains, commits and answers everything queued
        market.flush_all()
        if feed is not None:  # the ledger books what was committed, then closes
            await feed.stop()
        elif ledger is not None:
            await ledger.close()
        if feed is None and ticks is not None:  # a multi-process gateway's reader
            await ticks.close()
        if sequencer is not None:
            sequencer.close()
        if redis is not None:
            await redis.aclose()


def feed_limits(s: Settings) -> FeedLimits:
    return FeedLimits(buffer_commands=s.feed_buffer_commands,
                      chunk_commands=s.feed_chunk_commands,
                      retry_max_s=s.feed_retry_max_s, drain_timeout_s=s.feed_drain_timeout_s)


async def _reader_store(s: Settings) -> Any:
    """A multi-process gateway's view of the ledger the engine process books (PostgreSQL)."""
    return await _opened(ledger_store(s.data_dir, s.database_url, s.database_schema), "ledger")


async def _opened(store: Any, what: str) -> Any:
    """``store`` opened, or None when it cannot be (its reads answer 503 then)."""
    try:
        await store.open()
    except Exception as exc:  # noqa: BLE001 - the gateway serves the market without it
        log.error("%s %s did not open (%r); %s reads are unavailable", what, store.name, exc,
                  what)
        return None
    return store


async def close_websockets(app: web.Application) -> None:
    gw = app.get(GATEWAY)
    if gw is None:
        return
    gw.closing = True
    clients = list(gw.clients)
    for c in clients:  # a stalled reader may hold shutdown this long, no longer
        c.cut_off(GOING_AWAY, "server shutting down", min(gw.settings.ws_close_timeout_s, 5.0))
    for c in clients:
        if c.close_task is not None:
            await c.close_task


def _retrieve(f: asyncio.Future[list[Event]]) -> None:
    if not f.cancelled():
        f.exception()


async def clock(gw: Gateway) -> None:
    """A ``tick`` every ``tick_ms``: GTD expiry and auction clocks. A full queue skips one.
    Also forgets done orders once they are ``order_retention_s`` old (`PurgeSchedule`)."""
    s = gw.settings
    interval = s.tick_ms / 1000
    purges = PurgeSchedule(s.order_retention_s, s.purge_every_s) if s.order_retention_s else None
    while True:
        await asyncio.sleep(interval)
        with contextlib.suppress(Overloaded, PipelineFailed):
            gw.pipeline.submit_nowait(Tick()).add_done_callback(_retrieve)
            if purges is not None:
                upto = purges.due(time.monotonic(), gw.exchange.last_seq)
                if upto is not None:
                    cmd = PurgeOrders(upto_order_id=upto)
                    gw.pipeline.submit_nowait(cmd).add_done_callback(_retrieve)


async def heartbeats(gw: Gateway) -> None:
    while True:
        await asyncio.sleep(gw.settings.heartbeat_s)
        frames: dict[tuple[str, ...], bytes] = {}  # one heartbeat per distinct channel list
        ts = now_iso()
        for c in list(gw.clients):
            c.heartbeat(frames, ts)
