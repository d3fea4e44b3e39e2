"""The server store: PostgreSQL through asyncpg, one connection, bulk rows by COPY.

Owns the PostgreSQL connection and its queries. A batch is one transaction: the booked position
is read ``FOR UPDATE`` (a second booker waits rather than double-books), the rows go in by COPY
(`copy_records_to_table`), the balances by one batched ``executemany`` upsert that the
``balance_nonneg`` CHECK refuses to take below zero, and triggers refuse any UPDATE, DELETE or
TRUNCATE of the ledger's rows (`settlement.schema`). ``schema`` puts every table in one
PostgreSQL schema (created if missing), which is how the tests isolate their runs.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import asyncpg

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
    Row,
    batch_rows,
    check_invoice,
    check_position,
    dvp_from_rows,
    dvp_rows,
    gap_of,
    txns_from_rows,
)

_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# Two steps, because a database checks an upsert's proposed row before it finds the conflict: a
# debit would fail the CHECK as a new row even where the existing balance covers it.
_NEW_BAL = ("INSERT INTO balances (account, unit, balance, nonneg) VALUES ($1, $2, 0, $3) "
            "ON CONFLICT (account, unit) DO NOTHING")
_BAL = "UPDATE balances SET balance = balance + $1 WHERE account = $2 AND unit = $3"


class PgStore:
    name = "postgres"

    def __init__(self, url: str, *, schema: str | None = None) -> None:
        if schema is not None and not _SCHEMA.fullmatch(schema):
            raise ValueError(f"schema {schema!r} must be a lower-case SQL identifier")
        self.url = url
        self.schema = schema
        self._conn: Any = None  # asyncpg.Connection (asyncpg ships no type hints)
        self._lock = asyncio.Lock()  # one statement stream per connection

    @property
    def conn(self) -> Any:
        assert self._conn is not None, "store not open"
        return self._conn

    async def open(self) -> None:
        settings = {"search_path": self.schema} if self.schema else {}
        self._conn = await asyncpg.connect(self.url, server_settings=settings)
        if self.schema:
            await self.conn.execute(f"CREATE SCHEMA IF NOT EXISTS {self.schema}")
        async with self._lock, self.conn.transaction():
            # one migrator at a time across processes
            await self.conn.execute("SELECT pg_advisory_xact_lock(7231)")
            await self.conn.execute(BOOKKEEPING)
            done = {r[0] for r in await self.conn.fetch("SELECT version FROM schema_migrations")}
            for m in MIGRATIONS:
                if m.version in done:
                    continue
                for stmt in m.statements("postgres"):
                    await self.conn.execute(stmt)
                await self.conn.execute(
                    "INSERT INTO schema_migrations (version, note) VALUES ($1, $2)",
                    m.version, m.note)

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def schema_version(self) -> int:
        async with self._lock:
            return int(await self.conn.fetchval("SELECT max(version) FROM schema_migrations"))

    async def load_state(self) -> LedgerState:
        async with self._lock:
            last = await self.conn.fetchval("SELECT last_seq FROM booker_state WHERE id = 1")
            inv = await self.conn.fetch("SELECT year, last_no FROM invoice_series")
            herbs = await self.conn.fetch("SELECT symbol, herb FROM instruments")
            open_trades = await self.conn.fetch(OPEN_TRADES)
        return LedgerState(last_seq=int(last), invoice_last={r[0]: r[1] for r in inv},
                           herbs={r[0]: r[1] for r in herbs},
                           open_trades={int(r[0]): (int(r[1]), int(r[2])) for r in open_trades})

    async def apply(self, batch: Batch) -> ApplyResult:
        txns, lots, posts, bal = batch_rows(batch)
        async with self._lock, self.conn.transaction():
            c = self.conn
            last = int(await c.fetchval(
                "SELECT last_seq FROM booker_state WHERE id = 1 FOR UPDATE"))
            skip = check_position(last, batch)
            if skip is not None:
                return skip
            for year, (first, upto) in batch.invoices.items():
                stored = await c.fetchval(
                    "SELECT last_no FROM invoice_series WHERE year = $1 FOR UPDATE", year)
                check_invoice(year, 0 if stored is None else int(stored), first)
                await c.execute(
                    "INSERT INTO invoice_series (year, last_no) VALUES ($1, $2) "
                    "ON CONFLICT (year) DO UPDATE SET last_no = excluded.last_no", year, upto)
            await self._copy("transactions", TXN_COLUMNS, txns)
            await self._copy("trade_lots", LOT_COLUMNS, lots)
            await self._copy("postings", POSTING_COLUMNS, posts)
            await self._copy("dvp_changes", DVP_COLUMNS, dvp_rows(batch))
            if bal:
                await c.executemany(_NEW_BAL, [(a, u, nn) for a, u, _, nn in bal])
                await c.executemany(_BAL, [(d, a, u) for a, u, d, _ in bal])
            if batch.herbs:
                await c.executemany("INSERT INTO instruments (symbol, herb) VALUES ($1, $2) "
                                    "ON CONFLICT (symbol) DO NOTHING", list(batch.herbs.items()))
            await c.execute("UPDATE booker_state SET last_seq = $1 WHERE id = 1", batch.last_seq)
        return ApplyResult(True, gap_of(last, batch))

    async def _copy(self, table: str, columns: tuple[str, ...], rows: list[Row]) -> None:
        if rows:
            await self.conn.copy_records_to_table(table, records=rows, columns=list(columns),
                                                  schema_name=self.schema)

    async def balances(self) -> dict[tuple[str, str], int]:
        async with self._lock:
            rows = await self.conn.fetch("SELECT account, unit, balance FROM balances")
        return {(r[0], r[1]): int(r[2]) for r in rows}

    async def transactions(self, limit: int = MAX_LIST) -> list[LedgerTxn]:
        async with self._lock:
            c = self.conn
            txns = await c.fetch(f"SELECT {', '.join(TXN_COLUMNS)} FROM transactions "
                                 "ORDER BY seq, n LIMIT $1", min(limit, MAX_LIST))
            if not txns:
                return []
            s, n = txns[-1][0], txns[-1][1]
            lots = await c.fetch(f"SELECT {', '.join(LOT_COLUMNS)} FROM trade_lots "
                                 "WHERE (seq, n) <= ($1, $2) ORDER BY seq, n, leg", s, n)
            posts = await c.fetch(f"SELECT {', '.join(POSTING_COLUMNS)} FROM postings "
                                  "WHERE (seq, n) <= ($1, $2) ORDER BY seq, n, i", s, n)
        return txns_from_rows([tuple(r) for r in txns], [tuple(r) for r in lots],
                              [tuple(r) for r in posts])

    async def dvp_changes(self, limit: int = MAX_LIST) -> list[DvpChange]:
        async with self._lock:
            rows = await self.conn.fetch(
                f"SELECT {', '.join(DVP_COLUMNS)} FROM dvp_changes ORDER BY seq, trade_id "
                "LIMIT $1", min(limit, MAX_LIST))
        return dvp_from_rows([tuple(r) for r in rows])

    async def execute(self, sql: str, *args: object) -> None:
        """One statement in its own transaction (tests: prove the triggers refuse)."""
        async with self._lock:
            await self.conn.execute(sql, *args)
