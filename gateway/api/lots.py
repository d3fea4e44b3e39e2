"""Lots over REST: a cooperative registers, a lab assays, the operator receives into custody,
the owner lists on the book, delists or withdraws.

Every step is one engine command (journaled, applied through the lot lifecycle table); the
views are read from the engine's lot records (`gateway.lots.LotViews`). The grade is computed
here from the lab's results (`engine.lots.assay_command`): a request never states one (unknown
fields are refused). Ownership: a cooperative sees and changes only its own lots; labs,
analysts and operators see all.

Never keeps lot state of its own, and never decides a refusal's status (`gateway.api.refusals`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from aiohttp import web

from engine.lots import assay_command, content_ratio, price_per_kg_active
from engine.messages import (
    CertificationIn,
    CommandRejected,
    DelistLot,
    Event,
    GrowingAreaIn,
    ListLotOnBook,
    ReceiveLot,
    RegisterLot,
    WithdrawLot,
)
from gateway.api.http import body, reply
from gateway.api.ledger import invoices_of_trades
from gateway.api.problems import FieldError, Problem
from gateway.api.refusals import LIFECYCLE_TITLE, refusal
from gateway.api.schemas import AssayRequest, ListRequest, LotOut, LotRequest, ReceiveRequest
from gateway.auth import Participant
from gateway.state import Gateway
from grading.assay import AssayError
from grading.lot import Lot, RecordSale, trade_id_of, trade_ref, ts_of_ns
from grading.trace import lot_trace_url

#: What a lot needs next on its way to a sale, by its state: the machine code that `LotOut` and
#: every refusal of a lot step carry as ``next_step`` (the web UI translates it). Who does it:
#: ``post_assay`` and ``reassay`` a lab, ``receive_lot`` the operator, ``list_lot`` and
#: ``place_sell_order`` the owning cooperative; ``await_auction`` the auction's close;
#: ``no_next_step`` a lot that is sold or withdrawn.
NEXT_STEP: dict[str, str] = {
    "registered": "post_assay", "sampled": "post_assay", "graded": "receive_lot",
    "rejected": "reassay", "received": "list_lot", "listed": "place_sell_order",
    "partly_sold": "place_sell_order", "sold": "no_next_step", "withdrawn": "no_next_step",
}


def next_step(gw: Gateway, lot: Lot) -> str:
    if lot.state in ("listed", "partly_sold") and gw.lots.custody(lot.lot_id).in_auction:
        return "await_auction"
    return NEXT_STEP[lot.state]


def lifecycle(events: list[Event], gw: Gateway | None = None, lot_id: str = "") -> Event:
    """The command's answer, or the engine's refusal as a problem (naming the lot's next step
    when the command was about a recorded lot)."""
    first = events[0]
    if type(first) is CommandRejected:
        lot = gw.lots.get(lot_id) if gw is not None else None
        raise refusal(first.reason, first.detail, title=LIFECYCLE_TITLE,
                      next_step="" if lot is None or gw is None else next_step(gw, lot))
    return first


def trace_url(gw: Gateway, lot: Lot) -> str:
    return lot_trace_url(gw.trace, lot, gw.catalogue.get(lot.spec_id))


#: what a lab or an analyst reads in place of a buyer: a lot's buyers are the operator's and the
#: selling cooperative's to know (the public trace page never names them either)
HIDDEN = "hidden"


def without_buyers(lot: Lot) -> Lot:
    """The record with each sale's buyer replaced by `HIDDEN`."""
    return msgspec.structs.replace(
        lot, sales=tuple(msgspec.structs.replace(s, buyer=HIDDEN) for s in lot.sales),
        history=tuple(msgspec.structs.replace(
            h, command=msgspec.structs.replace(h.command, buyer=HIDDEN))
            if isinstance(h.command, RecordSale) else h for h in lot.history))


def lot_out(gw: Gateway, lot: Lot, who: Participant) -> LotOut:
    """``who``: the reader; anyone but the operator and the lot's own cooperative reads the
    record without its buyers."""
    if who.role != "operator" and who.id != lot.cooperative.id:
        lot = without_buyers(lot)
    grade = lot.grade.decision.grade if lot.grade is not None else None
    return LotOut(lot_id=lot.lot_id, spec_id=lot.spec_id, cooperative=lot.cooperative.id,
                  state=lot.state, qty=lot.qty, remaining_qty=lot.remaining_qty, grade=grade,
                  symbol=gw.lots.symbol_of(lot), trace_url=trace_url(gw, lot),
                  custody_qty=gw.lots.custody(lot.lot_id).custody,
                  active_content=None if lot.grade is None
                  else str(lot.grade.decision.active_content),
                  record=lot, next_step=next_step(gw, lot))


