"""Review finding: a page of ticks by symbol or herb after a cursor must not read and sort
every tick of that symbol (SQLite did: each REST page, public, and each export chunk cost the
whole symbol's ticks). The plan is checked, not a time."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from settlement.ticks.sqlite import SqliteTickStore
from settlement.ticks.store import MAX_PAGE, TickQuery, select_ticks_sql
from tests.ticks.conftest import INSTRUMENTS, tick


@pytest.mark.parametrize("q", [TickQuery(symbol="QUE-BARK-A", after=(5, 0)),
                               TickQuery(symbol="QUE-BARK-A"),
                               TickQuery(herb="QUE-BARK", after=(-7, 0)),
                               TickQuery(symbol="QUE-BARK-A", from_ns=1, after=(5, 0))])
async def test_a_page_after_a_cursor_walks_an_index_in_key_order(tmp_path: Path,
                                                                 q: TickQuery) -> None:
    store = SqliteTickStore(tmp_path / "ticks.sqlite")
    await store.open()
    try:
        await store.backfill([tick(k, symbol=s) for k, s in enumerate(INSTRUMENTS, 1)],
                             dict(INSTRUMENTS))
    finally:
        await store.close()
    sql, args = select_ticks_sql(q, "sqlite", MAX_PAGE)
    db = sqlite3.connect(tmp_path / "ticks.sqlite")
    plan = [r[3] for r in db.execute("EXPLAIN QUERY PLAN " + sql, args)]
    db.close()
    assert not any("TEMP B-TREE" in step for step in plan), plan
