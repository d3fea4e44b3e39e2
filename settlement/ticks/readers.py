"""Reading the tick store for the indices and the insurance figures.

Owns the queries analytics make against the tick store's tables (``instruments``, ``bars``
with interval ``'1d'``, ``ticks``; settlement/ticks, docs/analytics.md) behind one small
interface, `TickReader`, so that the pure computations (`settlement.ticks.indices`,
`settlement.ticks.insurance`) never see a database: `SqliteTickReader` reads
``<data_dir>/ticks.sqlite`` read-only (an absent file or table reads as no data yet), and
`MemoryTickReader` serves bars and ticks held in memory (tests, tools). Reads only: analysts
never write. The interface is async, as the tick store's own is; the SQLite reads (small and
indexed) run in a thread so they never block the event loop.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol

from engine.insurance import InsuranceTerms, herb_key
from settlement.ticks.insurance import WindowSums, window_sums
from settlement.ticks.model import Bar, Tick

#: A bound on the daily bars one index reads: ten years of a herb product with ten grades.
MAX_DAILY_BARS = 36_600


class TickReader(Protocol):
    async def daily_bars(self, symbols: Sequence[str]) -> list[Bar]:
        """The daily bars of ``symbols``, oldest first (at most `MAX_DAILY_BARS`)."""

    async def window_sums(self, symbols: Sequence[str], terms: InsuranceTerms) -> WindowSums:
        """The official trades of ``symbols`` in the terms' window, summed."""


def symbols_of(grades: dict[str, str], herb: str) -> list[str]:
    """The instruments (symbol → grade) that trade the herb product ``herb``."""
    return sorted(s for s, g in grades.items() if herb_key(s, g) == herb)


class MemoryTickReader:
    def __init__(self, bars: Iterable[Bar] = (), ticks: Iterable[Tick] = ()) -> None:
        self.bars = list(bars)
        self.ticks = list(ticks)

    async def daily_bars(self, symbols: Sequence[str]) -> list[Bar]:
        wanted = set(symbols)
        bars = [b for b in self.bars if b.interval == "1d" and b.symbol in wanted]
        return sorted(bars, key=lambda b: (b.start_ns, b.symbol))[:MAX_DAILY_BARS]

    async def window_sums(self, symbols: Sequence[str], terms: InsuranceTerms) -> WindowSums:
        wanted = set(symbols)
        return window_sums((t for t in self.ticks if t.symbol in wanted), terms)


_BAR_COLUMNS = ("symbol", "interval", "start_ns", "open_vnd", "high_vnd", "low_vnd",
                "close_vnd", "volume", "notional_vnd", "trades", "active_mg",
                "active_notional_vnd", "demo_trades")


class SqliteTickReader:
    """The tick store's SQLite file, opened read-only for each call (the tick writer owns it;
    a read-only connection never takes its write lock)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    async def _run(self, sql: str, args: Sequence[object]) -> list[tuple[object, ...]]:
        return await asyncio.to_thread(self._query, sql, args)

    def _query(self, sql: str, args: Sequence[object]) -> list[tuple[object, ...]]:
        if not self.path.exists():
            return []
        con = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            return con.execute(sql, tuple(args)).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return []  # the tick writer has not created its tables yet
            raise
        finally:
            con.close()

    async def daily_bars(self, symbols: Sequence[str]) -> list[Bar]:
        if not symbols:
            return []
        marks = ",".join("?" * len(symbols))
        rows = await self._run(
            f"SELECT {', '.join(_BAR_COLUMNS)} FROM bars WHERE interval = '1d' "
            f"AND symbol IN ({marks}) ORDER BY start_ns, symbol LIMIT {MAX_DAILY_BARS}",
            symbols)
        return [Bar(**dict(zip(_BAR_COLUMNS, row, strict=True))) for row in rows]  # type: ignore[arg-type]

    async def window_sums(self, symbols: Sequence[str], terms: InsuranceTerms) -> WindowSums:
        if not symbols:
            return WindowSums()
        marks = ",".join("?" * len(symbols))
        demo = "" if terms.demo else "AND demo = 0 "
        rows = await self._run(
            "SELECT COALESCE(SUM(qty), 0), COALESCE(SUM(notional_vnd), 0), COUNT(*), "
            "COALESCE(SUM(demo), 0) FROM ticks "
            f"WHERE symbol IN ({marks}) AND ts_ns >= ? AND ts_ns < ? {demo}",
            [*symbols, terms.window_start_ns, terms.window_end_ns])
        if not rows:
            return WindowSums()
        volume, notional, trades, demo_trades = (int(str(v)) for v in rows[0])
        return WindowSums(volume_kg=volume, notional_vnd=notional, trades=trades,
                          demo_trades=demo_trades)
