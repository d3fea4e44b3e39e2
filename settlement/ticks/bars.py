"""Bars from ticks, in memory: the reference the stores' SQL is tested against.

Owns `bar_of` (one tick as a bar), `merge` (two bars of the same key into one: open from the
earlier (seq, n) key, close from the later, whatever the order they come in) and `bars_of`
(every bar of some ticks, for every interval). The stores keep the same rule in SQL. Never does
I/O.
"""

from __future__ import annotations

from collections.abc import Iterable

from msgspec import structs

from settlement.ticks.model import INTERVALS, Bar, Interval, Tick, bar_start

#: a bar together with the (seq, n) keys of its open and close ticks
KeyedBar = tuple[Bar, tuple[int, int], tuple[int, int]]
BarKey = tuple[str, Interval, int]


def bar_of(t: Tick, interval: Interval) -> KeyedBar:
    has_active = t.active_mg is not None
    bar = Bar(symbol=t.symbol, interval=interval, start_ns=bar_start(t.ts_ns, interval),
              open_vnd=t.price_vnd, high_vnd=t.price_vnd, low_vnd=t.price_vnd,
              close_vnd=t.price_vnd, volume=t.qty, notional_vnd=t.notional_vnd, trades=1,
              active_mg=t.active_mg or 0,
              active_notional_vnd=(t.price_vnd * (t.qty if t.active_qty is None else t.active_qty)
                                   if has_active else 0),
              demo_trades=1 if t.demo else 0)
    return bar, (t.seq, t.n), (t.seq, t.n)


def merge(a: KeyedBar, b: KeyedBar) -> KeyedBar:
    (x, xf, xl), (y, yf, yl) = a, b
    assert (x.symbol, x.interval, x.start_ns) == (y.symbol, y.interval, y.start_ns)
    first = x if xf <= yf else y
    last = x if xl >= yl else y
    bar = structs.replace(
        x, open_vnd=first.open_vnd, close_vnd=last.close_vnd,
        high_vnd=max(x.high_vnd, y.high_vnd), low_vnd=min(x.low_vnd, y.low_vnd),
        volume=x.volume + y.volume, notional_vnd=x.notional_vnd + y.notional_vnd,
        trades=x.trades + y.trades, active_mg=x.active_mg + y.active_mg,
        active_notional_vnd=x.active_notional_vnd + y.active_notional_vnd,
        demo_trades=x.demo_trades + y.demo_trades)
    return bar, min(xf, yf), max(xl, yl)


def bars_of(ticks: Iterable[Tick],
            intervals: tuple[Interval, ...] = INTERVALS) -> dict[BarKey, KeyedBar]:
    """Every bar the ticks make, keyed by (symbol, interval, start_ns)."""
    out: dict[BarKey, KeyedBar] = {}
    for t in ticks:
        for iv in intervals:
            kb = bar_of(t, iv)
            key = (t.symbol, iv, kb[0].start_ns)
            have = out.get(key)
            out[key] = kb if have is None else merge(have, kb)
    return out


def vwap_vnd(bar: Bar) -> int:
    """Volume-weighted average price, VND per kg, rounded down (``notional // volume``)."""
    return bar.notional_vnd // bar.volume
