"""Dutch clock rules: the price falls one step per interval from the start towards the floor.

The clock price is a function of time: ``start_price_vnd - k * step_vnd`` where k is the
number of whole intervals since the clock started (its start time, or its creation if that is
later) or, after a partial purchase, ``restart_steps`` above the price paid from the time of the
purchase. Ticks only publish it; a late or irregular tick never changes what the clock showed
at any moment. The state is the price shown (``clock_vnd``) and when it next steps
(``next_step_ns``), so the price at any later time follows from them (`price_at`).

The clock shows only prices on its step grid. The floor itself can be bought when it is on the
grid; the step that would go below the floor withdraws the remainder (a floor off the grid is
never shown: the lowest price is the last grid price above it).
"""

from __future__ import annotations

from engine.auctions.model import Auction

STEPPED = 1
FLOOR_PASSED = 2


def start(a: Auction, at_ns: int) -> None:
    """The clock starts at ``at_ns`` at the start price."""
    a.clock_vnd = a.start_price_vnd
    a.next_step_ns = at_ns + a.interval_ns


def price_at(a: Auction, ts_ns: int) -> int | None:
    """The price the clock shows at ``ts_ns`` (not before the last tick or restart), or None
    once a step due by then would pass the floor. Changes nothing."""
    if ts_ns < a.next_step_ns:
        return a.clock_vnd
    price = a.clock_vnd - ((ts_ns - a.next_step_ns) // a.interval_ns + 1) * a.step_vnd
    return price if price >= a.floor_vnd else None


def advance(a: Auction, ts_ns: int) -> int:
    """Move the clock to ``ts_ns``: 0 if no step was due, STEPPED (the price changed) or
    FLOOR_PASSED (a step due by then would pass the floor: withdraw)."""
    if a.next_step_ns > ts_ns:
        return 0
    k = (ts_ns - a.next_step_ns) // a.interval_ns + 1
    price = a.clock_vnd - k * a.step_vnd
    if price < a.floor_vnd:
        return FLOOR_PASSED
    a.clock_vnd = price
    a.next_step_ns += k * a.interval_ns
    return STEPPED


def restart(a: Auction, paid_vnd: int, ts_ns: int) -> None:
    """After a partial purchase the clock goes back up ``restart_steps`` steps above the price
    paid (never above the start: both on the grid, so the restart is too) and runs a full
    interval from the purchase."""
    price = paid_vnd + a.restart_steps * a.step_vnd
    a.clock_vnd = price if price < a.start_price_vnd else a.start_price_vnd
    a.next_step_ns = ts_ns + a.interval_ns
