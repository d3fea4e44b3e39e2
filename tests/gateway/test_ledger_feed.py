"""The settlement ledger fed by the running market (gateway.link.feed): every trade booked
exactly once, the trial balance zero, the ledger equal to a clean booking of the journal, also
after restarts, a dropped buffer, a SIGKILL'd `herbx serve` and a PostgreSQL outage (a TCP proxy
in front of the shared server is cut, the server itself is never stopped)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from engine.durable.journal import list_segments
from engine.durable.sequencer import recover
from engine.durable.snapshot import list_snapshots
from engine.messages import TradeExecuted
from gateway.app import trace_config
from gateway.config import Settings
from gateway.link.ledger import lot_trace
from gateway.lots import LotViews
from grading.catalogue import load_catalogue
from loadtest.bench.gateway import free_port
from settlement.booker import Booker
from settlement.booking import TraceResolver
from settlement.ledger import LedgerTxn
from settlement.pg_store import PgStore
from settlement.resume import steps_after
from settlement.schedule import Schedule
from settlement.sqlite_store import SqliteStore
from settlement.store import Store
from tests.gateway.conftest import Market, settings, start
from tests.settlement.conftest import DATABASE_URL, require_pg

ROOT = Path(__file__).resolve().parents[2]
WAIT_S = 60.0  # a liveness bound for waits (never a timing assertion)


async def until(cond: Callable[[], bool], what: str) -> None:
    """Wait for ``cond`` (the feed runs in the same loop, so yield to it)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while not cond():
        if loop.time() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.01)


def ledger_status(m: Market) -> dict[str, Any]:
    assert m.gw.feed is not None
    return m.gw.feed.status()["ledger"]


async def caught_up(m: Market) -> None:
    """Every consumer (the ledger, and the tick writer beside it) is live at the market's last
    seq: the feed's retention is the slowest consumer's, so waiting for the ledger alone let a
    tick writer still behind make ``retain_seq`` disagree under load."""
    assert m.gw.feed is not None
    feed = m.gw.feed

    def live() -> bool:
        return all(c["position"] == m.gw.exchange.last_seq and c["state"] == "live"
                   for c in feed.status().values())
    await until(live, "every consumer to catch up")


async def trade(m: Market, n: int, tag: str) -> None:
    """``n`` trades of 10 kg: C1 sells, T1 buys (the requests go out at once)."""
    async def pair(i: int) -> None:
        s, body = await m.order("C1", side="sell", price=61_500, qty=10,
                                client_order_id=f"{tag}-s{i}")
        assert s == 201, body
        s, body = await m.order("T1", side="buy", price=61_500, qty=10,
                                client_order_id=f"{tag}-b{i}")
        assert s == 201 and body["filled_qty"] == 10, body
    await asyncio.gather(*(pair(i) for i in range(n)))


def booker_of(m: Market) -> Booker:
    assert m.gw.feed is not None
    consumer = m.gw.feed.consumer("ledger")
    assert isinstance(consumer, Booker)
    return consumer


async def clean_ledger(data_dir: Path, trace: TraceResolver, tmp: Path) -> list[LedgerTxn]:
    """The whole journal booked into a fresh store: what the ledger must equal."""
    store = SqliteStore(tmp / f"clean-{uuid.uuid4().hex[:8]}.sqlite")
    await store.open()
    try:
        booker = Booker(store, Schedule.load(), trace)
        await booker.offer(list(steps_after(data_dir / "engine", 0)))
        return await store.transactions()
    finally:
        await store.close()


async def check_ledger(store: Store, data_dir: Path, trace: TraceResolver, tmp: Path) -> None:
    txns = await store.transactions()
    journal_trades = [e.trade_id for _, events in steps_after(data_dir / "engine", 0)
                      for e in events if type(e) is TradeExecuted]
    booked = [t.trade_id for t in txns if t.kind == "trade"]
    assert journal_trades and sorted(booked) == sorted(journal_trades)  # each exactly once
    totals: dict[str, int] = {}
    for (_, unit), balance in (await store.balances()).items():
        totals[unit] = totals.get(unit, 0) + balance
    assert totals and set(totals.values()) == {0}  # the trial balance, per unit
    assert txns == await clean_ledger(data_dir, trace, tmp)


