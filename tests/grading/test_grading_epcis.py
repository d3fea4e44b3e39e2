import json
import re
from datetime import UTC, datetime

from grading_lots import Clock, assay_cmd, lot_in, new_lot

from grading.epcis import EPCIS_CONTEXT, epcis_document, epcis_json
from grading.lifecycle import apply
from grading.lot import ListLot, Process, Receive, RecordSale, Sample, Withdraw
from grading.trace import TraceConfig, lot_trace_url

CREATED = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$")


def _sold_lot(catalogue):
    clock = Clock()
    lot = new_lot(qty=500)
    for make in [
        lambda lot: Process(ts=clock(), description="sun-dried", qty_after=480),
        lambda lot: Sample(ts=clock(), sample_id="S-1", sampled_by="inspector"),
        lambda lot: assay_cmd(catalogue, lot, clock(), passed=False),
        lambda lot: assay_cmd(catalogue, lot, clock()),
        lambda lot: Receive(ts=clock(), warehouse="Kho Bảo Thắng", qty_received=478),
        lambda lot: ListLot(ts=clock(), venue="book", symbol="QUE-BARK-A"),
        lambda lot: RecordSale(ts=clock(), qty=300, price_vnd=61_500, buyer="Traphaco",
                           trade_ref="HX-2026-000812"),
    ]:
        lot = apply(lot, make(lot)).lot
    return lot


def test_epcis_document_shape(catalogue):
    lot = _sold_lot(catalogue)
    uri = lot_trace_url(TraceConfig(), lot, catalogue.get(lot.spec_id))
    doc = epcis_document(lot, uri, CREATED)
    assert doc["@context"][0] == EPCIS_CONTEXT
    assert doc["type"] == "EPCISDocument" and doc["schemaVersion"] == "2.0"
    assert doc["creationDate"] == "2026-11-29T03:00:00.000+00:00"
    events = doc["epcisBody"]["eventList"]
    assert [(e["type"], e.get("bizStep")) for e in events] == [
        ("ObjectEvent", "commissioning"),
        ("TransformationEvent", "other"),
        ("ObjectEvent", "sampling"),
        ("ObjectEvent", "inspecting"),
        ("ObjectEvent", "inspecting"),
        ("ObjectEvent", "receiving"),
        ("ObjectEvent", "holding"),
        ("TransactionEvent", "accepting"),
    ]
    for e in events:
        assert ISO_MS.match(e["eventTime"]) and e["eventTimeZoneOffset"] == "+07:00"
        assert e["eventID"].startswith("urn:uuid:")
        if e["type"] != "TransformationEvent":
            assert e["action"] in ("ADD", "OBSERVE", "DELETE")
            (q,) = e["quantityList"]
            assert q["epcClass"] == uri and q["uom"] == "KGM" and isinstance(q["quantity"], int)
    assert len({e["eventID"] for e in events}) == len(events)

    reg = events[0]
    assert reg["action"] == "ADD" and reg["quantityList"][0]["quantity"] == 500
    assert reg["ilmd"]["cbvmda:lotNumber"] == lot.lot_id
    assert reg["ilmd"]["cbvmda:harvestStartDate"] == "2026-10-20"
    assert reg["ilmd"]["herbx:growingAreaCode"] == "LC-BX-QUE-0007"
    assert events[1]["inputQuantityList"][0]["quantity"] == 500
    assert events[1]["outputQuantityList"][0]["quantity"] == 480
    fail, ok = events[3], events[4]
    assert (fail["disposition"], fail["herbx:grade"], fail["herbx:failedLimits"]) == (
        "non_conformant", "REJECT", ["moisture_pct"])
    assert (ok["disposition"], ok["herbx:grade"]) == ("conformant", "A")
    assert {"herbx:parameter": "cinnamaldehyde_pct", "herbx:value": "2.91",
            "herbx:unit": "%"} in ok["herbx:assay"]
    assert events[5]["quantityList"][0]["quantity"] == 478
    sale = events[-1]
    assert sale["action"] == "ADD" and sale["quantityList"][0]["quantity"] == 300
    assert sale["bizTransactionList"] == [
        {"type": "inv", "bizTransaction": "urn:herbx:inv:HX-2026-000812"}]


