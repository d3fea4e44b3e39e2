"""The tick-data vocabulary shared by the tick store, the bars, the indices and the exports.

Owns `Tick` (one trade as analysts see it: never a buyer or seller), `Bar`, the bar intervals
and the Vietnam-day rule. Amounts are integers: VND, kg, and milligrams of active ingredient
(``active_mg`` = kg × content % × 10,000, exact for contents with at most four decimals). Never
does I/O.
"""

from __future__ import annotations

from typing import Literal

from msgspec import Struct

Interval = Literal["1m", "5m", "1h", "1d"]
INTERVALS: tuple[Interval, ...] = ("1m", "5m", "1h", "1d")
INTERVAL_NS: dict[Interval, int] = {"1m": 60 * 10**9, "5m": 300 * 10**9,
                                    "1h": 3600 * 10**9, "1d": 86_400 * 10**9}
#: Vietnam is UTC+7 all year; daily bars and index days start at 00:00 Vietnam time.
VN_OFFSET_NS = 7 * 3600 * 10**9
Venue = Literal["book", "auction"]


class Tick(Struct, kw_only=True, frozen=True):
    """One trade. Key: ``(seq, n)`` = its command's seq and its index among that command's
    trades. ``active_mg``/``price_per_kg_active_vnd`` are None when no leg of the trade is a
    recorded lot with an active-ingredient content (then the trade counts for the per-kg index
    only). ``demo``: simulated history made for the demo market."""

    seq: int
    n: int
    ts_ns: int
    trade_id: int
    symbol: str
    herb: str
    grade: str
    venue: Venue
    price_vnd: int
    qty: int
    notional_vnd: int
    active_mg: int | None = None
    price_per_kg_active_vnd: int | None = None
    demo: bool = False
    #: kg of the legs that have a content (None with ``active_mg``; None on rows written before
    #: migration 4, read as ``qty``): what was paid for them, ``price × active_qty``, is the
    #: active side of the bars, so goods without a record never inflate it
    active_qty: int | None = None


class Bar(Struct, kw_only=True, frozen=True):
    """OHLC over ``[start_ns, start_ns + interval)``; ``vwap = notional_vnd // volume``.
    ``active_mg``/``active_notional_vnd`` sum the ticks that have an active content, so that
    the bar's price per kg of active ingredient is ``active_notional_vnd * 10**6 // active_mg``.
    ``demo_trades`` counts the simulated trades in the bar."""

    symbol: str
    interval: Interval
    start_ns: int
    open_vnd: int
    high_vnd: int
    low_vnd: int
    close_vnd: int
    volume: int
    notional_vnd: int
    trades: int
    active_mg: int = 0
    active_notional_vnd: int = 0
    demo_trades: int = 0


def bar_start(ts_ns: int, interval: Interval) -> int:
    """The start of the bar holding ``ts_ns``; daily bars start at midnight in Vietnam."""
    size = INTERVAL_NS[interval]
    if interval == "1d":
        return (ts_ns + VN_OFFSET_NS) // size * size - VN_OFFSET_NS
    return ts_ns // size * size