async def test_the_ledger_books_every_trade_once_and_resumes_after_restarts(
        tmp_path: Path) -> None:
    m = await start(settings(tmp_path))
    try:
        await trade(m, 12, "a")
        await caught_up(m)
        assert m.gw.ledger is not None and m.gw.ledger.name == "sqlite"
        assert (tmp_path / "ledger.sqlite").exists()
        await check_ledger(m.gw.ledger, tmp_path, booker_of(m).trace, tmp_path)
        r = await m.client.get("/healthz")
        health = (await r.json())["consumers"]["ledger"]
        assert health["state"] == "live" and health["lag_commands"] == 0
        assert health["position"] == m.gw.exchange.last_seq and health["lag_s"] == 0
        assert (health["gaps"], health["duplicates"], health["last_error"]) == (0, 0, None)
    finally:
        await m.client.close()  # the feed drains what was committed, then closes the store

    # a restart: the ledger resumes at its position; nothing is booked twice
    m = await start(settings(tmp_path))
    try:
        await trade(m, 5, "b")
        await caught_up(m)
        b = booker_of(m)
        assert (b.gaps, b.duplicates) == (0, 0)
        assert m.gw.ledger is not None
        await check_ledger(m.gw.ledger, tmp_path, b.trace, tmp_path)
    finally:
        await m.client.close()

    # a ledger that lost everything (a new file) is rebuilt from the journal at start
    (tmp_path / "ledger.sqlite").unlink()
    for wal in tmp_path.glob("ledger.sqlite-*"):
        wal.unlink()
    m = await start(settings(tmp_path), seed=False)
    try:
        await caught_up(m)
        assert m.gw.ledger is not None
        await check_ledger(m.gw.ledger, tmp_path, booker_of(m).trace, tmp_path)
        assert ledger_status(m)["catch_ups"] >= 1
    finally:
        await m.client.close()


async def test_a_ledger_whose_buffer_overflows_catches_up_from_the_journal(
        tmp_path: Path) -> None:
    m = await start(settings(tmp_path, feed_buffer_commands=3, feed_chunk_commands=2))
    try:
        for round_ in range(4):
            await trade(m, 15, f"r{round_}")
        await caught_up(m)
        status = ledger_status(m)
        assert status["overflows"] > 0 and status["catch_ups"] > 1
        b = booker_of(m)
        assert (b.gaps, b.duplicates) == (0, 0)
        assert m.gw.ledger is not None
        await check_ledger(m.gw.ledger, tmp_path, b.trace, tmp_path)
    finally:
        await m.client.close()


# ---------------------------------------------------------------------------------------------
# PostgreSQL behind a proxy that the test cuts and restores
# ---------------------------------------------------------------------------------------------


class Proxy:
    """A TCP proxy to PostgreSQL. `cut` closes every connection and refuses new ones (the
    port stays ours); `restore` accepts again."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", self.port,
                                                 reuse_address=True)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.transport.abort()
            self.writers.discard(writer)

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for w in list(self.writers):
            w.transport.abort()
        await self.server.wait_closed()
        self.server = None

    async def restore(self) -> None:
        await self.start()


def pg_parts() -> tuple[str, int, str]:
    from urllib.parse import urlsplit

    u = urlsplit(DATABASE_URL)
    return u.hostname or "127.0.0.1", u.port or 5432, u.path.lstrip("/") or "test"


@pytest.fixture
async def pg_schema() -> AsyncIterator[str]:
    await require_pg()
    schema = f"t_{uuid.uuid4().hex[:16]}"
    yield schema
    conn = await asyncpg.connect(DATABASE_URL)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema}_ticks CASCADE")  # its tick store
    finally:
        await conn.close()


async def test_the_market_trades_through_a_postgresql_outage_and_the_ledger_catches_up(
        tmp_path: Path, pg_schema: str) -> None:
    host, port, db = pg_parts()
    proxy = Proxy(host, port)
    await proxy.start()
    s = settings(tmp_path, database_url=f"postgresql://127.0.0.1:{proxy.port}/{db}",
                 database_schema=pg_schema, feed_retry_max_s=0.2)
    m = await start(s)
    try:
        assert m.gw.ledger is not None and m.gw.ledger.name == "postgres"
        await trade(m, 5, "before")
        await caught_up(m)
        booked_before = ledger_status(m)["position"]

        await proxy.cut()
        await trade(m, 10, "during")  # the market does not wait for its ledger
        await until(lambda: ledger_status(m)["state"] == "retrying", "the ledger to fail")
        assert m.gw.sequencer is not None
        for i in range(3):  # snapshots would prune the journal the ledger still needs
            await trade(m, 2, f"snap{i}")
            m.gw.sequencer.snapshot()
        assert len(list_snapshots(tmp_path / "engine" / "snapshots")) == 3
        assert list_segments(tmp_path / "engine" / "journal")[0].first_seq == 1
        status = ledger_status(m)
        assert status["last_error"] and status["errors"] >= 1
        assert status["position"] == booked_before < m.gw.exchange.last_seq
        assert status["lag_commands"] == m.gw.exchange.last_seq - booked_before
        assert m.gw.feed is not None and m.gw.feed.retain_seq() == booked_before
        r = await m.client.get("/readyz")
        assert r.status == 200  # the market stays ready without its ledger

        await proxy.restore()
        await trade(m, 3, "after")
        await caught_up(m)
        b = booker_of(m)
        assert (b.gaps, b.duplicates) == (0, 0)
        reader = PgStore(DATABASE_URL, schema=pg_schema)  # straight to the server
        await reader.open()
        try:
            await check_ledger(reader, tmp_path, b.trace, tmp_path)
        finally:
            await reader.close()
    finally:
        await m.client.close()
        with contextlib.suppress(Exception):
            await proxy.cut()


# ---------------------------------------------------------------------------------------------
# A real `herbx serve`, killed with SIGKILL
# ---------------------------------------------------------------------------------------------




def get(port: int, path: str) -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
        return json.loads(r.read())


def health(port: int) -> dict[str, Any]:
    body: dict[str, Any] = get(port, "/healthz")
    return body


def traded(port: int) -> int:
    """Trades on the public tapes (the demo's bots trade about once a second)."""
    symbols = [i["symbol"] for i in get(port, "/api/v1/instruments")["instruments"]]
    return sum(len(get(port, f"/api/v1/instruments/{s}/trades")["trades"]) for s in symbols)


def serve(data: Path, port: int) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "gateway.cli", "serve", "--demo", "--data-dir", str(data),
           "--port", str(port), "--tick-ms", "50", "--public-url", "https://trace.test"]
    env = {**os.environ, "HERBX_LOG_LEVEL": "warning"}
    proc = subprocess.Popen(cmd, cwd=ROOT, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=env)
    assert proc.stdout is not None
    assert "HerbX market on" in proc.stdout.readline()
    return proc