def test_export_is_json_ld_and_deterministic(catalogue):
    lot = _sold_lot(catalogue)
    uri = lot_trace_url(TraceConfig(), lot, catalogue.get(lot.spec_id))
    raw = epcis_json(lot, uri, CREATED)
    assert json.loads(raw) == epcis_document(lot, uri, CREATED)
    assert raw == epcis_json(_sold_lot(catalogue), uri, CREATED)  # same lot, same bytes


def test_withdrawal_decommissions(catalogue):
    clock = Clock()
    lot = lot_in(catalogue, "received", clock)
    lot = apply(lot, Withdraw(ts=clock(), reason="cooperative request")).lot
    doc = epcis_document(lot, "https://r.example/01/00400042001018/10/L", CREATED)
    last = doc["epcisBody"]["eventList"][-1]
    assert (last["type"], last["action"], last["bizStep"], last["disposition"]) == (
        "ObjectEvent", "DELETE", "decommissioning", "inactive")


def test_epcis_quantities_are_what_moved_and_a_sale_changes_owner(catalogue):
    """Issue 11: after 300 of 478 kg are sold, the delist reports the 178 kg left and a
    withdrawal decommissions only those; the sale names source and destination owners."""
    from grading.lot import Delist

    lot = _sold_lot(catalogue)
    clock = Clock()
    clock.t = lot.history[-1].command.ts
    lot = apply(lot, Delist(ts=clock())).lot
    lot = apply(lot, Withdraw(ts=clock(), reason="owner")).lot
    uri = lot_trace_url(TraceConfig(), lot, catalogue.get(lot.spec_id))
    events = epcis_document(lot, uri, CREATED)["epcisBody"]["eventList"]
    sale, delist, withdraw = events[-3:]
    assert sale["quantityList"][0]["quantity"] == 300
    assert sale["sourceList"][0]["source"].endswith(lot.cooperative.id)
    assert sale["destinationList"][0]["destination"].endswith("Traphaco")
    assert delist["quantityList"][0]["quantity"] == 178
    assert withdraw["quantityList"][0]["quantity"] == 178
    assert events[0]["readPoint"]["id"].endswith(lot.growing_area.code)


def test_a_cancelled_sale_is_a_transaction_delete_and_gives_the_quantity_back(catalogue):
    """The sale's trade failed: the export keeps the sale (it was recorded) and adds its
    cancellation, which names the same transaction; what is left afterwards is all 478 kg."""
    from grading.lot import CancelSale, Delist

    lot = _sold_lot(catalogue)
    clock = Clock()
    clock.t = lot.history[-1].command.ts
    lot = apply(lot, CancelSale(ts=clock(), qty=300, trade_ref="HX-2026-000812")).lot
    lot = apply(lot, Delist(ts=clock())).lot
    uri = lot_trace_url(TraceConfig(), lot, catalogue.get(lot.spec_id))
    events = epcis_document(lot, uri, CREATED)["epcisBody"]["eventList"]
    sale, cancel, delist = events[-3:]
    assert (cancel["type"], cancel["action"]) == ("TransactionEvent", "DELETE")
    assert cancel["bizTransactionList"] == sale["bizTransactionList"]
    assert cancel["quantityList"][0]["quantity"] == 300
    assert delist["quantityList"][0]["quantity"] == 478


def test_a_sale_stamped_with_the_receipts_time_is_deducted_once(catalogue):
    # The engine stamps entries of one command time alike: a receipt and a sale in the same
    # instant. The receiving event reports what was received; the sale deducts itself once.
    clock = Clock()
    lot = new_lot(qty=500)
    for make in [
        lambda lot: Sample(ts=clock(), sample_id="S-1", sampled_by="inspector"),
        lambda lot: assay_cmd(catalogue, lot, clock()),
    ]:
        lot = apply(lot, make(lot)).lot
    ts = clock()
    for cmd in [Receive(ts=ts, warehouse="Kho", qty_received=478),
                ListLot(ts=ts, venue="book", symbol="QUE-BARK-A"),
                RecordSale(ts=ts, qty=300, price_vnd=61_500, buyer="Traphaco",
                           trade_ref="HX-1")]:
        lot = apply(lot, cmd).lot
    uri = lot_trace_url(TraceConfig(), lot, catalogue.get(lot.spec_id))
    events = epcis_document(lot, uri, CREATED)["epcisBody"]["eventList"]
    receiving = next(e for e in events if e.get("bizStep") == "receiving")
    holding = next(e for e in events if e.get("bizStep") == "holding")
    assert receiving["quantityList"][0]["quantity"] == 478
    assert holding["quantityList"][0]["quantity"] == 478
