"""Builders shared by the analytics tests: daily bars and ticks of given figures, and ticks
put into a running market's tick store through the store's own API."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from settlement.ticks.model import INTERVAL_NS, VN_OFFSET_NS, Bar, Tick

DAY_NS = INTERVAL_NS["1d"]
#: keys of the ticks a test backfills: far above any seq the test market's journal reaches
TEST_SEQ = 10**9


def day_ns(day: str) -> int:
    """The first ns of a Vietnam day."""
    return (dt.date.fromisoformat(day) - dt.date(1970, 1, 1)).days * DAY_NS - VN_OFFSET_NS


def bar(symbol: str, day: str, volume: int, notional: int, active_mg: int = 0,
        active_notional: int | None = None, demo_trades: int = 0, trades: int = 1) -> Bar:
    price = notional // volume
    return Bar(symbol=symbol, interval="1d", start_ns=day_ns(day), open_vnd=price,
               high_vnd=price, low_vnd=price, close_vnd=price, volume=volume,
               notional_vnd=notional, trades=trades, active_mg=active_mg,
               active_notional_vnd=notional if active_notional is None else active_notional,
               demo_trades=demo_trades)


def tick(symbol: str, ts_ns: int, price: int, qty: int, demo: bool = False, n: int = 0,
         active_mg: int | None = None) -> Tick:
    herb, _, grade = symbol.rpartition("-")
    return Tick(seq=TEST_SEQ + n, n=0, ts_ns=ts_ns, trade_id=n + 1, symbol=symbol,
                herb=herb.split("-")[0], grade=grade, venue="book", price_vnd=price, qty=qty,
                notional_vnd=price * qty, active_mg=active_mg,
                price_per_kg_active_vnd=None if active_mg is None
                else price * qty * 10**6 // active_mg, demo=demo)


def instruments_of(ticks: Sequence[Tick]) -> dict[str, tuple[str, str]]:
    return {t.symbol: (t.herb, t.grade) for t in ticks}


async def put_ticks(store: Any, ticks: Sequence[Tick]) -> None:
    """Ticks (and their bars and instruments) into a tick store, through its API
    (`TickStore.backfill`: the live writer's position does not move)."""
    await store.backfill(ticks, instruments_of(ticks))
