"""The server store: PostgreSQL through asyncpg, one connection, bulk rows by COPY.

Owns the PostgreSQL connection and how a plan (`settlement.store`) runs on it: ``?``
placeholders numbered, a locked read as ``FOR UPDATE`` (a second booker waits rather than
double-books), rows in by COPY (`copy_records_to_table`), a write in one transaction. The
``balance_nonneg`` CHECK and the triggers that refuse any UPDATE, DELETE or TRUNCATE of the
ledger's rows live in the schema (`settlement.schema`). ``schema`` puts every table in one
PostgreSQL schema (created if missing), which is how the tests isolate their runs. A lost
connection (the server restarted, the network cut) is replaced at the next call once the store
has been opened; the call that met the loss raises, and its transaction is rolled back.
"""

from __future__ import annotations

import asyncio
import functools
import re
from typing import Any, TypeVar

import asyncpg

from settlement.store import (
    Exec,
    ExecMany,
    Fetch,
    Plan,
    PlanStore,
    migrate_plan,
    numbered,
)

T = TypeVar("T")
_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_sql = functools.lru_cache(maxsize=256)(numbered)


class PgStore(PlanStore):
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

    async def _connect(self) -> Any:
        settings = {"search_path": self.schema} if self.schema else {}
        return await asyncpg.connect(self.url, server_settings=settings, timeout=10)

    async def _live(self) -> Any:
        """The connection; a new one if the last was lost (call with the lock held)."""
        assert self._conn is not None, "store not open"
        if self._conn.is_closed():
            self._conn = await self._connect()
        return self._conn

    async def open(self) -> None:
        self._conn = await self._connect()
        if self.schema:
            await self.conn.execute(f"CREATE SCHEMA IF NOT EXISTS {self.schema}")
        await self._drive(_locked_migrations(), write=True)

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                await conn.close(timeout=5)
            except Exception:  # noqa: BLE001 - a connection already lost closes by terminate
                conn.terminate()

    async def _drive(self, plan: Plan[T], *, write: bool = False) -> T:
        async with self._lock:
            c = await self._live()
            if not write:
                return await self._steps(c, plan)
            async with c.transaction():
                return await self._steps(c, plan)

    async def _steps(self, c: Any, plan: Plan[T]) -> T:
        result: Any = None
        while True:
            try:
                op = plan.send(result)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]
            result = None
            if isinstance(op, Fetch):
                sql = _sql(op.sql) + (" FOR UPDATE" if op.lock else "")
                result = [tuple(r) for r in await c.fetch(sql, *op.args)]
            elif isinstance(op, Exec):
                await c.execute(_sql(op.sql), *op.args)
            elif isinstance(op, ExecMany):
                await c.executemany(_sql(op.sql), op.rows)
            elif op.rows:
                await c.copy_records_to_table(op.table, records=op.rows,
                                              columns=list(op.columns), schema_name=self.schema)

    async def execute(self, sql: str, *args: object) -> None:
        """One statement in its own transaction (tests: prove the triggers refuse, inject a
        difference for reconcile)."""
        async with self._lock:
            await (await self._live()).execute(sql, *args)


def _locked_migrations() -> Plan[None]:
    yield Exec("SELECT pg_advisory_xact_lock(7231)")  # one migrator at a time across processes
    yield from migrate_plan("postgres")
