"""The embedded tick store: SQLite in WAL mode, its own file, on one worker thread.

Owns the SQLite connection of the tick data (``<data_dir>/ticks.sqlite``, apart from the ledger
so that neither waits on the other's writes). Every call runs on one dedicated thread, so the
event loop never waits on the disk (as `settlement.sqlite_store`). A write is one
``BEGIN IMMEDIATE`` … ``COMMIT`` holding the ticks, the merged bars and the position. An export
reads one chunk per call on that thread, so writes go on between its chunks.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from settlement.sqlite_worker import SqliteWorker
from settlement.ticks.bars import bars_of
from settlement.ticks.export import csv_chunk
from settlement.ticks.insurance import WindowSums
from settlement.ticks.model import INTERVALS, Bar, Interval, Tick
from settlement.ticks.schema import BOOKKEEPING, MIGRATIONS, TICK_COLUMNS
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
    insert_sql,
    move_sql,
    position_sql,
    rebuild_sql,
    select_bars_sql,
    select_ticks_sql,
    tick_of_row,
    tick_row,
    upsert_bar_sql,
    upsert_instrument_sql,
    window_sums_of_row,
)

T = TypeVar("T")
_TICK = insert_sql("ticks", TICK_COLUMNS, "sqlite")
_BAR = upsert_bar_sql("sqlite")
_INSTRUMENT = upsert_instrument_sql("sqlite")


class SqliteTickStore(SqliteWorker):
    name = "sqlite"

    def __init__(self, path: Path | str) -> None:
        super().__init__(path, "ticks-sqlite")

    async def open(self) -> None:
        """Connect (`settlement.sqlite_worker`) and migrate; opening an open store does
        nothing."""
        if await self._connect():
            await self._run(_migrate)

    async def schema_version(self) -> int:
        return await self._run(lambda db: int(
            db.execute("SELECT max(version) FROM tick_migrations").fetchone()[0]))

    async def load_state(self, source: Source = LIVE) -> tuple[int, dict[str, tuple[str, str]]]:
        def load(db: sqlite3.Connection) -> tuple[int, dict[str, tuple[str, str]]]:
            last = int(db.execute(*position_sql(source, "sqlite")).fetchone()[0])
            rows = db.execute("SELECT symbol, herb, grade FROM instruments").fetchall()
            return last, {s: (h, g) for s, h, g in rows}
        return await self._run(load)

    async def write(self, first_seq: int, last_seq: int, ticks: Sequence[Tick],
                    instruments: dict[str, tuple[str, str]],
                    source: Source = LIVE) -> WriteResult:
        return await self._run(
            lambda db: _write(db, (first_seq, last_seq), ticks, instruments, source))

    async def backfill(self, ticks: Sequence[Tick],
                       instruments: dict[str, tuple[str, str]]) -> list[Bar]:
        result = await self._run(lambda db: _write(db, None, ticks, instruments))
        return result.bars

    async def rebuild_bars(self) -> int:
        def rebuild(db: sqlite3.Connection) -> int:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute("DELETE FROM bars")
                for iv in INTERVALS:  # shortest first: each is made from the one before
                    db.execute(rebuild_sql(iv, "sqlite"))
                count = int(db.execute("SELECT count(*) FROM bars").fetchone()[0])
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return count
        return await self._run(rebuild)

    async def ticks(self, q: TickQuery, limit: int = MAX_PAGE) -> list[Tick]:
        sql, args = select_ticks_sql(q, "sqlite", min(limit, MAX_PAGE))
        rows = await self._run(lambda db: db.execute(sql, args).fetchall())
        return [tick_of_row(r) for r in rows]

    async def export(self, q: TickQuery, chunk: int = EXPORT_CHUNK) -> AsyncIterator[list[Tick]]:
        # one keyset page per call: the range is never held, and the writer runs in between
        while True:
            sql, args = select_ticks_sql(q, "sqlite", chunk)

            def page_of(db: sqlite3.Connection, sql: str = sql,
                        args: list[Any] = args) -> list[Any]:
                return db.execute(sql, args).fetchall()

            rows = await self._run(page_of)
            if not rows:
                return
            page = [tick_of_row(r) for r in rows]
            yield page
            if len(rows) < chunk:
                return
            q = TickQuery(symbol=q.symbol, herb=q.herb, from_ns=q.from_ns, to_ns=q.to_ns,
                          after=(page[-1].seq, page[-1].n))

    async def export_csv(self, q: TickQuery, write: CsvSink) -> None:
        async for chunk in self.export(q):
            await write(csv_chunk(chunk))

    async def bars(self, symbol: str, interval: Interval, from_ns: int | None,
                   to_ns: int | None, limit: int = MAX_BARS) -> list[Bar]:
        sql = select_bars_sql("sqlite", from_ns, to_ns)
        args = (symbol, interval, NO_FROM if from_ns is None else from_ns,
                NO_TO if to_ns is None else to_ns, min(limit, MAX_BARS))
        rows = await self._run(lambda db: db.execute(sql, args).fetchall())
        return [bar_of_row(r) for r in rows]

    async def herb_daily_bars(self, herb: str, limit: int = MAX_DAILY_BARS
                              ) -> tuple[list[Bar], dict[str, str]]:
        sql = herb_daily_bars_sql("sqlite")
        args = (herb, min(limit, MAX_DAILY_BARS))
        return graded_bars_of_rows(await self._run(lambda db: db.execute(sql, args).fetchall()))

    async def herb_window_sums(self, herb: str, from_ns: int, to_ns: int,
                               include_demo: bool) -> WindowSums:
        sql = herb_window_sql("sqlite", include_demo)
        row = await self._run(lambda db: db.execute(sql, (herb, from_ns, to_ns)).fetchone())
        return window_sums_of_row(row)


def _migrate(db: sqlite3.Connection) -> None:
    db.execute(BOOKKEEPING)
    done = {v for (v,) in db.execute("SELECT version FROM tick_migrations")}
    for m in MIGRATIONS:
        if m.version in done:
            continue
        db.execute("BEGIN IMMEDIATE")
        try:
            for stmt in m.statements("sqlite"):
                db.execute(stmt)
            db.execute("INSERT INTO tick_migrations (version, note) VALUES (?, ?)",
                       (m.version, m.note))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise


def _write(db: sqlite3.Connection, seqs: tuple[int, int] | None, ticks: Sequence[Tick],
           instruments: dict[str, tuple[str, str]], source: Source = LIVE) -> WriteResult:
    db.execute("BEGIN IMMEDIATE")
    try:
        gap = None
        if seqs is not None:
            last = int(db.execute(*position_sql(source, "sqlite")).fetchone()[0])
            skip = check_position(last, *seqs)
            if skip is not None:
                db.execute("ROLLBACK")
                return skip
            gap = gap_of(last, seqs[0])
        db.executemany(_INSTRUMENT, [(s, h, g) for s, (h, g) in instruments.items()])
        db.executemany(_TICK, [tick_row(t) for t in ticks])
        bars = [bar_of_row(db.execute(_BAR, bar_row(kb)).fetchone())
                for kb in bars_of(ticks).values()]
        if seqs is not None:
            db.execute(*move_sql(source, "sqlite", seqs[1]))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return WriteResult(True, gap, bars)
