"""The analysts' reads of the tick store, on SQLite and PostgreSQL: a herb product's daily bars
with each instrument's grade (what the index takes) and its ticks in a window summed (what the
insurance figures take), checked against the pure functions over the same ticks."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.insurance import InsuranceTerms, herb_key
from settlement.ticks.bars import bars_of
from settlement.ticks.indices import herb_index
from settlement.ticks.insurance import window_sums
from settlement.ticks.model import Tick
from tests.analytics.support import DAY_NS, day_ns, put_ticks, tick

W0 = day_ns("2026-09-01")
H = 3600 * 10**9
TICKS = [tick("QUE-BARK-A", W0 + 9 * H, 62_000, 100, n=1, active_mg=2_500_000),
         tick("QUE-BARK-B", W0 + 10 * H, 48_000, 200, n=2, active_mg=4_000_000),
         tick("QUE-BARK-A", W0 + DAY_NS + 9 * H, 63_000, 150, n=3, demo=True),
         tick("QUE-BARK-A", W0 + DAY_NS + 11 * H, 63_500, 10, n=4),
         tick("QUE-OIL-A", W0 + DAY_NS + 9 * H, 1_000_000, 5, n=5),  # another product
         tick("QUE-BARK-B", W0 + 2 * DAY_NS, 49_000, 250, n=6)]  # at the window's end


def terms(demo: bool) -> InsuranceTerms:
    return InsuranceTerms(herb="QUE-BARK", season="2026", floor_vnd=1, window_start_ns=W0,
                          window_end_ns=W0 + 2 * DAY_NS, min_volume_kg=1, demo=demo, seq=1,
                          ts_ns=0)


async def test_daily_bars_of_a_herb_product_with_grades(store: Any) -> None:
    assert await store.herb_daily_bars("QUE-BARK") == ([], {})
    await put_ticks(store, TICKS)
    bars, grades = await store.herb_daily_bars("QUE-BARK")
    assert grades == {"QUE-BARK-A": "A", "QUE-BARK-B": "B"}
    ours = [t for t in TICKS if t.symbol.startswith("QUE-BARK-")]
    want = sorted((kb[0] for kb in bars_of(ours, ("1d",)).values()),
                  key=lambda b: (b.start_ns, b.symbol))
    assert bars == want
    assert [b.demo_trades for b in bars] == [0, 0, 1, 0]  # the demo trade is marked
    assert herb_index(bars, grades, "QUE-BARK")[1].demo_trades == 1
    oil, oil_grades = await store.herb_daily_bars("QUE-OIL")
    assert [b.symbol for b in oil] == ["QUE-OIL-A"] and oil_grades == {"QUE-OIL-A": "A"}
    assert await store.herb_daily_bars("QUE") == ([], {})  # a species is not a product
    assert len((await store.herb_daily_bars("QUE-BARK", limit=2))[0]) == 2


async def test_window_sums_official_and_demo(store: Any) -> None:
    await put_ticks(store, TICKS)
    for demo in (False, True):
        t = terms(demo)
        got = await store.herb_window_sums("QUE-BARK", t.window_start_ns, t.window_end_ns,
                                           demo)
        assert got == window_sums(TICKS, t)
        assert got.volume_kg == (460 if demo else 310)  # the end of the window is out
        assert got.demo_trades == (1 if demo else 0)
    empty = await store.herb_window_sums("ATISO-LEAF", W0, W0 + DAY_NS, True)
    assert (empty.trades, empty.volume_kg, empty.notional_vnd) == (0, 0, 0)


SYMBOLS = st.text("ABQ-_1", min_size=1, max_size=8)


@pytest.mark.parametrize("kind", ["sqlite"])
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pairs=st.lists(st.tuples(SYMBOLS, st.text("AB-_", min_size=1, max_size=3)),
                      min_size=1, max_size=6, unique_by=lambda p: p[0]))
def test_herb_key_in_sql_is_herb_key(kind: str, pairs: list[tuple[str, str]]) -> None:
    """The SQL of a herb product (`settlement.ticks.store.herb_key_sql`) agrees with
    `engine.insurance.herb_key` on odd symbols and grades (suffix-like grades, ``_``, ``-``)."""
    import sqlite3

    from settlement.ticks.store import herb_key_sql

    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE i (symbol TEXT, grade TEXT)")
    db.executemany("INSERT INTO i VALUES (?, ?)", pairs)
    got = dict(db.execute(f"SELECT symbol, {herb_key_sql('symbol', 'grade')} FROM i"))
    assert got == {s: herb_key(s, g) for s, g in pairs}


async def test_herb_key_sql_on_postgres_too(store: Any) -> None:
    odd = [("A-A", "A"), ("-A", "A"), ("QUE-BARK-AB", "B"), ("X_1-B_", "B_"), ("QUE", "QUE")]
    ticks: list[Tick] = []
    for k, (sym, grade) in enumerate(odd):
        t = tick("QUE-BARK-A", W0 + k, 1_000, 1, n=10 + k)
        ticks.append(Tick(**{**{f: getattr(t, f) for f in Tick.__struct_fields__},
                             "symbol": sym, "grade": grade}))
    await store.backfill(ticks, {t.symbol: ("X", t.grade) for t in ticks})
    for sym, grade in odd:
        _, grades = await store.herb_daily_bars(herb_key(sym, grade))
        assert grades.get(sym) == grade, (sym, grade)
