"""Lots over REST: a cooperative registers, a lab assays, the operator receives into custody,
the owner lists on the book.

Ownership: a cooperative sees and changes only its own lots; labs, analysts and operators see
all. Receipt is two-phase: the lifecycle must accept it first, then the engine takes the lot
(``ReceiveLot`` on the instrument of its grade); only then is the new record stored.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from aiohttp import web

from engine.messages import ReceiveLot
from gateway.api_admin import accepted
from gateway.auth import Participant
from gateway.http import body, reply
from gateway.problems import FieldError, Problem
from gateway.schemas import AssayRequest, ListRequest, LotOut, LotRequest, ReceiveRequest
from gateway.state import Gateway
from grading.assay import AssayError
from grading.lifecycle import Accepted, Refused
from grading.lot import Cooperative, Lot
from grading.trace import lot_trace_url

_REFUSAL_STATUS = {"illegal_transition": 409, "time_went_back": 409}


def now() -> datetime:
    return datetime.now(UTC)


def lifecycle(result: Accepted | Refused) -> Lot:
    if isinstance(result, Refused):
        raise Problem(_REFUSAL_STATUS.get(result.code, 422), result.code, result.detail,
                      title="Refused by the lot lifecycle")
    return result.lot


def trace_url(gw: Gateway, lot: Lot) -> str:
    return lot_trace_url(gw.trace, lot, gw.catalogue.get(lot.spec_id))


def lot_out(gw: Gateway, lot: Lot) -> LotOut:
    grade = lot.grade.decision.grade if lot.grade is not None else None
    return LotOut(lot_id=lot.lot_id, spec_id=lot.spec_id, cooperative=lot.cooperative.id,
                  state=lot.state, qty=lot.qty, remaining_qty=lot.remaining_qty, grade=grade,
                  symbol=gw.lots.symbol_of(lot), trace_url=trace_url(gw, lot),
                  record=lot)


def visible_lot(gw: Gateway, who: Participant, lot_id: str) -> Lot:
    lot = gw.lots.lots.get(lot_id)
    if lot is None or (who.role == "cooperative" and lot.cooperative.id != who.id):
        raise Problem(404, "unknown_lot", f"no lot {lot_id!r}")
    return lot


async def register(request: web.Request, gw: Gateway, who: Participant) -> web.Response:
    r = await body(request, LotRequest)
    coop = Cooperative(id=who.id, name=who.name, number=who.number or 1)
    lot = lifecycle(gw.lots.register(
        lot_id=r.lot_id, cooperative=coop, spec_id=r.spec_id, qty=r.qty,
        harvest_date=r.harvest_date, growing_area=r.growing_area, commune=r.commune,
        certifications=tuple(r.certifications), ts=now()))
    return reply(lot_out(gw, lot), 201)


async def list_lots(request: web.Request, gw: Gateway, who: Participant) -> web.Response:
    lots = [lot_out(gw, lot) for lot in gw.lots.lots.values()
            if who.role != "cooperative" or lot.cooperative.id == who.id]
    return reply({"lots": lots})


async def get_lot(request: web.Request, gw: Gateway, who: Participant) -> web.Response:
    return reply(lot_out(gw, visible_lot(gw, who, request.match_info["lot_id"])))


async def post_assay(request: web.Request, gw: Gateway, who: Participant) -> web.Response:
    lot = visible_lot(gw, who, request.match_info["lot_id"])
    r = await body(request, AssayRequest)
    try:
        new = lifecycle(gw.lots.assay(lot, lab=who.name, sample_id=r.sample_id,
                                      results=tuple(r.results), destination=r.destination,
                                      ts=now()))
    except AssayError as exc:
        index = next((i for i, x in enumerate(r.results) if x.parameter == exc.parameter), None)
        path = "$.destination" if exc.code == "unknown_destination" else (
            f"$.results[{index}]" if index is not None else "$.results")
        raise Problem(422, exc.code, str(exc),
                      errors=[FieldError(field=path, message=exc.detail)]) from None
    return reply(lot_out(gw, new), 201)


async def receive(request: web.Request, gw: Gateway, who: Participant) -> web.Response:
    lot = visible_lot(gw, who, request.match_info["lot_id"])
    r = await body(request, ReceiveRequest)
    new = lifecycle(gw.lots.receive(lot, qty=r.qty_received, warehouse=r.warehouse, ts=now()))
    symbol = gw.lots.symbol_of(new)
    assert symbol is not None  # the lifecycle only receives graded lots
    if gw.exchange.instrument(symbol) is None:
        raise Problem(409, "unknown_symbol", f"instrument {symbol} is not listed on the market")
    accepted(await gw.submit(ReceiveLot(lot_id=new.lot_id, account=new.cooperative.id,
                                        symbol=symbol, qty=new.qty)))
    gw.lots.put(new)
    return reply(lot_out(gw, new))


async def list_lot(request: web.Request, gw: Gateway, who: Participant) -> web.Response:
    lot = visible_lot(gw, who, request.match_info["lot_id"])
    await body(request, ListRequest)
    return reply(lot_out(gw, lifecycle(gw.lots.list_on_book(lot, now()))))


def public_lot(gw: Gateway, lot_id: str) -> Lot:
    lot = gw.lots.lots.get(lot_id)
    if lot is None:
        raise Problem(404, "unknown_lot", f"no lot {lot_id!r}")
    return lot


def trace_doc(gw: Gateway, lot: Lot) -> dict[str, Any]:
    """What the public may know about a lot: origin, grade, custody, sales (no prices of
    individual buyers beyond the trade itself, no account balances)."""
    g = lot.grade
    spec = gw.catalogue.get(lot.spec_id)
    return {
        "lot_id": lot.lot_id, "trace_url": trace_url(gw, lot), "herb": spec.name_vi,
        "herb_latin": spec.name_latin, "spec_id": lot.spec_id, "state": lot.state,
        "qty": lot.qty, "remaining_qty": lot.remaining_qty,
        "cooperative": lot.cooperative.name, "commune": lot.commune,
        "harvest_date": lot.harvest_date.isoformat(),
        "growing_area": msgspec.to_builtins(lot.growing_area),
        "certifications": msgspec.to_builtins(lot.certifications),
        "grade": None if g is None else {
            "grade": g.decision.grade, "lab": g.lab, "ts": g.ts.isoformat(),
            "active_parameter": g.decision.active_parameter,
            "active_content": str(g.decision.active_content),
            "values": {k: str(v) for k, v in g.decision.values.items()},
            "unverified": list(g.decision.unverified)},
        "symbol": gw.lots.symbol_of(lot),
        "sales": [{"ts": s.ts.isoformat(), "qty": s.qty, "price": s.price_vnd,
                   "invoice_no": s.invoice_no, "venue": s.venue} for s in lot.sales],
        "history": [{"state": h.state, "action": type(h.command).__struct_config__.tag,
                     "ts": h.command.ts.isoformat()} for h in lot.history],
    }


async def trace_json(request: web.Request, gw: Gateway, who: Any) -> web.Response:
    return reply(trace_doc(gw, public_lot(gw, request.match_info["lot_id"])))
