"""`herbx bench ticks`: ten million ticks over two years into PostgreSQL, then the analysts'
queries.

An I/O shell module (it reads the clock, writes a database); the core never imports it.

Workload (seeded): ``--ticks`` trades spread evenly (with jitter) over the two years before
2026-11-30 00:00 in Vietnam, across the demo market's 24 instruments (`grading.instruments`
of the repository's catalogue, fair prices of `gateway.demo.data`), each symbol's price a random
walk on its tick around its fair price, 1 to 500 kg, seven in ten of a recorded lot with an
active content; marked ``demo`` (simulated). They go into a fresh schema of ``--database-url``
through the tick store (`settlement.ticks.pg.PgTickStore`) by COPY in chunks of ``CHUNK``
(``load_s``: generating and copying); then every bar is built from the ticks by the store's
``rebuild_bars`` (``bars_s``) and the tables analysed. Measured, median of ``RUNS`` runs:

- ``bars_month_ms``: one instrument's hourly bars for a month (`PgTickStore.bars`);
- ``index_year_ms``: the daily index of one herb product over the last year, as
  ``GET /api/v1/indices/{herb}?from=…`` computes it: the store's daily bars of the product with
  its grades (`PgTickStore.herb_daily_bars`: every day since its first trade, the index's base),
  the chained index (`settlement.ticks.indices.herb_index`), the year's points kept
  (``index_year_rows``);
- ``export_1m_s``: a CSV export of one million ticks (a time range holding 1M ticks), through
  the same code as ``GET /api/v1/ticks/export.csv`` (`PgTickStore.export_csv`: the server
  writes the CSV, streamed chunk by chunk) into a byte counter; ``export_peak_mib`` is the
  tracemalloc peak of a separate run (Python allocations; flat means it does not grow with the
  range: ``export_100k_peak_mib`` is the same for a tenth of it).

The schema is dropped afterwards. The last line printed is one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import random
import statistics
import sys
import time
import tracemalloc
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from engine.insurance import herb_key
from gateway.demo.market import fair_price
from grading.catalogue import load_catalogue
from grading.instruments import instruments
from settlement.ticks.export import csv_header
from settlement.ticks.indices import IndexPoint, herb_index
from settlement.ticks.pg import PgTickStore
from settlement.ticks.schema import TICK_COLUMNS
from settlement.ticks.store import TickQuery

DEFAULT_DATABASE_URL = "postgresql://127.0.0.1:5432/test"
CHUNK = 200_000  # ticks per COPY
RUNS = 5
DAY_NS = 86_400 * 10**9
END_NS = 1_795_971_600 * 10**9  # 2026-11-30 00:00 in Vietnam (2026-11-29T17:00Z)
SPAN_NS = 730 * DAY_NS


def _chunks(total: int, seed: int) -> Any:
    """Rows in TICK_COLUMNS order, ``CHUNK`` at a time."""
    r = random.Random(seed)
    insts = instruments(load_catalogue())
    prices = {i.symbol: fair_price(i.spec_id, i.grade, i.tick_vnd) for i in insts}
    fair = dict(prices)
    contents = {"A": 3.0, "B": 2.2, "C": 1.6}
    step = SPAN_NS // total
    start = END_NS - SPAN_NS
    rows: list[tuple[Any, ...]] = []
    for k in range(total):
        inst = insts[r.randrange(len(insts))]
        sym, tick = inst.symbol, inst.tick_vnd
        p = prices[sym] + r.choice((-tick, 0, 0, tick))
        p = min(max(p, fair[sym] // 2 // tick * tick or tick), fair[sym] * 2)
        prices[sym] = p
        qty = r.randint(1, 500)
        active = None
        per_active = None
        if r.random() < 0.7:
            content_bp = int(contents.get(inst.grade, 2.0) * 100) + r.randint(-20, 20)
            active = qty * content_bp * 100  # kg × (bp / 100) % × 10,000 mg
            per_active = p * qty * 10**6 // active
        ts = start + k * step + r.randrange(step)
        rows.append((k + 1, 0, ts, k + 1, sym, inst.herb, inst.grade, "book", p, qty, p * qty,
                     active, per_active, True, None if active is None else qty))
        if len(rows) == CHUNK:
            yield rows
            rows = []
    if rows:
        yield rows


async def _median_ms(fn: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    times = []
    out = None
    for _ in range(RUNS):
        t0 = time.perf_counter()
        out = await fn()
        times.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(times), 2), out


async def _export(store: PgTickStore, q: TickQuery) -> tuple[int, int]:
    """Rows and bytes of the CSV export of ``q``, as the HTTP handler streams it."""
    counted = [0, len(csv_header())]

    async def sink(data: bytes) -> None:
        counted[0] += data.count(b"\n")
        counted[1] += len(data)

    await store.export_csv(q, sink)
    return counted[0], counted[1]


async def _index_year(store: PgTickStore, herb: str, year_from: int) -> list[IndexPoint]:
    """The year's points of ``herb``'s index, as the index endpoint computes them."""
    bars, grades = await store.herb_daily_bars(herb)
    return [p for p in herb_index(bars, grades, herb) if p.day_start_ns >= year_from]


async def run(url: str, total: int, seed: int) -> dict[str, Any]:
    schema = f"bench_ticks_{uuid.uuid4().hex[:12]}"
    store = PgTickStore(url, schema=schema)
    await store.open()
    try:
        insts = instruments(load_catalogue())
        await store.backfill([], {i.symbol: (i.herb, i.grade) for i in insts})
        t0 = time.perf_counter()
        loaded = 0
        async with store.pool.acquire() as c:
            for rows in _chunks(total, seed):
                await c.copy_records_to_table("ticks", records=rows,
                                              columns=list(TICK_COLUMNS), schema_name=schema)
                loaded += len(rows)
                print(f"  loaded {loaded:,} ticks", file=sys.stderr, end="\r")
        load_s = time.perf_counter() - t0
        print(f"\nload: {loaded:,} ticks in {load_s:.1f} s", file=sys.stderr)
        t0 = time.perf_counter()
        bars = await store.rebuild_bars()
        bars_s = time.perf_counter() - t0
        await store.execute("ANALYZE ticks")
        await store.execute("ANALYZE bars")
        print(f"bars: {bars:,} in {bars_s:.1f} s", file=sys.stderr)

        month_from = END_NS - 30 * DAY_NS
        symbol = insts[0].symbol
        bars_month_ms, month = await _median_ms(
            lambda: store.bars(symbol, "1h", month_from, END_NS))
        herb = herb_key(insts[0].symbol, insts[0].grade)
        year_from = END_NS - 365 * DAY_NS
        index_year_ms, index = await _median_ms(lambda: _index_year(store, herb, year_from))

        # a range of one million ticks (or a tenth of the load, if smaller)
        want = min(1_000_000, total)
        span = SPAN_NS * want // total
        first = END_NS - SPAN_NS
        q = TickQuery(from_ns=first, to_ns=first + span)
        times = []
        rows = size = 0
        for _ in range(3):
            t0 = time.perf_counter()
            rows, size = await _export(store, q)
            times.append(time.perf_counter() - t0)
        export_s = statistics.median(times)

        async def peak_mib(query: TickQuery) -> float:
            tracemalloc.start()
            await _export(store, query)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            return round(peak / 2**20, 2)

        peak_1m = await peak_mib(q)
        peak_100k = await peak_mib(TickQuery(from_ns=first, to_ns=first + span // 10))
        return {
            "ticks": loaded, "load_s": round(load_s, 1), "bars": bars,
            "bars_s": round(bars_s, 1), "bars_month_ms": bars_month_ms,
            "bars_month_rows": len(month), "index_year_ms": index_year_ms,
            "index_query": "herb_index_over_store_daily_bars", "index_year_rows": len(index),
            "export_1m_s": round(export_s, 2), "export_rows": rows,
            "export_mib": round(size / 2**20, 1), "export_peak_mib": peak_1m,
            "export_100k_peak_mib": peak_100k,
        }
    finally:
        await store.close()
        import asyncpg

        conn = await asyncpg.connect(url)
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await conn.close()


def main(database_url: str | None, ticks: int, seed: int) -> int:
    url = database_url or DEFAULT_DATABASE_URL
    print(f"herbx bench ticks: {ticks:,} ticks, seed {seed}, Python "
          f"{platform.python_version()} on {platform.machine()} ({os.cpu_count()} cpus)",
          file=sys.stderr)
    result = asyncio.run(run(url, ticks, seed))
    result.update(seed=seed, cpus=os.cpu_count())
    print(json.dumps(result))
    return 0
