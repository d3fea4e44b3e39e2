"""Dutch clock rules: the price falls one step per interval from the start to the floor.

The clock price is state that changes only on ticks and restarts, so a buy can name the price
its buyer saw and be refused as stale when the clock has moved on. The floor itself can be
bought; the step after the floor withdraws the remainder unsold.
"""

from __future__ import annotations

from engine.auctions.model import Auction

STEPPED = 1
AT_FLOOR = 2
FLOOR_PASSED = 3


def advance(a: Auction, ts_ns: int) -> int:
    """Move the clock to ``ts_ns``; 0 if no step was due, else STEPPED / AT_FLOOR (the price
    changed) or FLOOR_PASSED (the floor was shown for a full interval: withdraw)."""
    if a.next_step_ns > ts_ns:
        return 0
    interval = a.interval_ns
    k = (ts_ns - a.next_step_ns) // interval + 1
    price = a.clock_vnd - k * a.step_vnd
    floor = a.floor_vnd
    if price >= floor:
        a.clock_vnd = price
        a.next_step_ns += k * interval
        return STEPPED
    gap = a.clock_vnd - floor
    steps_to_floor = -(-gap // a.step_vnd)  # 0 when already at the floor
    if k > steps_to_floor:
        return FLOOR_PASSED
    a.clock_vnd = floor
    a.next_step_ns += k * interval
    return AT_FLOOR


def restart(a: Auction, paid_vnd: int, ts_ns: int) -> None:
    """After a partial purchase the clock goes back up ``restart_steps`` steps above the price
    paid (never above the start) and runs a full interval from now."""
    price = paid_vnd + a.restart_steps * a.step_vnd
    a.clock_vnd = price if price < a.start_price_vnd else a.start_price_vnd
    a.next_step_ns = ts_ns + a.interval_ns
