"""The embedded store: SQLite (stdlib sqlite3) in WAL mode, on one worker thread.

Owns the SQLite connection and how a plan (`settlement.store`) runs on it. Every call runs on a
single dedicated thread (the connection never leaves it), so the event loop never waits on the
disk. A write is one ``BEGIN IMMEDIATE`` … ``COMMIT``; the balances' CHECK constraint and the
immutability triggers live in the schema (`settlement.schema`). ``synchronous=NORMAL`` in WAL
mode may lose the last commits on a power cut but never corrupts: the booked position moves
with the data, so the booker re-books what was lost from the journal.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from settlement.store import Exec, ExecMany, Fetch, Op, Plan, PlanStore, migrate_plan

T = TypeVar("T")
#: the embedded ledger's file in a market's data directory (`herbx serve`, `herbx reconcile`)
LEDGER_FILE = "ledger.sqlite"


class SqliteStore(PlanStore):
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

    async def _drive(self, plan: Plan[T], *, write: bool = False) -> T:
        return await self._run(lambda db: _drive(db, plan, write))

    async def open(self) -> None:
        def connect() -> None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._db = db
        await asyncio.get_running_loop().run_in_executor(self._pool, connect)
        await self._drive(migrate_plan("sqlite"), write=True)

    async def close(self) -> None:
        if self._db is None:
            return
        def shut() -> None:
            if self._db is not None:
                self._db.close()
                self._db = None
        await asyncio.get_running_loop().run_in_executor(self._pool, shut)
        self._pool.shutdown(wait=True)

    async def execute(self, sql: str, *args: object) -> None:
        """One statement in its own transaction (tests: prove the triggers refuse, inject a
        difference for reconcile)."""
        await self._run(lambda db: db.execute(sql, args))


def _insert(table: str, columns: tuple[str, ...]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def _step(db: sqlite3.Connection, op: Op) -> Any:
    if isinstance(op, Fetch):
        return db.execute(op.sql, op.args).fetchall()  # a write holds the database: no lock
    if isinstance(op, Exec):
        db.execute(op.sql, op.args)
    elif isinstance(op, ExecMany):
        db.executemany(op.sql, op.rows)
    elif op.rows:
        db.executemany(_insert(op.table, op.columns), op.rows)
    return None


def _drive(db: sqlite3.Connection, plan: Plan[T], write: bool) -> T:
    if write:
        db.execute("BEGIN IMMEDIATE")
    try:
        result: Any = None
        while True:
            try:
                op = plan.send(result)
            except StopIteration as done:
                if write:
                    db.execute("COMMIT")
                return done.value  # type: ignore[no-any-return]
            result = _step(db, op)
    except BaseException:
        if write and db.in_transaction:
            db.execute("ROLLBACK")
        raise
