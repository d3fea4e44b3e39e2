"""The demo history: made once, seeded and deterministic, historical, through the real lot
lifecycle, readable as (seq, events), into the tick store once by a writer of its own; and the
demo start-up makes it and puts it in."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from engine.durable.journal import JournalReader
from engine.messages import TradeExecuted
from settlement.ticks.history import HISTORY_DIR, history_steps, make_history, read_info
from settlement.ticks.indices import herb_index
from settlement.ticks.model import bar_start
from settlement.ticks.sqlite import SqliteTickStore
from settlement.ticks.store import TickQuery
from settlement.ticks.writer import TickWriter
from tests.analytics.support import DAY_NS, day_ns

BEFORE = day_ns("2026-11-30") + 3 * 3600 * 10**9  # 03:00 in Vietnam on 30 November


def journal_bytes(data_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in
                    sorted((data_dir / HISTORY_DIR / "journal").iterdir()))


def test_made_once_deterministic_and_before_the_market(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    info = make_history(a, BEFORE, days=30)
    assert make_history(b, BEFORE, days=30) == info
    assert journal_bytes(a) == journal_bytes(b)  # same seed, same days: same journal
    assert (info.first_day, info.last_day) == ("2026-10-31", "2026-11-29")
    assert info.end_ns == day_ns("2026-11-30") and info.first_ns == info.end_ns - 30 * DAY_NS
    before = journal_bytes(a)
    again = make_history(a, BEFORE + 90 * DAY_NS, days=60)  # there already: left as it is
    assert again == info and journal_bytes(a) == before
    assert sorted(p.name for p in a.iterdir()) == [HISTORY_DIR]  # no temporary left
    commands = list(JournalReader(a / HISTORY_DIR / "journal", repair=False))
    assert len(commands) == info.commands == info.last_seq
    stamps = [c.ts_ns for c in commands]
    assert stamps == sorted(stamps) and info.first_ns <= stamps[0] and stamps[-1] < info.end_ns


def test_history_steps_give_trades_with_active_contents(tmp_path: Path) -> None:
    assert list(history_steps(tmp_path)) == []  # no history: nothing
    info = make_history(tmp_path, BEFORE, days=30)
    steps = list(history_steps(tmp_path))
    assert [seq for seq, _ in steps] == list(range(1, info.commands + 1))
    trades = [e for _, events in steps for e in events if type(e) is TradeExecuted]
    assert len(trades) == info.trades > 0
    assert all(t.lot_values and t.lot_values[0].active_content for t in trades)
    symbols = {t.symbol for t in trades}
    assert len(symbols) == 24  # every instrument of the catalogue
    days = {bar_start(t.ts_ns, "1d") for t in trades if t.symbol == "QUE-BARK-C"}
    assert 5 < len(days) < 30  # grade C skips days: the index has to chain across gaps


async def test_the_history_goes_into_the_tick_store_once(tmp_path: Path) -> None:
    """The history's own tick writer: every trade once, marked demo, keyed below every live
    key, with its own position; offered again (a restart) it writes nothing; the live writer's
    position does not move. Its daily bars give an index in a plausible band."""
    info = make_history(tmp_path, BEFORE, days=91)
    store = SqliteTickStore(tmp_path / "ticks.sqlite")
    writer = TickWriter(store, source="demo_history")
    try:
        assert await writer.start() == 0
        steps = list(history_steps(tmp_path))
        for i in range(0, len(steps), 1_000):
            await writer.offer(steps[i:i + 1_000])
        assert writer.position == info.last_seq and writer.ticks == info.trades
        again = TickWriter(store, source="demo_history")
        assert await again.start() == info.last_seq
        assert await again.offer(steps) == 0 and again.duplicates == len(steps)
        assert (await store.load_state())[0] == 0  # the live writer's position
        ticks = await store.ticks(TickQuery(herb="QUE"), limit=1_000)
        assert ticks and all(t.demo and t.seq < 0 for t in ticks)
        assert [(t.seq, t.n) for t in ticks] == sorted((t.seq, t.n) for t in ticks)
        assert [t.ts_ns for t in ticks] == sorted(t.ts_ns for t in ticks)  # key order is time
        bars, grades = await store.herb_daily_bars("QUE-BARK")
        assert grades == {f"QUE-BARK-{g}": g for g in "ABC"}
        assert all(b.demo_trades == b.trades for b in bars)
        points = herb_index(bars, grades, "QUE-BARK")
        assert len(points) == 91
        assert all(80 < p.index < 125 for p in points)
        assert all(p.demo_trades == p.trades for p in points)
        active = herb_index(bars, grades, "QUE-BARK", "active")
        assert len(active) == 91 and active[0].vwap_vnd > points[0].vwap_vnd  # per kg active
    finally:
        await store.close()


async def wait_for_demo_season(m: Any) -> None:
    async with asyncio.timeout(120):  # a liveness bound, not a timing assertion
        while not m.gw.exchange.insurance_terms():
            await asyncio.sleep(0.02)


async def test_the_demo_start_up_makes_the_history_and_a_demo_season(tmp_path: Path) -> None:
    from gateway.app import TASKS
    from tests.gateway.conftest import settings, start

    m = await start(settings(tmp_path, demo=True, demo_pace_s=3600), seed=False)
    try:
        await wait_for_demo_season(m)
        info = read_info(tmp_path)
        assert info is not None and info.end_ns <= m.gw.now_ns()
        [terms] = m.gw.exchange.insurance_terms()
        assert terms.demo and terms.herb == "QUE-BARK" and terms.window_end_ns == info.end_ns
        analyst = {"Authorization": f"Bearer {m.gw.demo_tokens['FUND-01']}"}
        r = await m.client.get("/api/v1/insurance", headers=analyst)
        assert r.status == 200
        [season] = (await r.json())["seasons"]
        assert season["demo"] and season["season"].endswith("-DEMO")
        # the history is in the tick store: a reference price below the floor, all demo
        assert season["status"] == "ok" and season["payout_per_kg_vnd"] > 0
        assert season["demo_trades"] == season["trades"] > 0
        r = await m.client.get("/api/v1/indices/QUE-BARK")
        body = await r.json()
        assert body["demo"] and len(body["points"]) == 91 and body["base_day"] == info.first_day
        r = await m.client.get("/api/v1/bars/QUE-BARK-A?interval=1d")
        bars = (await r.json())["bars"]
        assert bars and all(b["demo_trades"] == b["trades"] for b in bars)
        r = await m.client.get("/api/v1/ticks?herb=QUE&limit=3")
        page = await r.json()
        assert [t["demo"] for t in page["ticks"]] == [True] * 3
        r = await m.client.get(f"/api/v1/ticks?herb=QUE&limit=3&after={page['next']}")
        assert r.status == 200 and (await r.json())["ticks"][0]["seq"] > page["ticks"][-1]["seq"]
        r = await m.client.get("/api/v1/ticks/export.csv?symbol=QUE-BARK-A", headers=analyst)
        rows = (await r.text()).splitlines()
        assert rows[0].endswith(",demo") and rows[1].endswith(",true")
        trades = info.trades
    finally:
        await m.client.close()
    # a restart: the history is found, and its ticks are not written again
    m = await start(settings(tmp_path, demo=True, demo_pace_s=3600), seed=False)
    try:
        [task] = [t for t in m.client.app[TASKS] if t.get_name() == "herbx-demo-history"]
        async with asyncio.timeout(120):  # a liveness bound
            await asyncio.shield(task)  # the restarted market's history step has run
        position, _ = await m.gw.ticks.load_state("demo_history")
        assert position == info.last_seq
        count = 0
        async for chunk in m.gw.ticks.export(TickQuery(to_ns=info.end_ns)):
            count += len(chunk)
        assert count == trades
    finally:
        await m.client.close()


def test_first_command_of_the_live_journal(tmp_path: Path) -> None:
    from engine.durable.sequencer import Sequencer
    from engine.messages import Deposit
    from settlement.ticks.history import first_command_ns

    engine_dir = tmp_path / "engine"
    assert first_command_ns(engine_dir) is None
    clock = iter([BEFORE, BEFORE + 5, BEFORE + 9])
    with Sequencer(engine_dir, now_ns=lambda: next(clock), sync=False) as seq:
        seq.submit(Deposit(account="T1", amount_vnd=1))
        seq.submit(Deposit(account="T1", amount_vnd=2))
        seq.commit()
    assert first_command_ns(engine_dir) == BEFORE
