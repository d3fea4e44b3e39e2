"""Analytics endpoints: herb price indices, price-insurance terms and figures, the CSV report.

Reads only (the one write is the operator's ``PUT`` of insurance terms, a journaled engine
command through `Gateway.submit`). The figures are computed by the pure functions of
`settlement.ticks.indices` and `settlement.ticks.insurance` over this process's tick store
(``gw.ticks``, SQLite or PostgreSQL; none: ``503 ticks_unavailable``, as the tick endpoints),
read by its analysts' queries (`herb_daily_bars`, `herb_window_sums`). Nothing here carries a
participant's identity: indices and figures are sums over trades, so an analyst sees everything
public and no one.

Never maps a reason to a status (`gateway.api.refusals` does) and never writes the tick store.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal

import msgspec
from aiohttp import web
from msgspec import Struct

from engine.insurance import InsuranceTerms
from engine.messages import (
    HerbCode,
    InsuranceTermsSet,
    Ns,
    Qty,
    SeasonName,
    SetInsuranceTerms,
    Vnd,
)
from gateway.api.admin import accepted
from gateway.api.http import body, reply
from gateway.api.problems import FieldError, Problem
from gateway.api.ticks import refuse_repeats, tick_store_of
from gateway.auth import Participant
from gateway.state import Gateway
from gateway.stream.wire import iso_ts
from settlement.ledger import FUND, VND
from settlement.ticks.indices import BASES, Basis, IndexPoint, herb_index, herbs_of
from settlement.ticks.insurance import InsuranceFigures, figures, report_csv
from settlement.ticks.model import INTERVAL_NS, VN_OFFSET_NS

LEDGER_FUND = (FUND, VND)
MAX_RANGE_DAYS = 3660
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DAY_NS = INTERVAL_NS["1d"]
_EPOCH = dt.date(1970, 1, 1)


class IndexPointOut(Struct, kw_only=True):
    """One Vietnam day. ``index``: the chained level, base 100 (decimal text, 4 places);
    ``link``: that day's link (8 places; null on the base day); ``linked`` false: the base day,
    or no grade was traded on both days (the level is carried). ``vwap``: the day's plain
    volume-weighted price across grades (VND per kg, or per kg of active ingredient), not
    chained. ``volume``: kg, or mg of active ingredient. ``demo``: the day holds simulated
    (demo history) trades."""

    day: str
    index: str
    link: str | None
    linked: bool
    grades: list[str]
    grades_linked: list[str]
    vwap: int
    volume: int
    trades: int
    demo_trades: int
    demo: bool


class IndexOut(Struct, kw_only=True):
    herb: str
    basis: Basis
    volume_unit: Literal["kg", "mg_active"]
    base_day: str | None
    demo: bool  # some day in ``points`` holds demo trades
    points: list[IndexPointOut]


class InsuranceTermsRequest(Struct, kw_only=True, forbid_unknown_fields=True):
    """Terms of one herb product (``QUE-BARK``) and season: the insured ``floor_vnd`` per kg;
    the reference window, Vietnam days ``window_from`` to ``window_to`` inclusive; the least
    traded volume (kg) for a reference price. ``demo``: a simulated season (demo markets only),
    whose reference reads the demo history."""

    floor_vnd: Vnd
    window_from: dt.date
    window_to: dt.date
    min_volume_kg: Qty
    demo: bool = False


class InsuranceOut(Struct, kw_only=True):
    """One herb-season. ``status``: ``ok``, or ``not_enough_data`` when the window's official
    trades total less than ``min_volume_kg`` (then ``reference`` and ``payout_per_kg`` are
    null). ``final``: the window has closed. ``demo``: a simulated season."""

    herb: str
    season: str
    demo: bool
    floor_vnd: int
    window_start: str
    window_end: str
    min_volume_kg: int
    volume_kg: int
    trades: int
    demo_trades: int
    status: Literal["ok", "not_enough_data"]
    reference_vnd: int | None
    payout_per_kg_vnd: int | None
    final: bool
    terms_seq: int


class FundOut(Struct, kw_only=True):
    """The fund's levy income: the ledger's ``market:insurance_fund`` balance (VND); null with
    ``status: ledger_not_running`` where this process keeps no ledger."""

    levy_income_vnd: int | None
    status: Literal["ok", "ledger_not_running"]


class InsuranceListOut(Struct, kw_only=True):
    as_of: str
    fund: FundOut
    seasons: list[InsuranceOut]


def listed_grades(gw: Gateway) -> dict[str, str]:
    """Every listed instrument (symbol → grade), as the engine lists them."""
    return {i.symbol: i.grade for i in gw.exchange.instrument_views()}


def day_start_ns(day: dt.date) -> int:
    """The first ns of a Vietnam day."""
    return (day - _EPOCH).days * _DAY_NS - VN_OFFSET_NS


def date_query(request: web.Request, name: str) -> dt.date | None:
    text = request.query.get(name)
    if text is None:
        return None
    try:
        if ISO_DATE.fullmatch(text):
            return dt.date.fromisoformat(text)
    except ValueError:  # 2026-02-30
        pass
    raise Problem(422, "invalid_field", f"{name} must be a date, YYYY-MM-DD",
                  errors=[FieldError(field=f"?{name}", message="must be YYYY-MM-DD")])


def point_out(p: IndexPoint) -> IndexPointOut:
    return IndexPointOut(
        day=p.day, index=str(p.index), link=None if p.link is None else str(p.link),
        linked=p.linked, grades=p.grades, grades_linked=p.grades_linked, vwap=p.vwap_vnd,
        volume=p.volume, trades=p.trades, demo_trades=p.demo_trades, demo=p.demo_trades > 0)


async def get_index(request: web.Request, gw: Gateway, who: Participant | None) -> web.Response:
    herb = request.match_info["herb"]
    refuse_repeats(request)
    text = request.query.get("basis", "kg")
    basis: Basis = "active" if text == "active" else "kg"
    if text not in BASES:
        raise Problem(422, "invalid_field", "basis must be kg or active",
                      errors=[FieldError(field="?basis", message="kg or active")])
    start, end = date_query(request, "from"), date_query(request, "to")
    if start is not None and end is not None and not 0 <= (end - start).days <= MAX_RANGE_DAYS:
        raise Problem(422, "invalid_field", f"from..to must be 0..{MAX_RANGE_DAYS} days")
    if herb not in herbs_of(listed_grades(gw)):
        raise Problem(404, "unknown_herb", f"no instrument trades {herb}")
    bars, grades = await tick_store_of(gw).herb_daily_bars(herb)
    points = herb_index(bars, grades, herb, basis)
    base = points[0].day if points else None
    lo, hi = (start.isoformat() if start else ""), (end.isoformat() if end else "9999")
    shown = [point_out(p) for p in points if lo <= p.day <= hi]
    return reply(IndexOut(herb=herb, basis=basis,
                          volume_unit="kg" if basis == "kg" else "mg_active", base_day=base,
                          demo=any(p.demo for p in shown), points=shown))


async def fund_levy_vnd(gw: Gateway) -> int | None:
    """The ledger's insurance-fund balance, or None where no ledger runs here (the booker is
    wired into `herbx serve` by settlement: ``gw.ledger``, a store or a booker with one)."""
    ledger: Any = getattr(gw, "ledger", None)
    store = getattr(ledger, "store", ledger)
    if store is None or not hasattr(store, "balances"):
        return None
    balances = await store.balances()
    return int(balances.get(LEDGER_FUND, 0))


async def insurance_figures(gw: Gateway) -> list[InsuranceFigures]:
    terms: list[InsuranceTerms] = gw.exchange.insurance_terms()
    store = tick_store_of(gw)
    now = gw.now_ns()
    return [figures(t, await store.herb_window_sums(t.herb, t.window_start_ns,
                                                    t.window_end_ns, t.demo), now)
            for t in terms]


def insurance_out(f: InsuranceFigures) -> InsuranceOut:
    return InsuranceOut(
        herb=f.herb, season=f.season, demo=f.demo, floor_vnd=f.floor_vnd,
        window_start=iso_ts(f.window_start_ns), window_end=iso_ts(f.window_end_ns),
        min_volume_kg=f.min_volume_kg, volume_kg=f.volume_kg, trades=f.trades,
        demo_trades=f.demo_trades, status=f.status, reference_vnd=f.reference_vnd,
        payout_per_kg_vnd=f.payout_per_kg_vnd, final=f.final, terms_seq=f.set_seq)


async def get_insurance(request: web.Request, gw: Gateway, who: Participant) -> web.Response:
    rows = await insurance_figures(gw)
    levy = await fund_levy_vnd(gw)
    return reply(InsuranceListOut(
        as_of=iso_ts(gw.now_ns()),
        fund=FundOut(levy_income_vnd=levy, status="ok" if levy is not None
                     else "ledger_not_running"),
        seasons=[insurance_out(f) for f in rows]))


async def get_insurance_csv(request: web.Request, gw: Gateway,
                            who: Participant) -> web.Response:
    text = report_csv(await insurance_figures(gw))
    return web.Response(text=text, content_type="text/csv", charset="utf-8", headers={
        "Content-Disposition": 'attachment; filename="insurance-report.csv"'})


async def put_insurance(request: web.Request, gw: Gateway, who: Participant) -> web.Response:
    herb, season = request.match_info["herb"], request.match_info["season"]
    r = await body(request, InsuranceTermsRequest)
    if r.demo and not gw.settings.demo:
        raise Problem(422, "invalid_field", "demo seasons exist only in a demo market",
                      errors=[FieldError(field="$.demo", message="only in a demo market")])
    _check_path(herb, season)
    tick_store_of(gw)  # the answer is the figures: refuse before the terms are journaled
    cmd = SetInsuranceTerms(
        herb=herb, season=season, floor_vnd=r.floor_vnd,
        window_start_ns=_window_ns("window_from", r.window_from, 0),
        window_end_ns=_window_ns("window_to", r.window_to, 1),
        min_volume_kg=r.min_volume_kg, demo=r.demo)
    ev = accepted(await gw.submit(cmd))
    assert type(ev) is InsuranceTermsSet, ev
    rows = [f for f in await insurance_figures(gw)
            if (f.herb, f.season) == (herb, season)]
    return reply(insurance_out(rows[0]), 200 if ev.replaced else 201)


def _window_ns(name: str, day: dt.date, days_after: int) -> int:
    """The first ns of ``day`` (+ ``days_after``) in Vietnam, within the command's `Ns` (a
    date the stores cannot hold is a 422 naming the field, not a 500 or a journal refusal)."""
    try:
        return msgspec.convert(day_start_ns(day + dt.timedelta(days=days_after)), Ns)
    except (OverflowError, msgspec.ValidationError):
        raise Problem(422, "invalid_field", f"{name} must be between 1970 and 2262",
                      errors=[FieldError(field=f"$.{name}", message="1970..2262")]) from None


def _check_path(herb: str, season: str) -> None:
    """The path's herb and season have the command's own limits (a 404, as for any path
    that names nothing)."""
    for name, value, typ in (("herb", herb, HerbCode), ("season", season, SeasonName)):
        try:
            msgspec.convert(value, typ)
        except msgspec.ValidationError:
            raise Problem(404, "not_found", f"no such {name}: {value!r}") from None
