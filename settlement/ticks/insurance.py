"""Price-insurance figures: reference price, minimum-volume rule and payout per insured kg.

Owns the arithmetic of the fund (docs/analytics.md, "Insurance"), as pure functions over the
operator's terms (`engine.insurance.InsuranceTerms`, journaled) and the ticks of the window:
the reference price is the VWAP of the official trades of the herb product in
``[window_start_ns, window_end_ns)`` (demo trades count only for a demo season), rounded half
up to a whole đồng; with less than ``min_volume_kg`` traded it is not set and the figures say
``not_enough_data``; payout per insured kg = max(0, floor − reference). Integers only. Never
does I/O; the fund's levy income is the ledger's (read by the gateway, not here).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Sequence
from typing import Literal

from msgspec import Struct

from engine.insurance import InsuranceTerms, herb_key
from settlement.ticks.model import Tick

Status = Literal["ok", "not_enough_data"]


class WindowSums(Struct, kw_only=True, frozen=True):
    """The official trades of one herb product in one window, summed."""

    volume_kg: int = 0
    notional_vnd: int = 0
    trades: int = 0
    demo_trades: int = 0


class InsuranceFigures(Struct, kw_only=True, frozen=True):
    """One herb-season: its terms and what the window's trades make of them. ``final``: the
    window has closed (before that the figures are provisional, over the trades so far)."""

    herb: str
    season: str
    demo: bool
    floor_vnd: int
    window_start_ns: int
    window_end_ns: int
    min_volume_kg: int
    set_seq: int
    volume_kg: int
    notional_vnd: int
    trades: int
    demo_trades: int
    status: Status
    reference_vnd: int | None
    payout_per_kg_vnd: int | None
    final: bool


def counts(tick: Tick, terms: InsuranceTerms) -> bool:
    """Whether ``tick`` is an official trade of the terms' herb product in their window."""
    return (terms.window_start_ns <= tick.ts_ns < terms.window_end_ns
            and (terms.demo or not tick.demo)
            and herb_key(tick.symbol, tick.grade) == terms.herb)


def window_sums(ticks: Iterable[Tick], terms: InsuranceTerms) -> WindowSums:
    volume = notional = trades = demo = 0
    for t in ticks:
        if counts(t, terms):
            volume += t.qty
            notional += t.notional_vnd
            trades += 1
            demo += t.demo
    return WindowSums(volume_kg=volume, notional_vnd=notional, trades=trades, demo_trades=demo)


def vwap_half_up(notional_vnd: int, volume_kg: int) -> int:
    """notional ÷ volume rounded half up to a whole đồng (integers: (2n + v) // 2v)."""
    assert volume_kg > 0
    return (2 * notional_vnd + volume_kg) // (2 * volume_kg)


def payout_per_kg(floor_vnd: int, reference_vnd: int) -> int:
    """What the fund pays per insured kg: max(0, floor − reference)."""
    return max(0, floor_vnd - reference_vnd)


def figures(terms: InsuranceTerms, sums: WindowSums, as_of_ns: int) -> InsuranceFigures:
    enough = sums.volume_kg >= terms.min_volume_kg
    reference = vwap_half_up(sums.notional_vnd, sums.volume_kg) if enough else None
    return InsuranceFigures(
        herb=terms.herb, season=terms.season, demo=terms.demo, floor_vnd=terms.floor_vnd,
        window_start_ns=terms.window_start_ns, window_end_ns=terms.window_end_ns,
        min_volume_kg=terms.min_volume_kg, set_seq=terms.seq, volume_kg=sums.volume_kg,
        notional_vnd=sums.notional_vnd, trades=sums.trades, demo_trades=sums.demo_trades,
        status="ok" if enough else "not_enough_data", reference_vnd=reference,
        payout_per_kg_vnd=None if reference is None else payout_per_kg(terms.floor_vnd,
                                                                      reference),
        final=as_of_ns >= terms.window_end_ns)


def iso_utc(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns // 10**9, dt.UTC).isoformat().replace("+00:00", "Z")


CSV_COLUMNS = ("herb", "season", "demo", "floor_vnd", "window_start", "window_end",
               "min_volume_kg", "volume_kg", "trades", "demo_trades", "status",
               "reference_vnd", "payout_per_kg_vnd", "final", "terms_seq")


def report_csv(rows: Sequence[InsuranceFigures]) -> str:
    """The insurance report: one row per herb-season, demo seasons marked in ``demo``; an
    unset reference or payout is an empty cell. No identities: there are none in the figures."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(CSV_COLUMNS)
    for f in rows:
        w.writerow([f.herb, f.season, "true" if f.demo else "false", f.floor_vnd,
                    iso_utc(f.window_start_ns), iso_utc(f.window_end_ns), f.min_volume_kg,
                    f.volume_kg, f.trades, f.demo_trades, f.status,
                    "" if f.reference_vnd is None else f.reference_vnd,
                    "" if f.payout_per_kg_vnd is None else f.payout_per_kg_vnd,
                    "true" if f.final else "false", f.set_seq])
    return out.getvalue()
