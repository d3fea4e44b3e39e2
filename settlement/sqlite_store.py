"""The embedded store: SQLite (stdlib sqlite3) in WAL mode, on one worker thread.

Owns the SQLite connection and its queries. Every call runs on a single dedicated thread (the
connection never leaves it), so the event loop never waits on the disk. A batch is one
``BEGIN IMMEDIATE`` … ``COMMIT``; the balances' CHECK constraint and the immutability
triggers live in the schema (`settlement.schema`). ``synchronous=NORMAL`` in WAL mode may lose
the last commits on a power cut but never corrupts: the booked position moves with the data,
so the booker re-books what was lost from the journal.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from settlement.ledger import Batch, DvpChange, LedgerState, LedgerTxn
from settlement.schema import BOOKKEEPING, MIGRATIONS
from settlement.store import (
    DVP_COLUMNS,
    LOT_COLUMNS,
    MAX_LIST,
    OPEN_TRADES,
    POSTING_COLUMNS,
    TXN_COLUMNS,
    ApplyResult,
    batch_rows,
    check_invoice,
    check_position,
    dvp_from_rows,
    dvp_rows,
    gap_of,
    txns_from_rows,
)

T = TypeVar("T")


def _insert(table: str, columns: tuple[str, ...]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


_TXN = _insert("transactions", TXN_COLUMNS)
_LOT = _insert("trade_lots", LOT_COLUMNS)
_POST = _insert("postings", POSTING_COLUMNS)
_DVP = _insert("dvp_changes", DVP_COLUMNS)
# Two steps, because a database checks an upsert's proposed row before it finds the conflict: a
# debit would fail the CHECK as a new row even where the existing balance covers it.
_NEW_BAL = ("INSERT INTO balances (account, unit, balance, nonneg) VALUES (?, ?, 0, ?) "
            "ON CONFLICT (account, unit) DO NOTHING")
_BAL = "UPDATE balances SET balance = balance + ? WHERE account = ? AND unit = ?"


class SqliteStore:
    name = "sqlite"

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger-sqlite")
        self._db: sqlite3.Connection | None = None

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def call() -> T:
            assert self._db is not None, "store not open"
            return fn(self._db)
        return await asyncio.get_running_loop().run_in_executor(self._pool, call)

    async def open(self) -> None:
        def connect() -> None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._db = db
        await asyncio.get_running_loop().run_in_executor(self._pool, connect)
        await self._run(_migrate)

    async def close(self) -> None:
        if self._db is None:
            return
        def shut() -> None:
            if self._db is not None:
                self._db.close()
                self._db = None
        await asyncio.get_running_loop().run_in_executor(self._pool, shut)
        self._pool.shutdown(wait=True)

    async def schema_version(self) -> int:
        return await self._run(
            lambda db: int(db.execute("SELECT max(version) FROM schema_migrations")
                           .fetchone()[0]))

    async def load_state(self) -> LedgerState:
        def load(db: sqlite3.Connection) -> LedgerState:
            last = db.execute("SELECT last_seq FROM booker_state WHERE id = 1").fetchone()[0]
            inv = dict(db.execute("SELECT year, last_no FROM invoice_series").fetchall())
            herbs = dict(db.execute("SELECT symbol, herb FROM instruments").fetchall())
            open_trades = {t: (s, n) for t, s, n in db.execute(OPEN_TRADES).fetchall()}
            return LedgerState(last_seq=last, invoice_last=inv, herbs=herbs,
                               open_trades=open_trades)
        return await self._run(load)

    async def apply(self, batch: Batch) -> ApplyResult:
        return await self._run(lambda db: _apply(db, batch))

    async def balances(self) -> dict[tuple[str, str], int]:
        rows = await self._run(
            lambda db: db.execute("SELECT account, unit, balance FROM balances").fetchall())
        return {(a, u): b for a, u, b in rows}

    async def transactions(self, limit: int = MAX_LIST) -> list[LedgerTxn]:
        def read(db: sqlite3.Connection) -> list[LedgerTxn]:
            txns = db.execute(f"SELECT {', '.join(TXN_COLUMNS)} FROM transactions "
                              "ORDER BY seq, n LIMIT ?", (min(limit, MAX_LIST),)).fetchall()
            if not txns:
                return []
            upto = (txns[-1][0], txns[-1][1])
            lots = db.execute(f"SELECT {', '.join(LOT_COLUMNS)} FROM trade_lots "
                              "WHERE (seq, n) <= (?, ?) ORDER BY seq, n, leg", upto).fetchall()
            posts = db.execute(f"SELECT {', '.join(POSTING_COLUMNS)} FROM postings "
                               "WHERE (seq, n) <= (?, ?) ORDER BY seq, n, i", upto).fetchall()
            return txns_from_rows(txns, lots, posts)
        return await self._run(read)

    async def dvp_changes(self, limit: int = MAX_LIST) -> list[DvpChange]:
        rows = await self._run(lambda db: db.execute(
            f"SELECT {', '.join(DVP_COLUMNS)} FROM dvp_changes ORDER BY seq, trade_id LIMIT ?",
            (min(limit, MAX_LIST),)).fetchall())
        return dvp_from_rows(rows)

    async def execute(self, sql: str, *args: object) -> None:
        """One statement in its own transaction (tests: prove the triggers refuse)."""
        await self._run(lambda db: db.execute(sql, args))


def _migrate(db: sqlite3.Connection) -> None:
    db.execute(BOOKKEEPING)
    done = {v for (v,) in db.execute("SELECT version FROM schema_migrations")}
    for m in MIGRATIONS:
        if m.version in done:
            continue
        db.execute("BEGIN IMMEDIATE")
        try:
            for stmt in m.statements("sqlite"):
                db.execute(stmt)
            db.execute("INSERT INTO schema_migrations (version, note) VALUES (?, ?)",
                       (m.version, m.note))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise


def _apply(db: sqlite3.Connection, batch: Batch) -> ApplyResult:
    db.execute("BEGIN IMMEDIATE")
    try:
        last = db.execute("SELECT last_seq FROM booker_state WHERE id = 1").fetchone()[0]
        skip = check_position(last, batch)
        if skip is not None:
            db.execute("ROLLBACK")
            return skip
        for year, (first, upto) in batch.invoices.items():
            row = db.execute("SELECT last_no FROM invoice_series WHERE year = ?",
                             (year,)).fetchone()
            check_invoice(year, 0 if row is None else row[0], first)
            db.execute("INSERT INTO invoice_series (year, last_no) VALUES (?, ?) "
                       "ON CONFLICT (year) DO UPDATE SET last_no = excluded.last_no",
                       (year, upto))
        txns, lots, posts, bal = batch_rows(batch)
        db.executemany(_TXN, txns)
        db.executemany(_LOT, lots)
        db.executemany(_POST, posts)
        db.executemany(_DVP, dvp_rows(batch))
        db.executemany(_NEW_BAL, [(a, u, nn) for a, u, _, nn in bal])
        db.executemany(_BAL, [(d, a, u) for a, u, d, _ in bal])
        db.executemany("INSERT INTO instruments (symbol, herb) VALUES (?, ?) "
                       "ON CONFLICT (symbol) DO NOTHING", list(batch.herbs.items()))
        db.execute("UPDATE booker_state SET last_seq = ? WHERE id = 1", (batch.last_seq,))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return ApplyResult(True, gap_of(last, batch))