def visible_lot(gw: Gateway, who: Participant, lot_id: str) -> Lot:
    lot = gw.lots.get(lot_id)
    if lot is None or (who.role == "cooperative" and lot.cooperative.id != who.id):
        raise Problem(404, "unknown_lot", f"no lot {lot_id!r}")
    return lot


def _fresh(gw: Gateway, lot_id: str) -> Lot:
    lot = gw.lots.get(lot_id)
    assert lot is not None
    return lot


async def register(request: web.Request, gw: Gateway, who: Participant) -> web.Response:
    r = await body(request, LotRequest)
    if r.spec_id not in gw.catalogue:
        raise refusal("wrong_spec", f"unknown herb spec {r.spec_id!r}", title=LIFECYCLE_TITLE)
    area = r.growing_area
    lifecycle(await gw.submit(RegisterLot(
        lot_id=r.lot_id, account=who.id, cooperative_name=who.name,
        cooperative_no=who.number or 1, spec_id=r.spec_id, qty=r.qty,
        harvest_date=r.harvest_date.isoformat(), commune=r.commune,
        growing_area=GrowingAreaIn(
            code=area.code, issuer=area.issuer, valid_from=area.valid_from.isoformat(),
            valid_until=None if area.valid_until is None else area.valid_until.isoformat()),
        certifications=[CertificationIn(
            scheme=c.scheme, certificate_no=c.certificate_no, issuer=c.issuer,
            valid_from=c.valid_from.isoformat(), valid_until=c.valid_until.isoformat(),
            stars=c.stars) for c in r.certifications])))
    return reply(lot_out(gw, _fresh(gw, r.lot_id), who), 201)


async def list_lots(request: web.Request, gw: Gateway, who: Participant) -> web.Response:
    lots = [lot_out(gw, lot, who) for lot in gw.lots.lots.values()
            if who.role != "cooperative" or lot.cooperative.id == who.id]
    return reply({"lots": lots})


async def get_lot(request: web.Request, gw: Gateway, who: Participant) -> web.Response:
    return reply(lot_out(gw, visible_lot(gw, who, request.match_info["lot_id"]), who))


async def post_assay(request: web.Request, gw: Gateway, who: Participant) -> web.Response:
    lot = visible_lot(gw, who, request.match_info["lot_id"])
    r = await body(request, AssayRequest)
    try:
        cmd = assay_command(gw.catalogue.get(lot.spec_id), lot_id=lot.lot_id, lab=who.name,
                            sample_id=r.sample_id, results=r.results, destination=r.destination)
    except AssayError as exc:
        index = next((i for i, x in enumerate(r.results) if x.parameter == exc.parameter), None)
        path = "$.destination" if exc.code == "unknown_destination" else (
            f"$.results[{index}]" if index is not None else "$.results")
        raise Problem(422, exc.code, str(exc),
                      errors=[FieldError(field=path, message=exc.detail)]) from None
    lifecycle(await gw.submit(cmd), gw, lot.lot_id)
    return reply(lot_out(gw, _fresh(gw, lot.lot_id), who), 201)


async def receive(request: web.Request, gw: Gateway, who: Participant) -> web.Response:
    """Weighed into the market's warehouse, in one command (custody and record together)."""
    lot = visible_lot(gw, who, request.match_info["lot_id"])
    r = await body(request, ReceiveRequest)
    symbol = gw.lots.symbol_of(lot)
    if symbol is None:
        raise refusal("illegal_transition", f"cannot receive a lot that is {lot.state}",
                      title=LIFECYCLE_TITLE, next_step=next_step(gw, lot))
    lifecycle(await gw.submit(ReceiveLot(lot_id=lot.lot_id, account=lot.cooperative.id,
                                         symbol=symbol, qty=r.qty_received,
                                         warehouse=r.warehouse)), gw, lot.lot_id)
    return reply(lot_out(gw, _fresh(gw, lot.lot_id), who))


async def list_lot(request: web.Request, gw: Gateway, who: Participant) -> web.Response:
    lot = visible_lot(gw, who, request.match_info["lot_id"])
    await body(request, ListRequest)
    lifecycle(await gw.submit(ListLotOnBook(lot_id=lot.lot_id, account=lot.cooperative.id)),
              gw, lot.lot_id)
    return reply(lot_out(gw, _fresh(gw, lot.lot_id), who))


