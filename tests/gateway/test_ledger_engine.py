"""Multi-process mode: `herbx engine` books the settlement ledger beside its sequencer (the
gateways never book). Commands go straight into the Redis command stream, as a gateway writes
them; after a SIGTERM the engine's ledger holds every trade once, at the journal's last seq.
Skips without a Redis (fails instead when CI=true)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import msgspec
import pytest

from engine.durable.sequencer import recover
from engine.messages import AddInstrument, Command, Deposit, PlaceOrder, ReceiveLot
from gateway.link.redis_link import connect, keys
from settlement.sqlite_store import SqliteStore

REDIS_URL = os.environ.get("HERBX_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
ROOT = Path(__file__).resolve().parents[2]
SYMBOL = "QUE-BARK-A"


async def redis_or_skip() -> Any:
    redis = connect(REDIS_URL)
    try:
        await redis.ping()
    except Exception as exc:  # noqa: BLE001 - any failure means "no Redis here"
        await redis.aclose()
        if os.environ.get("CI") == "true":
            raise RuntimeError(f"Redis is required in CI: {REDIS_URL}") from exc
        pytest.skip(f"no Redis at {REDIS_URL} ({exc!r})")
    return redis


def commands() -> list[Command]:
    out: list[Command] = [
        AddInstrument(symbol=SYMBOL, herb="QUE", grade="A", tick_vnd=100),
        Deposit(account="T1", amount_vnd=10**9, transfer_id="bank-1"),
        ReceiveLot(lot_id="GOODS-1", account="C1", symbol=SYMBOL, qty=1_000),
    ]
    for i in range(20):
        out.append(PlaceOrder(account="C1", client_order_id=f"s{i}", symbol=SYMBOL,
                              side="sell", price_vnd=61_500, qty=10))
        out.append(PlaceOrder(account="T1", client_order_id=f"b{i}", symbol=SYMBOL,
                              side="buy", price_vnd=61_500, qty=10))
    return out


async def test_the_engine_process_books_the_ledger(tmp_path: Path) -> None:
    redis = await redis_or_skip()
    prefix = f"herbx-test-{uuid.uuid4().hex[:8]}"
    commands_key, journal_key = keys(prefix)
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "engine", "--redis-url", REDIS_URL,
         "--redis-prefix", prefix, "--data-dir", str(tmp_path), "--tick-ms", "0",
         "--log-level", "warning", "--public-url", "https://trace.test"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        sent = commands()
        encode = msgspec.msgpack.Encoder().encode
        for i, cmd in enumerate(sent):
            await redis.xadd(commands_key, {"c": encode(cmd), "g": "t", "r": str(i)})
        async with asyncio.timeout(60):  # a liveness bound, not a timing assertion
            while await redis.xlen(journal_key) < len(sent):
                await asyncio.sleep(0.05)
    finally:
        proc.terminate()  # SIGTERM: the feed drains what was committed
        _, err = proc.communicate(timeout=60)
        await redis.delete(commands_key, journal_key)
        await redis.aclose()
    assert proc.returncode == 0, err.decode()

    exchange, _ = recover(tmp_path / "engine", repair=False)
    assert exchange.last_seq == len(sent)
    store = SqliteStore(tmp_path / "ledger.sqlite")
    await store.open()
    try:
        assert (await store.load_state()).last_seq == exchange.last_seq
        txns = await store.transactions()
        trades = [t for t in txns if t.kind == "trade"]
        assert len(trades) == 20 and len({t.trade_id for t in trades}) == 20
        assert [t.kind for t in txns if t.kind != "trade"] == ["deposit", "lot_in"]
        assert all(leg.trace_url is None for t in trades for leg in t.legs)  # no lot record
    finally:
        await store.close()
