"""The embedded store: SQLite (stdlib sqlite3) in WAL mode, on one worker thread.

Owns the SQLite connection and how a plan (`settlement.store`) runs on it. Every call runs on a
single dedicated thread (the connection never leaves it), so the event loop never waits on the
disk. A write is one ``BEGIN IMMEDIATE`` … ``COMMIT``; the balances' CHECK constraint and the
immutability triggers live in the schema (`settlement.schema`). ``synchronous=NORMAL`` in WAL
mode may lose the last commits on a power cut but never corrupts: the booked position moves
with the data, so the booker re-books what was lost from the journal.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, TypeVar

from settlement.sqlite_worker import SqliteWorker
from settlement.store import Exec, ExecMany, Fetch, Op, Plan, PlanStore, migrate_plan

T = TypeVar("T")
#: the embedded ledger's file in a market's data directory (`herbx serve`, `herbx reconcile`)
LEDGER_FILE = "ledger.sqlite"


class SqliteStore(SqliteWorker, PlanStore):
    name = "sqlite"

    def __init__(self, path: Path | str) -> None:
        super().__init__(path, "ledger-sqlite")

    async def _drive(self, plan: Plan[T], *, write: bool = False) -> T:
        return await self._run(lambda db: _drive(db, plan, write))

    async def open(self) -> None:
        """Connect (`settlement.sqlite_worker`) and apply the pending migrations."""
        await self._connect()
        await self._drive(migrate_plan("sqlite"), write=True)

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