async def delist_lot(request: web.Request, gw: Gateway, who: Participant) -> web.Response:
    lot = visible_lot(gw, who, request.match_info["lot_id"])
    await body(request, ListRequest)
    lifecycle(await gw.submit(DelistLot(lot_id=lot.lot_id, account=lot.cooperative.id)),
              gw, lot.lot_id)
    return reply(lot_out(gw, _fresh(gw, lot.lot_id), who))


async def withdraw_lot(request: web.Request, gw: Gateway, who: Participant) -> web.Response:
    lot = visible_lot(gw, who, request.match_info["lot_id"])
    await body(request, ListRequest)
    lifecycle(await gw.submit(WithdrawLot(lot_id=lot.lot_id, account=lot.cooperative.id)),
              gw, lot.lot_id)
    return reply(lot_out(gw, _fresh(gw, lot.lot_id), who))


def public_lot(gw: Gateway, lot_id: str) -> Lot:
    lot = gw.lots.get(lot_id)
    if lot is None:
        raise Problem(404, "unknown_lot", f"no lot {lot_id!r}")
    return lot


def per_kg_active(lot: Lot, ts: datetime, price_vnd: int) -> int | None:
    """The price per kg of active ingredient of a sale at ``ts``, by the grade in force then
    (the latest passing assay before it): VND, rounded half to even (docs/grading.md)."""
    content = None
    for g in lot.grades:
        if g.ts <= ts:
            content = content_ratio(g.decision) if g.decision.passed else None
    return None if content is None else price_per_kg_active(price_vnd, content)


def trace_doc(gw: Gateway, lot: Lot, invoices: dict[int, str] | None = None) -> dict[str, Any]:
    """What the public may know about a lot: origin, grade, custody, sales (no buyers, no
    account balances). Each sale has its trade reference (``trade_ref``, ``HX-<trade id>``)
    and its invoice number (``invoice_no``) from ``invoices`` (trade id -> the ledger's
    number; see `public_trace`)."""
    g = lot.grade
    spec = gw.catalogue.get(lot.spec_id)
    custody = gw.lots.custody(lot.lot_id)
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
        "custody_qty": custody.custody,
        "frozen_qty": sum(q for _, q in custody.frozen),
        "sales": [{"ts": s.ts.isoformat(), "qty": s.qty, "price": s.price_vnd,
                   "price_per_kg_active": per_kg_active(lot, s.ts, s.price_vnd),
                   "trade_ref": s.trade_ref, "invoice_no": _invoice(invoices, s.trade_ref),
                   "venue": s.venue} for s in lot.sales],
        # goods of the lot sold again by their buyers: traced, never sales of the lot
        "resales": [{"ts": ts_of_ns(r.ts_ns).isoformat(), "qty": r.qty, "price": r.price_vnd,
                     "price_per_kg_active": per_kg_active(lot, ts_of_ns(r.ts_ns), r.price_vnd),
                     "trade_ref": trade_ref(r.trade_id),
                     "invoice_no": (invoices or {}).get(r.trade_id)} for r in custody.resales],
        "history": [{"state": h.state, "action": type(h.command).__struct_config__.tag,
                     "ts": h.command.ts.isoformat()} for h in lot.history],
    }


def _invoice(invoices: dict[int, str] | None, ref: str) -> str | None:
    trade_id = trade_id_of(ref)
    return None if invoices is None or trade_id is None else invoices.get(trade_id)


async def public_trace(gw: Gateway, lot: Lot) -> dict[str, Any]:
    """`trace_doc` with each sale's and resale's invoice number from the ledger (None for a
    trade not booked yet, or when no ledger is configured or it cannot be read: the trace page
    stays up). Only the numbers are read from the ledger: never a buyer."""
    custody = gw.lots.custody(lot.lot_id)
    ids = [trade_id_of(s.trade_ref) for s in lot.sales] + [r.trade_id for r in custody.resales]
    try:
        invoices = await invoices_of_trades(gw, [i for i in ids if i is not None])
    except Problem:
        invoices = {}
    return trace_doc(gw, lot, invoices)


async def trace_json(request: web.Request, gw: Gateway, who: Any) -> web.Response:
    return reply(await public_trace(gw, public_lot(gw, request.match_info["lot_id"])))
