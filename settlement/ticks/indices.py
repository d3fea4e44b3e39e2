"""Daily herb price indices: a pure function from daily bars per grade to an index per herb.

Owns the index method (docs/analytics.md, "Indices"): per herb product (`herb_key`: the
instrument symbol without its grade, ``QUE-BARK``) and Vietnam day, volume-weighted across
grades, per kg of herb or per kg of active ingredient, chain-linked with Marshall–Edgeworth
links over the grades traded on both days, base 100 on the herb's first trading day. Exact
arithmetic (`fractions.Fraction` for the links, `decimal.Decimal` for the published level) and
one stated rounding; never a float. Never does I/O: the store's bars come in as arguments.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal
from fractions import Fraction
from typing import Literal

from msgspec import Struct

from engine.insurance import herb_key
from settlement.ticks.model import INTERVAL_NS, VN_OFFSET_NS, Bar

Basis = Literal["kg", "active"]
BASES: tuple[Basis, ...] = ("kg", "active")
#: The published level has this many decimals; each day's level is rounded half to even from
#: the exact product of the previous (published) level and the exact link.
LEVEL_DECIMALS = 4
BASE_LEVEL = Decimal("100.0000")
MG_PER_KG = 10**6
_DAY_NS = INTERVAL_NS["1d"]
_EPOCH = dt.date(1970, 1, 1)


class GradeDay(Struct, kw_only=True, frozen=True):
    """One grade's trading in one Vietnam day, summed over its daily bars. On the ``kg`` basis
    the quantity is kg and the value VND; on ``active`` the quantity is mg of active ingredient
    and the value the VND paid for the trades that have a content."""

    grade: str
    volume_kg: int
    notional_vnd: int
    active_mg: int
    active_notional_vnd: int
    trades: int
    demo_trades: int

    def qty(self, basis: Basis) -> int:
        return self.volume_kg if basis == "kg" else self.active_mg

    def value(self, basis: Basis) -> int:
        return self.notional_vnd if basis == "kg" else self.active_notional_vnd


class IndexPoint(Struct, kw_only=True, frozen=True):
    """The index of one herb on one Vietnam day (a day with trades on the basis).

    ``index``: the chained level (base 100), ``LEVEL_DECIMALS`` decimals. ``link``: the exact
    link as a decimal rounded to 8 places (None on the base day). ``linked``: False on the base
    day and on a day that shares no grade with the previous trading day (the level is carried).
    ``vwap_vnd``: the day's plain volume-weighted price across all grades (per kg of herb, or
    per kg of active ingredient), rounded down: shown beside the index, never chained (it
    jumps when the grade mix changes). ``demo_trades``: simulated trades among ``trades``."""

    herb: str
    basis: Basis
    day: str
    day_start_ns: int
    index: Decimal
    link: Decimal | None
    linked: bool
    grades: list[str]
    grades_linked: list[str]
    vwap_vnd: int
    volume: int
    trades: int
    demo_trades: int


def vn_day(day_start_ns: int) -> str:
    """The ISO date of the Vietnam day that starts at ``day_start_ns``."""
    return (_EPOCH + dt.timedelta(days=(day_start_ns + VN_OFFSET_NS) // _DAY_NS)).isoformat()


def grade_days(bars: Iterable[Bar], grades: Mapping[str, str],
               herb: str) -> dict[int, dict[str, GradeDay]]:
    """Daily bars of ``herb``'s instruments → day start → grade → its day. ``grades`` maps
    each symbol to its grade (the ``instruments`` table); bars of other herbs, of unknown
    symbols or of other intervals are skipped."""
    sums: dict[int, dict[str, list[int]]] = {}
    for bar in bars:
        grade = grades.get(bar.symbol)
        if bar.interval != "1d" or grade is None or herb_key(bar.symbol, grade) != herb:
            continue
        acc = sums.setdefault(bar.start_ns, {}).setdefault(grade, [0, 0, 0, 0, 0, 0])
        for i, v in enumerate((bar.volume, bar.notional_vnd, bar.active_mg,
                               bar.active_notional_vnd, bar.trades, bar.demo_trades)):
            acc[i] += v
    return {
        day: {g: GradeDay(grade=g, volume_kg=a[0], notional_vnd=a[1], active_mg=a[2],
                          active_notional_vnd=a[3], trades=a[4], demo_trades=a[5])
              for g, a in sorted(by_grade.items())}
        for day, by_grade in sorted(sums.items())
    }


def link(before: Mapping[str, GradeDay], after: Mapping[str, GradeDay],
         basis: Basis) -> tuple[Fraction, list[str]] | None:
    """The Marshall–Edgeworth link from one trading day to the next over the grades traded on
    both (with a positive quantity on ``basis``): Σ (q₀+q₁)·p₁ / Σ (q₀+q₁)·p₀, p = value ÷
    quantity, exactly. None when no grade was traded on both days."""
    num = Fraction(0)
    den = Fraction(0)
    common = []
    for grade, a in after.items():
        b = before.get(grade)
        if b is None or b.qty(basis) <= 0 or a.qty(basis) <= 0:
            continue
        weight = b.qty(basis) + a.qty(basis)
        num += weight * Fraction(a.value(basis), a.qty(basis))
        den += weight * Fraction(b.value(basis), b.qty(basis))
        common.append(grade)
    if not common or den == 0:
        return None
    return num / den, common


def _round(x: Fraction, places: int) -> Decimal:
    """Half to even (`round` of a Fraction) to ``places`` decimals, exactly."""
    scaled = round(x * 10**places)
    return Decimal(scaled).scaleb(-places)


def herb_index(bars: Iterable[Bar], grades: Mapping[str, str], herb: str,
               basis: Basis = "kg") -> list[IndexPoint]:
    """The chained daily index of ``herb`` on ``basis``, one point per Vietnam day with trades
    on that basis, oldest first. Pass every daily bar of the herb since its first trade (the
    base is its first trading day); filter the points by date afterwards."""
    points: list[IndexPoint] = []
    level = BASE_LEVEL
    previous: dict[str, GradeDay] | None = None
    for day, by_grade in grade_days(bars, grades, herb).items():
        traded = {g: d for g, d in by_grade.items() if d.qty(basis) > 0}
        if not traded:
            continue
        qty = sum(d.qty(basis) for d in traded.values())
        value = sum(d.value(basis) for d in traded.values())
        vwap = value * MG_PER_KG // qty if basis == "active" else value // qty
        found = None if previous is None else link(previous, traded, basis)
        exact: Fraction | None = None
        if found is not None:
            exact, common = found
            level = _round(Fraction(level) * exact, LEVEL_DECIMALS)
        points.append(IndexPoint(
            herb=herb, basis=basis, day=vn_day(day), day_start_ns=day, index=level,
            link=None if exact is None else _round(exact, 8), linked=found is not None,
            grades=list(traded), grades_linked=[] if found is None else found[1],
            vwap_vnd=vwap, volume=qty, trades=sum(d.trades for d in traded.values()),
            demo_trades=sum(d.demo_trades for d in traded.values())))
        previous = traded
    return points


def herbs_of(grades: Mapping[str, str]) -> list[str]:
    """Every herb product of the listed instruments (symbol → grade), sorted."""
    return sorted({herb_key(s, g) for s, g in grades.items()})
