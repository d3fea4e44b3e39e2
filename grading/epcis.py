"""A lot's history as GS1 EPCIS 2.0 events, exported as an EPCIS JSON-LD document.

Owns: the mapping from lot history entries to EPCIS event types and CBV 2.0 vocabulary:

    register   ObjectEvent ADD, bizStep commissioning, ILMD: lot, harvest date, growing area
    process    TransformationEvent (drying, cutting...): input and output quantity, bizStep other
    sample     ObjectEvent OBSERVE, bizStep sampling
    assay      ObjectEvent OBSERVE, bizStep inspecting, disposition conformant | non_conformant,
               with the grade, the failed limits and the assay values as extensions
    receive    ObjectEvent OBSERVE, bizStep receiving, disposition in_progress
    list       ObjectEvent OBSERVE, bizStep holding, disposition sellable_accessible
    delist     ObjectEvent OBSERVE, bizStep holding, disposition sellable_not_accessible
    sale       TransactionEvent ADD, bizStep accepting (possession/ownership changes), with
               bizTransactionList type "inv" carrying the invoice number
    cancel_sale  TransactionEvent DELETE, bizStep other: the sale's trade failed in settlement,
               so the goods are disassociated from that transaction and are the owner's again
    withdraw   ObjectEvent DELETE, bizStep decommissioning, disposition inactive

Quantities are what each event moved: a sale moves what was sold, and a delist or withdrawal
covers only what is left (the sales before it deducted); a sale names the cooperative and the
buyer as source and destination owning parties, and commissioning carries the growing area
(mã số vùng trồng, which has no GLN) as its read point, ``urn:herbx:growing-area:<code>``.

Lots are class-level identities, so events carry a ``quantityList`` whose ``epcClass`` is the
lot's GS1 Digital Link URI (EPCIS 2.0 accepts DL URIs) with quantities in kg (UN/CEFACT KGM).
Event ids are deterministic (UUID v5 of the lot URI and position) so the same lot always exports
the same document. Extension fields use the ``herbx:`` prefix declared in ``@context``. Must
never read the clock: ``creation_date`` is passed in.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec

from grading.lot import (
    Assay,
    CancelSale,
    Delist,
    ListLot,
    Lot,
    Process,
    Receive,
    RecordSale,
    Register,
    Sample,
    Withdraw,
)

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
HERBX_NS = "https://herbx.example/epcis/"  # our extension namespace (placeholder host)
_UUID_NS = uuid.UUID("6f1c3b7e-2d0a-4f5e-9a51-0b3f2f4d8c11")  # fixed, so ids stay stable

Json = dict[str, object]


def _time(t: datetime) -> tuple[str, str]:
    off = t.utcoffset()
    assert off is not None, "timestamps are timezone-aware"
    minutes = int(off.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    hh, mm = divmod(abs(minutes), 60)
    return t.isoformat(timespec="milliseconds"), f"{sign}{hh:02d}:{mm:02d}"


def _qty(epc_class: str, kg: int) -> list[Json]:
    return [{"epcClass": epc_class, "quantity": kg, "uom": "KGM"}]


def lot_events(lot: Lot, lot_uri: str) -> list[Json]:
    """The lot's history as EPCIS 2.0 event objects, in history (time) order."""
    events: list[Json] = []
    qty = 0
    for i, entry in enumerate(lot.history):
        cmd = entry.command
        when, offset = _time(cmd.ts)
        ev: Json = {
            "eventID": f"urn:uuid:{uuid.uuid5(_UUID_NS, f'{lot_uri}#{i}')}",
            "eventTime": when,
            "eventTimeZoneOffset": offset,
        }
        match cmd:
            case Register():
                qty = cmd.qty
                ev |= {"type": "ObjectEvent", "action": "ADD", "bizStep": "commissioning",
                       "disposition": "active", "quantityList": _qty(lot_uri, qty),
                       "readPoint": {"id": f"urn:herbx:growing-area:{lot.growing_area.code}"},
                       "ilmd": {
                           "cbvmda:lotNumber": lot.lot_id,
                           "cbvmda:countryOfOrigin": "VN",
                           "cbvmda:harvestStartDate": lot.harvest_date.isoformat(),
                           "herbx:growingAreaCode": lot.growing_area.code,
                           "herbx:growingAreaIssuer": lot.growing_area.issuer,
                           "herbx:commune": lot.commune,
                           "herbx:cooperative": lot.cooperative.name,
                           "herbx:certifications": [
                               f"{c.scheme}:{c.certificate_no}" for c in lot.certifications
                           ],
                       }}
            case Process():
                ev |= {"type": "TransformationEvent", "bizStep": "other",
                       "inputQuantityList": _qty(lot_uri, qty),
                       "outputQuantityList": _qty(lot_uri, cmd.qty_after),
                       "herbx:process": cmd.description}
                qty = cmd.qty_after
            case Sample():
                ev |= {"type": "ObjectEvent", "action": "OBSERVE", "bizStep": "sampling",
                       "quantityList": _qty(lot_uri, qty), "herbx:sampleID": cmd.sample_id}
            case Assay():
                d = cmd.decision
                ev |= {"type": "ObjectEvent", "action": "OBSERVE", "bizStep": "inspecting",
                       "disposition": "conformant" if d.passed else "non_conformant",
                       "quantityList": _qty(lot_uri, qty),
                       "herbx:lab": cmd.lab, "herbx:sampleID": cmd.sample_id,
                       "herbx:grade": d.grade, "herbx:destination": d.destination,
                       "herbx:failedLimits": [f.parameter for f in d.failures],
                       "herbx:assay": [{"herbx:parameter": r.parameter, "herbx:value": r.value,
                                        "herbx:unit": r.unit} for r in cmd.results]}
            case Receive():
                # history is in time order and each sale deducts itself below: counting sales
                # here too took a sale stamped with the receipt's time off twice
                qty = cmd.qty_received
                ev |= {"type": "ObjectEvent", "action": "OBSERVE", "bizStep": "receiving",
                       "disposition": "in_progress", "quantityList": _qty(lot_uri, qty),
                       "herbx:warehouse": cmd.warehouse}
            case ListLot():
                ev |= {"type": "ObjectEvent", "action": "OBSERVE", "bizStep": "holding",
                       "disposition": "sellable_accessible",
                       "quantityList": _qty(lot_uri, qty), "herbx:venue": cmd.venue,
                       "herbx:listedOn": cmd.symbol}
            case Delist():
                ev |= {"type": "ObjectEvent", "action": "OBSERVE", "bizStep": "holding",
                       "disposition": "sellable_not_accessible",
                       "quantityList": _qty(lot_uri, qty)}
            case RecordSale():
                qty -= cmd.qty  # what is left in the owner's custody after the sale
                ev |= {"type": "TransactionEvent", "action": "ADD", "bizStep": "accepting",
                       "sourceList": [{"type": "owning_party",
                                       "source": f"urn:herbx:party:{lot.cooperative.id}"}],
                       "destinationList": [{"type": "owning_party",
                                            "destination": f"urn:herbx:party:{cmd.buyer}"}],
                       "bizTransactionList": [
                           {"type": "inv", "bizTransaction": f"urn:herbx:inv:{cmd.trade_ref}"}
                       ],
                       "quantityList": _qty(lot_uri, cmd.qty),
                       "herbx:buyer": cmd.buyer, "herbx:priceVNDPerKg": cmd.price_vnd}
            case CancelSale():
                qty += cmd.qty  # back in the owner's custody: the sale never happened
                ev |= {"type": "TransactionEvent", "action": "DELETE", "bizStep": "other",
                       "bizTransactionList": [
                           {"type": "inv", "bizTransaction": f"urn:herbx:inv:{cmd.trade_ref}"}
                       ],
                       "quantityList": _qty(lot_uri, cmd.qty),
                       "herbx:reason": "settlement_failed"}
            case Withdraw():
                ev |= {"type": "ObjectEvent", "action": "DELETE", "bizStep": "decommissioning",
                       "disposition": "inactive", "quantityList": _qty(lot_uri, qty),
                       "herbx:reason": cmd.reason}
        events.append(ev)
    return events


def epcis_document(lot: Lot, lot_uri: str, creation_date: datetime) -> Json:
    """An EPCIS 2.0 ``EPCISDocument`` holding the lot's whole history."""
    return {
        "@context": [EPCIS_CONTEXT, {"herbx": HERBX_NS}],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": _time(creation_date)[0],
        "epcisBody": {"eventList": lot_events(lot, lot_uri)},
    }


def epcis_json(lot: Lot, lot_uri: str, creation_date: datetime) -> bytes:
    """The document as JSON-LD bytes (media type ``application/ld+json``)."""
    return msgspec.json.encode(epcis_document(lot, lot_uri, creation_date))
