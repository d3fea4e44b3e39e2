"""The demo history: made once, seeded and deterministic, historical, through the real lot
lifecycle, readable as (seq, events) for the tick writer; and the demo start-up makes it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from engine.durable.journal import JournalReader
from engine.messages import TradeExecuted
from settlement.ticks.history import HISTORY_DIR, history_steps, make_history, read_info
from settlement.ticks.indices import herb_index
from settlement.ticks.model import Bar, bar_start
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


def test_an_index_over_the_history_moves_plausibly(tmp_path: Path) -> None:
    """Daily bars folded here from the history's trades (the tick writer's job after the
    merge) give an index that stays within a plausible band of its base."""
    make_history(tmp_path, BEFORE, days=91)
    sums: dict[tuple[str, int], list[int]] = {}
    for _, events in history_steps(tmp_path):
        for e in events:
            if type(e) is TradeExecuted and e.symbol.startswith("QUE-BARK-"):
                s = sums.setdefault((e.symbol, bar_start(e.ts_ns, "1d")), [0, 0, 0])
                s[0] += e.qty
                s[1] += e.qty * e.price_vnd
                s[2] += 1
    bars = [Bar(symbol=sym, interval="1d", start_ns=start, open_vnd=0, high_vnd=0, low_vnd=0,
                close_vnd=0, volume=v, notional_vnd=n, trades=k, demo_trades=k)
            for (sym, start), (v, n, k) in sorted(sums.items())]
    grades = {f"QUE-BARK-{g}": g for g in "ABC"}
    points = herb_index(bars, grades, "QUE-BARK")
    assert len(points) == 91
    assert all(80 < p.index < 125 for p in points)
    assert all(p.demo_trades == p.trades for p in points)


async def test_the_demo_start_up_makes_the_history_and_a_demo_season(tmp_path: Path) -> None:
    from tests.gateway.conftest import settings, start

    m = await start(settings(tmp_path, demo=True, demo_pace_s=3600), seed=False)
    try:
        async with asyncio.timeout(120):
            while not m.gw.exchange.insurance_terms():
                await asyncio.sleep(0.02)
        info = read_info(tmp_path)
        assert info is not None and info.end_ns <= m.gw.now_ns()
        [terms] = m.gw.exchange.insurance_terms()
        assert terms.demo and terms.herb == "QUE-BARK" and terms.window_end_ns == info.end_ns
        r = await m.client.get("/api/v1/insurance",
                               headers={"Authorization": f"Bearer {m.gw.demo_tokens['FUND-01']}"})
        assert r.status == 200
        [season] = (await r.json())["seasons"]
        assert season["demo"] and season["season"].endswith("-DEMO")
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
