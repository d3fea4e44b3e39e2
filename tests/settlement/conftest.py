"""Fixtures of the settlement tests: a store of each kind, and an engine scenario that
produces every event kind the ledger books.

PostgreSQL is real (postgresql://127.0.0.1:5432/test, or HERBX_TEST_DATABASE_URL); each test
gets its own schema, created here and dropped afterwards. Without a PostgreSQL the postgres
cases skip, except under CI=true where they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from engine.messages import CreateAuction, DutchBuy, Event, ListLotOnBook, Withdraw, WithdrawLot
from grading.trace import TraceConfig, lot_trace_url
from settlement.booking import Step
from settlement.pg_store import PgStore
from settlement.sqlite_store import SqliteStore
from settlement.store import Store
from tests.test_engine_lots import SPEC, Market

DATABASE_URL = os.environ.get("HERBX_TEST_DATABASE_URL", "postgresql://127.0.0.1:5432/test")


async def _pg_up() -> str | None:
    try:
        conn = await asyncpg.connect(DATABASE_URL, timeout=2)
    except Exception as exc:  # noqa: BLE001 - any failure means "no PostgreSQL here"
        return f"{type(exc).__name__}: {exc}"
    await conn.close()
    return None


async def require_pg() -> None:
    why = await _pg_up()
    if why is not None:
        if os.environ.get("CI") == "true":
            raise RuntimeError(f"PostgreSQL is required in CI: {DATABASE_URL} ({why})")
        pytest.skip(f"no PostgreSQL at {DATABASE_URL} ({why})")


class Stores:
    """Opens stores of one kind on the same database (a file, or a schema), so a test can
    close one and open another: a restart."""

    def __init__(self, kind: str, tmp: Path) -> None:
        self.kind = kind
        self.path = tmp / "ledger.sqlite3"
        self.schema = f"t_{uuid.uuid4().hex[:16]}"
        self.opened: list[Store] = []

    async def open(self) -> Any:
        store: Any = (SqliteStore(self.path) if self.kind == "sqlite"
                      else PgStore(DATABASE_URL, schema=self.schema))
        await store.open()
        self.opened.append(store)
        return store

    async def drop(self) -> None:
        for s in self.opened:
            await s.close()
        if self.kind == "postgres":
            conn = await asyncpg.connect(DATABASE_URL)
            try:
                await conn.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")
            finally:
                await conn.close()


@pytest.fixture(params=["sqlite", "postgres"])
async def stores(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Stores]:
    if request.param == "postgres":
        await require_pg()
    s = Stores(request.param, tmp_path)
    yield s
    await s.drop()


@pytest.fixture
async def store(stores: Stores) -> Any:
    return await stores.open()


class Recorder(Market):
    """The lots tests' market, recording each command's (seq, events) as the booker gets them."""

    def __init__(self) -> None:
        self.steps: list[Step] = []
        self.commands: list[Any] = []  # as stamped: a journal can be written from them
        super().__init__()

    def do(self, cmd: Any, ts: int | None = None) -> list[Event]:
        events = super().do(cmd, ts)
        self.steps.append((self.seq, events))
        self.commands.append(cmd)
        return events

    def trace(self) -> Callable[[str], str | None]:
        """Trace codes of the recorded lots (None for goods received without a record)."""
        def resolve(lot_id: str) -> str | None:
            rec = self.ex.lot_book.records.get(lot_id)
            return None if rec is None else lot_trace_url(TraceConfig(), rec.record, SPEC)
        return resolve


def scenario() -> Recorder:
    """Every event kind the ledger books: deposits, a recorded lot received (LotUpdated) and
    sold from the book (lot values), a resale, goods received without a record (LotReceived)
    and sold, a Dutch auction's buy, a cash withdrawal and a lot withdrawal; and every step of
    delivery versus payment: trade 1 paid, delivered and settled, trade 2 paid, trade 3
    failed, trade 4 (the Dutch buy) left pending."""
    m = Recorder()
    m.received("L1", 800)
    m.step(ListLotOnBook(lot_id="L1", account="C1"))
    m.order("C1", "sell", 300, 61_700, symbol="QUE-BARK-A")
    m.order("T1", "buy", 300, 61_700, symbol="QUE-BARK-A")
    m.settle(1, "paid")  # T1 may resell only what is paid
    m.order("T1", "sell", 100, 65_000, symbol="QUE-BARK-A")
    m.order("T2", "buy", 100, 65_000, symbol="QUE-BARK-A")  # a resale by T1
    m.settle(1, "delivered")
    m.settle(1, "settled")
    m.settle(2, "paid")
    m.lot("BARE", "C2", 100, "QUE-BARK-A")
    m.order("C2", "sell", 100, 61_700, symbol="QUE-BARK-A")
    m.order("T2", "buy", 150, 61_800, symbol="QUE-BARK-A")  # 100 from C2, 50 rest
    m.settle(3, "failed")
    m.lot("LA", "S2", 10, "QUE-BARK-B")
    aid = m.seq + 1
    m.step(CreateAuction(kind="dutch", seller="S2", lot_id="LA", qty=10, start_ns=0,
                         start_price_vnd=99_000, step_vnd=100, interval_ns=10**9,
                         floor_vnd=59_000))
    m.do(DutchBuy(auction_id=aid, account="T1", price_vnd=99_000, qty=10))  # same second
    m.lot("W1", "C3", 40, "QUE-BARK-C")
    m.step(WithdrawLot(lot_id="W1", account="C3"))
    m.step(Withdraw(account="C1", amount_vnd=1_000_000, transfer_id="bank-77"))
    return m
