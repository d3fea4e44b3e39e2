"""Lots as the gateway keeps them: the grading lifecycle records, persisted, by lot id.

Owns the registry of `grading.lot.Lot` records (one JSON file in the data directory, replaced
atomically on every change) and the steps that change them, each through
`grading.lifecycle.apply` so the transition table decides. Custody in the engine (``ReceiveLot``)
is the caller's business: `receive` only prepares the new record, and the caller stores it once
the engine has taken the lot. Sales are recorded from the engine's trades (`record_trades`;
written at most once a second, and by `flush` at shutdown).

Must never change a lot except through the lifecycle, nor read the clock (``ts`` is passed in).
"""

from __future__ import annotations

import os
import time
from datetime import datetime
from pathlib import Path

import msgspec

from engine.messages import Event, TradeExecuted
from grading.assay import AssayResult, grade_lot
from grading.catalogue import Catalogue
from grading.instruments import instrument_for
from grading.lifecycle import Accepted, Refused, apply, register_lot
from grading.lot import (
    Assay,
    Certification,
    Cooperative,
    GrowingArea,
    ListLot,
    Lot,
    Receive,
    RecordSale,
    Sample,
)


class LotStore:
    def __init__(self, path: Path | None, catalogue: Catalogue) -> None:
        self._path = path
        self.catalogue = catalogue
        self.lots: dict[str, Lot] = {}
        self._dirty = False
        self._saved_at = 0.0
        if path is not None and path.exists():
            for lot in msgspec.json.decode(path.read_bytes(), type=list[Lot]):
                self.lots[lot.lot_id] = lot

    def save(self) -> None:
        self._dirty = False
        self._saved_at = time.monotonic()
        if self._path is None:
            return
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_suffix(".tmp")
        tmp.write_bytes(msgspec.json.encode(list(self.lots.values())))
        os.replace(tmp, self._path)

    def put(self, lot: Lot) -> None:
        self.lots[lot.lot_id] = lot
        self.save()

    def register(
        self, *, lot_id: str, cooperative: Cooperative, spec_id: str, qty: int,
        harvest_date: object, growing_area: GrowingArea, commune: str,
        certifications: tuple[Certification, ...], ts: datetime,
    ) -> Accepted | Refused:
        if lot_id in self.lots:
            return Refused(code="bad_record", detail=f"lot {lot_id} is already registered")
        if spec_id not in self.catalogue:
            return Refused(code="wrong_spec", detail=f"unknown herb spec {spec_id!r}")
        result = register_lot(
            lot_id=lot_id, cooperative=cooperative, spec_id=spec_id, qty=qty,
            harvest_date=harvest_date, growing_area=growing_area, commune=commune,
            certifications=certifications, ts=ts)
        if isinstance(result, Accepted):
            self.put(result.lot)
        return result

    def assay(
        self, lot: Lot, *, lab: str, sample_id: str, results: tuple[AssayResult, ...],
        destination: str, ts: datetime,
    ) -> Accepted | Refused:
        """Sample (if the lot was not sampled yet) and grade; raises `AssayError` for results
        that cannot be graded."""
        decision = grade_lot(self.catalogue.get(lot.spec_id), results, destination)
        if lot.state == "registered":
            sampled = apply(lot, Sample(ts=ts, sample_id=sample_id, sampled_by=lab))
            if isinstance(sampled, Refused):
                return sampled
            lot = sampled.lot
        result = apply(lot, Assay(ts=ts, lab=lab, sample_id=sample_id, results=results,
                                  decision=decision))
        if isinstance(result, Accepted):
            self.put(result.lot)
        return result

    def symbol_of(self, lot: Lot) -> str | None:
        if lot.grade is None or not lot.grade.decision.passed:
            return None
        try:
            return instrument_for(self.catalogue, lot.spec_id, lot.grade.decision.grade).symbol
        except KeyError:
            return None

    def receive(self, lot: Lot, *, qty: int, warehouse: str, ts: datetime) -> Accepted | Refused:
        """The record after receipt; not stored until the engine has taken the lot."""
        return apply(lot, Receive(ts=ts, warehouse=warehouse, qty_received=qty))

    def list_on_book(self, lot: Lot, ts: datetime) -> Accepted | Refused:
        symbol = self.symbol_of(lot)
        if symbol is None:
            return Refused(code="wrong_instrument", detail="the lot has no passing grade")
        result = apply(lot, ListLot(ts=ts, venue="book", symbol=symbol))
        if isinstance(result, Accepted):
            self.put(result.lot)
        return result

    def list_for_auction(self, lot: Lot, auction_id: int, ts: datetime) -> Accepted | Refused:
        result = apply(lot, ListLot(ts=ts, venue="auction", symbol=str(auction_id)))
        if isinstance(result, Accepted):
            self.put(result.lot)
        return result

    def record_trades(self, events: list[Event], ts: datetime) -> None:
        """Record the sales of listed lots from committed trades (others stay as they are:
        the engine sells a lot in custody whether or not its owner listed it)."""
        changed = False
        for ev in events:
            if type(ev) is not TradeExecuted:
                continue
            for leg in ev.lots:
                lot = self.lots.get(leg.lot_id)
                if lot is None or lot.state not in ("listed", "partly_sold"):
                    continue
                result = apply(lot, RecordSale(ts=max(ts, lot.history[-1].command.ts),
                                               qty=leg.qty, price_vnd=ev.price_vnd,
                                               buyer=ev.buyer, invoice_no=f"HX-{ev.trade_id}"))
                if isinstance(result, Accepted):
                    self.lots[lot.lot_id] = result.lot
                    changed = True
        if changed:
            # Sales come with every trade: write at most once a second (and at shutdown);
            # the engine's journal is the record of the trades themselves.
            self._dirty = True
        if self._dirty and time.monotonic() - self._saved_at >= 1.0:
            self.save()

    def flush(self) -> None:
        if self._dirty:
            self.save()
