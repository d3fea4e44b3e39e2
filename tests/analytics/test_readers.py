"""The tick-store readers: the SQLite file and memory give the same bars and window sums; an
absent file or table reads as no data yet."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from engine.insurance import InsuranceTerms
from settlement.ticks.readers import MemoryTickReader, SqliteTickReader, symbols_of
from tests.analytics.support import DAY_NS, bar, day_ns, tick, write_store

BARS = [bar("QUE-BARK-B", "2026-09-02", 40, 1_920_000, active_mg=800_000),
        bar("QUE-BARK-A", "2026-09-01", 100, 6_200_000, active_mg=2_500_000, demo_trades=1),
        bar("QUE-BARK-A", "2026-09-02", 10, 630_000)]
W0 = day_ns("2026-09-01")
TICKS = [tick("QUE-BARK-A", W0, 62_000, 100, n=1),
         tick("QUE-BARK-B", W0 + DAY_NS, 48_000, 40, demo=True, n=2),
         tick("QUE-BARK-A", W0 + 2 * DAY_NS, 63_000, 10, n=3)]


def terms(demo: bool) -> InsuranceTerms:
    return InsuranceTerms(herb="QUE-BARK", season="2026", floor_vnd=1, window_start_ns=W0,
                          window_end_ns=W0 + 2 * DAY_NS, min_volume_kg=1, demo=demo, seq=1,
                          ts_ns=0)


async def test_sqlite_and_memory_agree(tmp_path: Path) -> None:
    write_store(tmp_path, BARS, TICKS)
    readers = [SqliteTickReader(tmp_path / "ticks.sqlite"), MemoryTickReader(BARS, TICKS)]
    symbols = ["QUE-BARK-A", "QUE-BARK-B"]
    bars = [await r.daily_bars(symbols) for r in readers]
    assert bars[0] == bars[1]
    assert [(b.symbol, b.start_ns) for b in bars[0]] == [
        ("QUE-BARK-A", W0), ("QUE-BARK-A", W0 + DAY_NS), ("QUE-BARK-B", W0 + DAY_NS)]
    assert await readers[0].daily_bars(["QUE-BARK-B"]) == [BARS[0]]
    for demo in (False, True):
        sums = [await r.window_sums(symbols, terms(demo)) for r in readers]
        assert sums[0] == sums[1]
        assert sums[0].volume_kg == (140 if demo else 100)  # the end of the window is out
        assert sums[0].demo_trades == (1 if demo else 0)


async def test_no_store_yet_is_no_data(tmp_path: Path) -> None:
    absent = SqliteTickReader(tmp_path / "ticks.sqlite")
    assert await absent.daily_bars(["QUE-BARK-A"]) == []
    assert (await absent.window_sums(["QUE-BARK-A"], terms(False))).trades == 0
    sqlite3.connect(tmp_path / "ticks.sqlite").close()  # the file, without the tables
    assert await absent.daily_bars(["QUE-BARK-A"]) == []
    assert not (tmp_path / "ticks.sqlite-wal").exists()  # read-only: nothing written


def test_symbols_of_a_herb_product() -> None:
    grades = {"QUE-BARK-A": "A", "QUE-BARK-B": "B", "QUE-OIL-A": "A"}
    assert symbols_of(grades, "QUE-BARK") == ["QUE-BARK-A", "QUE-BARK-B"]
    assert symbols_of(grades, "QUE") == []
