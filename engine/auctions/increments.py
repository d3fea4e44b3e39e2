"""The price-tier increment table of English auctions (data in ``increments.toml``).

Loaded on first use (`default_tiers`, cached), never at import: importing the core reads no
file. The auction house reads it once, when it is built, from the package's own data file;
that is configuration, not I/O the engine performs while applying commands. Each auction
copies the table into its own state when it is created, so a later edit of the TOML never
changes an auction already running, and snapshots carry the rules their auctions use.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources

Tiers = list[tuple[int, int]]  # (from_vnd, increment_vnd), ascending from 0


def parse(text: str) -> Tiers:
    """Parse and validate a table: tiers ascending, the first from 0, increments positive."""
    raw = tomllib.loads(text)["tier"]
    tiers = [(int(t["from_vnd"]), int(t["increment_vnd"])) for t in raw]
    assert tiers and tiers[0][0] == 0, "the first tier starts at 0"
    assert all(a[0] < b[0] for a, b in zip(tiers, tiers[1:], strict=False)), "tiers ascend"
    assert all(inc > 0 for _, inc in tiers), "increments are positive"
    return tiers


@cache
def _default_tiers() -> tuple[tuple[int, int], ...]:
    text = resources.files("engine.auctions").joinpath("increments.toml").read_text("utf-8")
    return tuple(parse(text))


def default_tiers() -> Tiers:
    """The market's table from ``increments.toml``, read on the first call (a fresh list each
    time, so no caller can change another's)."""
    return list(_default_tiers())


def increment(tiers: Tiers, price_vnd: int) -> int:
    """The increment for a current price: the last tier starting at or below it. O(tiers)."""
    inc = tiers[0][1]
    for start, step in tiers:
        if price_vnd < start:
            break
        inc = step
    return inc
