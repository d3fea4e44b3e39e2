"""Bars kept as trades arrive equal bars computed directly from the ticks, and bars rebuilt
from the stored ticks; daily bars start at midnight in Vietnam (Asia/Ho_Chi_Minh)."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import tempfile
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from settlement.ticks.model import INTERVALS, Bar, Tick
from settlement.ticks.sqlite import SqliteTickStore
from tests.ticks.conftest import INSTRUMENTS, T0, TickStores, tick

VN = ZoneInfo("Asia/Ho_Chi_Minh")
SIZES = {"1m": 60, "5m": 300, "1h": 3600}


def start_of(ts_ns: int, interval: str) -> int:
    """The bar's start, computed from the calendar (not from settlement.ticks.model)."""
    secs = ts_ns // 10**9
    if interval == "1d":
        day = dt.datetime.fromtimestamp(secs, VN).date()
        return int(dt.datetime(day.year, day.month, day.day, tzinfo=VN).timestamp()) * 10**9
    return secs // SIZES[interval] * SIZES[interval] * 10**9


def direct(ticks: list[Tick]) -> dict[tuple[str, str, int], dict[str, Any]]:
    """Every bar, straight from its definition: group, then open = earliest (seq, n) ..."""
    groups: dict[tuple[str, str, int], list[Tick]] = {}
    for t in ticks:
        for iv in INTERVALS:
            groups.setdefault((t.symbol, iv, start_of(t.ts_ns, iv)), []).append(t)
    out = {}
    for key, ts in groups.items():
        ordered = sorted(ts, key=lambda t: (t.seq, t.n))
        active = [t for t in ts if t.active_mg is not None]
        out[key] = {
            "open": ordered[0].price_vnd, "close": ordered[-1].price_vnd,
            "high": max(t.price_vnd for t in ts), "low": min(t.price_vnd for t in ts),
            "volume": sum(t.qty for t in ts), "trades": len(ts),
            "vwap": sum(t.price_vnd * t.qty for t in ts) // sum(t.qty for t in ts),
            "active_mg": sum(t.active_mg or 0 for t in active),
            "active_notional": sum(t.notional_vnd for t in active),
            "demo_trades": sum(t.demo for t in ts),
        }
    return out


def as_dict(bars: list[Bar]) -> dict[tuple[str, str, int], dict[str, Any]]:
    return {(b.symbol, b.interval, b.start_ns): {
        "open": b.open_vnd, "close": b.close_vnd, "high": b.high_vnd, "low": b.low_vnd,
        "volume": b.volume, "trades": b.trades, "vwap": b.notional_vnd // b.volume,
        "active_mg": b.active_mg, "active_notional": b.active_notional_vnd,
        "demo_trades": b.demo_trades} for b in bars}


async def all_bars(store: Any) -> list[Bar]:
    out: list[Bar] = []
    for symbol in INSTRUMENTS:
        for iv in INTERVALS:
            out += await store.bars(symbol, iv, None, None)
    return out


def random_ticks(r: random.Random, count: int, spread_s: int) -> list[Tick]:
    """Trades in seq order, several per command at times, time never going back, crossing
    Vietnam's midnights and hour boundaries."""
    ticks: list[Tick] = []
    seq, ts = 0, T0 - r.randrange(spread_s) * 10**9
    while len(ticks) < count:
        seq += r.randint(1, 3)
        ts += r.choice((0, 1, 7, 59, 61, 299, 3599, 3601, 40_000)) * 10**9 + r.randrange(10**9)
        for n in range(r.choice((1, 1, 1, 2, 3))):
            ticks.append(tick(seq, n, ts_ns=ts, symbol=r.choice(list(INSTRUMENTS)),
                              price=r.randint(1, 500) * 100, qty=r.randint(1, 900),
                              active_mg=r.choice((None, r.randint(1, 10**7))),
                              demo=r.random() < 0.2))
    return ticks


async def check(store: Any, ticks: list[Tick], r: random.Random) -> None:
    # incremental: in command order, split into random batches (as the writer gets them)
    by_seq: dict[int, list[Tick]] = {}
    for t in ticks:
        by_seq.setdefault(t.seq, []).append(t)
    seqs = sorted(by_seq)
    live: dict[tuple[str, str, int], Bar] = {}
    i, last = 0, 0
    while i < len(seqs):
        j = min(len(seqs), i + r.randint(1, 8))
        batch = [t for s in seqs[i:j] for t in by_seq[s]]
        result = await store.write(last + 1, seqs[j - 1], batch, dict(INSTRUMENTS))
        assert result.written
        for b in result.bars:  # what the live channels get is the stored bar
            live[(b.symbol, b.interval, b.start_ns)] = b
        last, i = seqs[j - 1], j
    expected = direct(ticks)
    stored = await all_bars(store)
    assert as_dict(stored) == expected
    assert as_dict(list(live.values())) == expected
    # rebuilt from the stored ticks
    assert await store.rebuild_bars() == len(expected)
    assert as_dict(await all_bars(store)) == expected
    for b in stored:
        if b.interval == "1d":  # midnight in Vietnam
            local = dt.datetime.fromtimestamp(b.start_ns // 10**9, VN)
            assert (local.hour, local.minute, local.second) == (0, 0, 0)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32), count=st.integers(1, 120))
def test_incremental_direct_and_rebuilt_bars_agree_on_sqlite(seed: int, count: int) -> None:
    r = random.Random(seed)

    async def run() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            store = SqliteTickStore(Path(tmp) / "ticks.sqlite")
            await store.open()
            try:
                await check(store, random_ticks(r, count, 3 * 86_400), r)
            finally:
                await store.close()

    asyncio.run(run())


async def test_incremental_direct_and_rebuilt_bars_agree_on_both_stores(
        stores: TickStores) -> None:
    store = await stores.open()
    r = random.Random(20261130)
    await check(store, random_ticks(r, 600, 10 * 86_400), r)


async def test_bars_merge_in_any_arrival_order(stores: TickStores) -> None:
    """Backfilled ticks (demo history) may come in any order: open is still the earliest
    (seq, n), close the latest."""
    store = await stores.open()
    r = random.Random(7)
    ticks = random_ticks(r, 200, 86_400)
    shuffled = ticks[:]
    r.shuffle(shuffled)
    for k in range(0, len(shuffled), 13):
        await store.backfill(shuffled[k:k + 13], dict(INSTRUMENTS))
    assert as_dict(await all_bars(store)) == direct(ticks)
    assert (await store.load_state())[0] == 0  # a backfill never moves the writer


def test_daily_bar_boundaries_in_vietnam_time() -> None:
    # 16:59:59.999 UTC is 23:59:59.999 in Hanoi: the day before; 17:00 UTC is midnight
    from settlement.ticks.bars import bars_of

    eve = int(dt.datetime(2026, 11, 29, 16, 59, 59, 999_000, tzinfo=dt.UTC).timestamp()
              * 10**6) * 1000
    midnight = int(dt.datetime(2026, 11, 29, 17, tzinfo=dt.UTC).timestamp()) * 10**9
    bars = bars_of([tick(1, ts_ns=eve), tick(2, ts_ns=midnight)], ("1d",))
    starts = sorted(k[2] for k in bars)
    assert [dt.datetime.fromtimestamp(s // 10**9, VN).isoformat() for s in starts] == [
        "2026-11-29T00:00:00+07:00", "2026-11-30T00:00:00+07:00"]