async def wait_health(port: int, cond: Callable[[dict[str, Any]], bool], what: str) -> None:
    async def ok() -> bool:
        try:
            return cond(await asyncio.to_thread(health, port))
        except OSError:
            return False
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while not await ok():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.1)


async def test_a_sigkilled_serve_resumes_its_ledger_without_duplicates(tmp_path: Path) -> None:
    port = free_port()
    proc = serve(tmp_path, port)
    try:
        # the demo's bots trade; wait for some trades booked
        await wait_health(port, lambda h: traded(port) >= 3
                          and h["consumers"]["ledger"]["lag_commands"] < 5,
                          "the demo's first trades booked")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()  # type: ignore[union-attr]

        proc = serve(tmp_path, port)
        await wait_health(port, lambda h: h["consumers"]["ledger"]["lag_commands"] == 0
                          and h["consumers"]["ledger"]["state"] == "live",
                          "the ledger to catch up after the restart")
        last = health(port)["consumers"]["ledger"]
        assert (last["gaps"], last["duplicates"]) == (0, 0)
    finally:
        proc.terminate()  # SIGTERM: drains and books what was committed
        assert proc.wait(timeout=60) == 0
        if proc.stdout is not None:
            proc.stdout.close()

    exchange, _ = recover(tmp_path / "engine", repair=False)
    trace = lot_trace(LotViews(lambda: exchange), load_catalogue(),
                      trace_config(Settings(public_url="https://trace.test")))
    store = SqliteStore(tmp_path / "ledger.sqlite")
    await store.open()
    try:
        assert (await store.load_state()).last_seq == exchange.last_seq
        await check_ledger(store, tmp_path, trace, tmp_path)
        assert any(leg.trace_url for t in await store.transactions() for leg in t.legs)
    finally:
        await store.close()


# ---------------------------------------------------------------------------------------------
# The feed's own figures
# ---------------------------------------------------------------------------------------------


async def test_lag_in_seconds_is_the_age_of_the_oldest_command_not_consumed(
        tmp_path: Path) -> None:
    from gateway.link.feed import Feed

    now = [100.0]
    booker = Booker(SqliteStore(tmp_path / "l.sqlite"), Schedule.load(), lambda _: None)
    feed = Feed(tmp_path / "engine", [booker], head_seq=5, clock=lambda: now[0])
    now[0] = 110.0
    feed.publish([(6, []), (7, [])])
    now[0] = 112.0
    feed.publish([(8, [])])
    assert feed.lag_s(7, 115.0) == 3.0  # seq 8, committed at 112
    assert feed.lag_s(5, 115.0) == 5.0  # seqs 6 and 7, committed at 110
    assert feed.lag_s(2, 115.0) == 15.0  # before the feed started: at least its age
    assert feed.lag_s(8, 115.0) == 0.0
    status = feed.status()["ledger"]
    assert (status["state"], status["position"], status["lag_commands"]) == ("starting", 0, 8)
    await feed.stop()


async def test_a_ledger_ahead_of_the_journal_is_refused(tmp_path: Path) -> None:
    first = tmp_path / "first"
    m = await start(settings(first))
    try:
        await trade(m, 2, "x")
        await caught_up(m)
    finally:
        await m.client.close()
    other = tmp_path / "other"  # a new market, given the first one's ledger by mistake
    other.mkdir()
    (other / "ledger.sqlite").write_bytes((first / "ledger.sqlite").read_bytes())
    m = await start(settings(other, feed_retry_max_s=0.05, feed_drain_timeout_s=0.1),
                    seed=False)
    try:
        await until(lambda: ledger_status(m)["errors"] > 0, "the ledger to be refused")
        status = ledger_status(m)
        assert status["state"] == "retrying" and "after the journal's" in status["last_error"]
        assert status["position"] == 0  # and nothing is retained for it beyond seq 0
    finally:
        await m.client.close()
