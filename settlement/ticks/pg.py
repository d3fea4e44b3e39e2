"""The server tick store: PostgreSQL through asyncpg, ticks by COPY, in their own schema.

Owns the PostgreSQL side of the tick data: a small connection pool (the writer takes one
connection per write, readers and exports the others, so a long export never holds up the
writer), the tables in their own PostgreSQL schema (``ticks`` unless configured: the ledger's
database, never its names), ticks written by COPY and bars merged by one upsert each, with the
position read ``FOR UPDATE`` (a second writer waits rather than writes twice). An export is a
server-side cursor in a read-only transaction: rows come ``chunk`` at a time.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncpg

from settlement.ticks.bars import bars_of
from settlement.ticks.export import csv_select_sql
from settlement.ticks.insurance import WindowSums
from settlement.ticks.model import INTERVALS, Bar, Interval, Tick
from settlement.ticks.schema import BOOKKEEPING, DEFAULT_PG_SCHEMA, MIGRATIONS, TICK_COLUMNS
from settlement.ticks.store import (
    EXPORT_CHUNK,
    LIVE,
    MAX_BARS,
    MAX_DAILY_BARS,
    MAX_PAGE,
    NO_FROM,
    NO_TO,
    CsvSink,
    Source,
    TickQuery,
    WriteResult,
    bar_of_row,
    bar_row,
    check_position,
    gap_of,
    graded_bars_of_rows,
    herb_daily_bars_sql,
    herb_window_sql,
    move_sql,
    position_sql,
    rebuild_sql,
    select_bars_sql,
    select_ticks_sql,
    tick_of_row,
    tick_row,
    upsert_bar_sql,
    upsert_instrument_sql,
    where_of,
    window_sums_of_row,
)

_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_BAR = upsert_bar_sql("postgres")
_INSTRUMENT = upsert_instrument_sql("postgres")
POOL_SIZE = 6  # the writer, two exports (gateway.api.ticks.MAX_EXPORTS), three readers


class PgTickStore:
    name = "postgres"

    def __init__(self, url: str, *, schema: str = DEFAULT_PG_SCHEMA,
                 pool_size: int = POOL_SIZE) -> None:
        if not _SCHEMA.fullmatch(schema):
            raise ValueError(f"schema {schema!r} must be a lower-case SQL identifier")
        self.url = url
        self.schema = schema
        self.pool_size = pool_size
        self._pool: Any = None  # asyncpg.Pool (asyncpg ships no type hints)

    @property
    def pool(self) -> Any:
        assert self._pool is not None, "tick store not open"
        return self._pool

    async def open(self) -> None:
        """Migrate and open the pool; opening an open store does nothing."""
        if self._pool is not None:
            return
        conn = await asyncpg.connect(self.url)
        try:
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(7232)")  # one migrator
                await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {self.schema}")
                await conn.execute(f"SET LOCAL search_path = {self.schema}")
                await conn.execute(BOOKKEEPING)
                done = {r[0] for r in await conn.fetch("SELECT version FROM tick_migrations")}
                for m in MIGRATIONS:
                    if m.version in done:
                        continue
                    for stmt in m.statements("postgres"):
                        await conn.execute(stmt)
                    await conn.execute(
                        "INSERT INTO tick_migrations (version, note) VALUES ($1, $2)",
                        m.version, m.note)
        finally:
            await conn.close()
        self._pool = await asyncpg.create_pool(
            self.url, min_size=1, max_size=self.pool_size,
            server_settings={"search_path": self.schema})

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def schema_version(self) -> int:
        return int(await self.pool.fetchval("SELECT max(version) FROM tick_migrations"))

    async def load_state(self, source: Source = LIVE) -> tuple[int, dict[str, tuple[str, str]]]:
        sql, args = position_sql(source, "postgres")
        async with self.pool.acquire() as c:
            last = int(await c.fetchval(sql, *args))
            rows = await c.fetch("SELECT symbol, herb, grade FROM instruments")
        return last, {r[0]: (r[1], r[2]) for r in rows}

    async def write(self, first_seq: int, last_seq: int, ticks: Sequence[Tick],
                    instruments: dict[str, tuple[str, str]],
                    source: Source = LIVE) -> WriteResult:
        return await self._write((first_seq, last_seq), ticks, instruments, source)

    async def backfill(self, ticks: Sequence[Tick],
                       instruments: dict[str, tuple[str, str]]) -> list[Bar]:
        return (await self._write(None, ticks, instruments)).bars

    async def _write(self, seqs: tuple[int, int] | None, ticks: Sequence[Tick],
                     instruments: dict[str, tuple[str, str]],
                     source: Source = LIVE) -> WriteResult:
        async with self.pool.acquire() as c, c.transaction():
            gap = None
            if seqs is not None:
                sql, args = position_sql(source, "postgres", lock=True)
                last = int(await c.fetchval(sql, *args))
                skip = check_position(last, *seqs)
                if skip is not None:
                    return skip
                gap = gap_of(last, seqs[0])
            if instruments:
                await c.executemany(_INSTRUMENT,
                                    [(s, h, g) for s, (h, g) in instruments.items()])
            if ticks:
                await c.copy_records_to_table("ticks", records=[tick_row(t) for t in ticks],
                                              columns=list(TICK_COLUMNS),
                                              schema_name=self.schema)
            bars = [bar_of_row(await c.fetchrow(_BAR, *bar_row(kb)))
                    for kb in bars_of(ticks).values()]
            if seqs is not None:
                sql, args = move_sql(source, "postgres", seqs[1])
                await c.execute(sql, *args)
        return WriteResult(True, gap, bars)

    async def rebuild_bars(self) -> int:
        async with self.pool.acquire() as c, c.transaction():
            await c.execute("DELETE FROM bars")
            for iv in INTERVALS:  # shortest first: each is made from the one before
                await c.execute(rebuild_sql(iv, "postgres"))
            return int(await c.fetchval("SELECT count(*) FROM bars"))

    async def ticks(self, q: TickQuery, limit: int = MAX_PAGE) -> list[Tick]:
        sql, args = select_ticks_sql(q, "postgres", min(limit, MAX_PAGE))
        rows = await self.pool.fetch(sql, *args)
        return [tick_of_row(r) for r in rows]

    async def export(self, q: TickQuery, chunk: int = EXPORT_CHUNK) -> AsyncIterator[list[Tick]]:
        sql, args = select_ticks_sql(q, "postgres", None)
        async with self.pool.acquire() as c, c.transaction(readonly=True):
            cur = await c.cursor(sql, *args)
            while True:
                rows = await cur.fetch(chunk)
                if not rows:
                    return
                yield [tick_of_row(r) for r in rows]
                if len(rows) < chunk:
                    return

    async def export_csv(self, q: TickQuery, write: CsvSink) -> None:
        """The CSV text of ``q`` (no header) as PostgreSQL writes it (``COPY … TO STDOUT``):
        the server formats the rows, and asyncpg stops reading while ``write`` waits."""
        where, args = where_of(q, "postgres")
        async with self.pool.acquire() as c, c.transaction(readonly=True):
            await c.copy_from_query(csv_select_sql(where), *args, output=write, format="csv")

    async def bars(self, symbol: str, interval: Interval, from_ns: int | None,
                   to_ns: int | None, limit: int = MAX_BARS) -> list[Bar]:
        rows = await self.pool.fetch(
            select_bars_sql("postgres", from_ns, to_ns), symbol, interval,
            NO_FROM if from_ns is None else from_ns, NO_TO if to_ns is None else to_ns,
            min(limit, MAX_BARS))
        return [bar_of_row(r) for r in rows]

    async def herb_daily_bars(self, herb: str, limit: int = MAX_DAILY_BARS
                              ) -> tuple[list[Bar], dict[str, str]]:
        rows = await self.pool.fetch(herb_daily_bars_sql("postgres"), herb,
                                     min(limit, MAX_DAILY_BARS))
        return graded_bars_of_rows(rows)

    async def herb_window_sums(self, herb: str, from_ns: int, to_ns: int,
                               include_demo: bool) -> WindowSums:
        row = await self.pool.fetchrow(herb_window_sql("postgres", include_demo), herb,
                                       from_ns, to_ns)
        return window_sums_of_row(row)

    async def execute(self, sql: str, *args: object) -> str:
        """One statement (the benchmark's bulk load and tests)."""
        return str(await self.pool.execute(sql, *args))
