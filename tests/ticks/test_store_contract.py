"""The tick stores' contract, run against SQLite and PostgreSQL alike: exactly once, duplicates,
gaps, restart, cursors that never skip or repeat (also while ticks are written), exports."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from engine.messages import TradeExecuted
from settlement.ticks.schema import LATEST
from settlement.ticks.store import TickQuery, TickStoreError
from settlement.ticks.tape import ticks_of
from settlement.ticks.writer import TickWriter
from tests.settlement.conftest import scenario
from tests.ticks.conftest import INSTRUMENTS, T0, TickStores, tick


async def test_migrations_are_applied_once(stores: TickStores) -> None:
    a = await stores.open()
    assert await a.schema_version() == LATEST
    await a.close()
    b = await stores.open()  # a second open finds them applied
    assert await b.schema_version() == LATEST


async def test_writer_writes_each_command_once_and_resumes_after_a_restart(
        stores: TickStores) -> None:
    m = scenario()
    steps = m.steps
    trades = sum(isinstance(e, TradeExecuted) for _, evs in steps for e in evs)
    w = TickWriter(await stores.open())
    assert await w.start() == 0
    assert await w.offer(steps[:12]) == 12
    assert await w.offer(steps[:12]) == 0 and w.duplicates == 12  # offered again: skipped
    await w.close()
    w2 = TickWriter(await stores.open())  # a restart
    assert await w2.start() == 12 and w2.instruments == ticks_of(steps, {}).instruments
    assert await w2.offer(steps[6:]) == len(steps) - 12  # the overlap is skipped
    everything = await w2.store.ticks(TickQuery(), 1000)
    assert len(everything) == trades
    assert everything == ticks_of(steps, {}).ticks
    assert w2.position == steps[-1][0] and w2.gaps == 0


async def test_a_gap_is_written_and_counted(stores: TickStores) -> None:
    w = TickWriter(await stores.open())
    await w.start()
    await w.offer([(1, [])])
    assert await w.offer([(5, [])]) == 1
    assert w.gaps == 1 and w.position == 5


async def test_steps_overlapping_the_position_are_refused_by_the_store(
        store: Any) -> None:
    await store.write(1, 10, [tick(3)], dict(INSTRUMENTS))
    assert not (await store.write(4, 9, [], {})).written  # at or below: a duplicate
    with pytest.raises(TickStoreError):
        await store.write(8, 12, [tick(11)], {})  # half done already: a bug upstream
    assert [t.seq for t in await store.ticks(TickQuery())] == [3]


async def test_a_failed_write_changes_nothing(store: Any) -> None:
    await store.write(1, 1, [tick(1)], dict(INSTRUMENTS))
    with pytest.raises(Exception):  # noqa: B017 - the databases raise their own kinds
        await store.write(2, 3, [tick(2), tick(2)], {})  # the same key twice
    assert (await store.load_state())[0] == 1
    assert len(await store.ticks(TickQuery())) == 1
    assert (await store.bars("QUE-BARK-A", "1m", None, None))[0].trades == 1


async def test_filters_by_symbol_herb_and_time(store: Any) -> None:
    ticks = [tick(s, symbol=sym) for s, sym in enumerate(
        ["QUE-BARK-A", "QUE-BARK-B", "ATISO-LEAF-A"] * 5, start=1)]
    await store.write(1, 15, ticks, dict(INSTRUMENTS))
    got = await store.ticks(TickQuery(symbol="QUE-BARK-B"))
    assert [t.seq for t in got] == [2, 5, 8, 11, 14]
    got = await store.ticks(TickQuery(herb="QUE-BARK"))
    assert len(got) == 10 and {t.herb for t in got} == {"QUE-BARK"}
    got = await store.ticks(TickQuery(from_ns=T0 + 4 * 10**9, to_ns=T0 + 7 * 10**9))
    assert [t.seq for t in got] == [4, 5, 6]  # [from, to)


async def test_a_cursor_never_skips_or_repeats_while_ticks_are_written(store: Any) -> None:
    r = random.Random(5)
    await store.write(1, 1, [], dict(INSTRUMENTS))
    written: list[tuple[int, int]] = []
    done = asyncio.Event()

    async def writer() -> None:
        seq = 1
        for _ in range(150):
            first = seq + 1
            batch = []
            for _ in range(r.randint(1, 4)):
                seq += r.randint(1, 2)
                for n in range(r.randint(1, 3)):
                    batch.append(tick(seq, n, symbol=r.choice(list(INSTRUMENTS))))
            await store.write(first, seq, batch, {})
            written.extend((t.seq, t.n) for t in batch)
            await asyncio.sleep(0)
        done.set()

    async def reader(q: TickQuery) -> list[tuple[int, int]]:
        seen: list[tuple[int, int]] = []
        after = None
        while True:
            was_done = done.is_set()
            page = await store.ticks(TickQuery(symbol=q.symbol, after=after), 7)
            seen += [(t.seq, t.n) for t in page]
            if page:
                after = (page[-1].seq, page[-1].n)
            elif was_done:
                return seen
            await asyncio.sleep(0)

    _, everything, some = await asyncio.gather(
        writer(), reader(TickQuery()), reader(TickQuery(symbol="QUE-BARK-B")))
    assert everything == sorted(written)  # every tick once, in key order
    stored_b = [(t.seq, t.n) for t in await store.ticks(TickQuery(symbol="QUE-BARK-B"), 1000)]
    assert some == stored_b


async def test_export_of_an_empty_range(store: Any) -> None:
    await store.write(1, 3, [tick(1), tick(2)], dict(INSTRUMENTS))
    chunks = [c async for c in store.export(TickQuery(from_ns=T0 + 10**12))]
    assert chunks == []
    assert [c async for c in store.export(TickQuery(symbol="NONE"))] == []


async def test_export_of_a_large_range_comes_in_bounded_chunks(store: Any) -> None:
    total = 30_000
    ticks = [tick(s, symbol=("QUE-BARK-A", "QUE-BARK-B")[s % 2]) for s in range(1, total + 1)]
    for k in range(0, total, 5_000):
        await store.write(k + 1, k + 5_000, ticks[k:k + 5_000], dict(INSTRUMENTS) if not k
                          else {})
    sizes, last, count = [], (0, 0), 0
    async for chunk in store.export(TickQuery(), chunk=1_000):
        sizes.append(len(chunk))
        keys = [(t.seq, t.n) for t in chunk]
        assert keys == sorted(keys) and keys[0] > last
        last = keys[-1]
        count += len(chunk)
    assert count == total and max(sizes) == 1_000
    half = [c async for c in store.export(TickQuery(symbol="QUE-BARK-B"), chunk=999)]
    assert sum(map(len, half)) == total // 2


async def test_csv_export_text_is_the_same_from_both_stores(stores: TickStores) -> None:
    """PostgreSQL writes the CSV itself (COPY): its text must be the Python encoder's."""
    from settlement.ticks.export import csv_chunk

    ticks = [tick(1, ts_ns=0), tick(2, ts_ns=T0 + 999_999_999, active_mg=1234, demo=True),
             tick(3, 1, ts_ns=1_795_971_600 * 10**9 - 1, symbol="ATISO-LEAF-A")]
    store = await stores.open()
    await store.write(1, 3, ticks, dict(INSTRUMENTS))
    out: list[bytes] = []

    async def sink(b: bytes) -> None:
        out.append(b)

    await store.export_csv(TickQuery(), sink)
    assert b"".join(out) == csv_chunk(ticks)
    assert b"2026-11-29T23:59:59.999999999+07:00" in b"".join(out)
    out.clear()
    await store.export_csv(TickQuery(symbol="NONE"), sink)
    assert b"".join(out) == b""
