"""A recorded lot's trade that fails in settlement (issue 12 with issue 11): the sale never
happened, so the lot record drops it (history: the sale, then its cancellation), and the goods
go back into the lot's custody: on the book when the sale was made there and the lot is still
listed there, in the warehouse otherwise, out with the lot when it was withdrawn since. A
resale that fails leaves the lot's resales. Every step runs the engine's invariant check
(`tests.support.Sim`), which includes "remaining quantity == custody" for every lot."""

from __future__ import annotations

from typing import Any

from engine.auctions import dutch
from engine.exchange import Exchange
from engine.messages import (
    CommandRejected,
    CreateAuction,
    DelistLot,
    DutchBuy,
    ListLotOnBook,
    LotUpdated,
    LotWithdrawn,
    SetTradeSettlement,
    TradeExecuted,
    TradeSettlementChanged,
    WithdrawLot,
)
from grading.lot import CancelSale, RecordSale, trade_ref
from tests.support import of, one
from tests.test_engine_lots import Market, assay

BOOK = "QUE-BARK-A"


def listed(lot_id: str = "L1", qty: int = 500, owner: str = "C1") -> Market:
    m = Market()
    m.received(lot_id, qty, owner=owner)
    m.step(ListLotOnBook(lot_id=lot_id, account=owner))
    return m


def sale(m: Market, qty: int, buyer: str = "T1", price: int = 60_000,
         seller: str = "C1") -> TradeExecuted:
    m.order(seller, "sell", qty, price, symbol=BOOK)
    return one(m.order(buyer, "buy", qty, price, symbol=BOOK), TradeExecuted)


def fail(m: Market, trade_id: int) -> list[Any]:
    events = m.step(SetTradeSettlement(trade_id=trade_id, state="failed"))
    assert one(events, TradeSettlementChanged).to_state == "failed"
    return events


def custody(m: Market, lot_id: str = "L1") -> tuple[int, int, int]:
    rec = m.ex.lot_book.records[lot_id]
    return rec.warehouse, rec.on_book, rec.in_auction


def summary(m: Market, lot_id: str = "L1") -> tuple[str, int, int]:
    lot = m.record(lot_id)
    return lot.state, lot.sold_qty, lot.remaining_qty


def test_a_failed_book_sale_goes_back_on_the_book_of_a_lot_still_listed_there() -> None:
    m = listed()
    t = sale(m, 300)
    assert summary(m) == ("partly_sold", 300, 200)
    events = fail(m, t.trade_id)
    update = one(events, LotUpdated)
    assert (update.action, update.state, update.remaining_qty, update.custody_qty) == (
        "cancel_sale", "listed", 500, 500)
    assert summary(m) == ("listed", 0, 500)
    assert custody(m) == (0, 500, 0)
    assert m.goods("C1", BOOK) == (500, 0)  # the owner's free goods on the book: counted once
    lot = m.record("L1")
    assert lot.sales == ()
    assert [type(h.command) for h in lot.history[-2:]] == [RecordSale, CancelSale]
    assert lot.history[-1].command.trade_ref == trade_ref(t.trade_id)
    # the lot sells again, all of it, from the same listing
    again = sale(m, 500, buyer="T2")
    m.pay(again.trade_id)
    assert summary(m) == ("sold", 500, 0)
    assert [(s.buyer, s.qty) for s in m.record("L1").sales] == [("T2", 500)]


def test_one_of_several_trades_fails_and_the_others_stay_sold() -> None:
    m = listed()
    a = sale(m, 200)
    b = sale(m, 100, buyer="T2")
    c = sale(m, 50)
    fail(m, b.trade_id)
    assert summary(m) == ("partly_sold", 250, 250)
    assert [s.trade_ref for s in m.record("L1").sales] == [trade_ref(a.trade_id),
                                                           trade_ref(c.trade_id)]
    assert custody(m) == (0, 250, 0)
    m.pay(a.trade_id, c.trade_id)
    assert m.goods("T1", BOOK) == (250, 0)
    assert m.goods("T2", BOOK) == (0, 0)
    assert summary(m) == ("partly_sold", 250, 250)
    fail_last = sale(m, 250, buyer="T2")
    assert summary(m) == ("sold", 500, 0)
    fail(m, fail_last.trade_id)
    # sold out, then its last sale failed: the listing ended with the sell-out, so the goods
    # wait in the warehouse for the owner to list them again
    assert summary(m) == ("received", 250, 250)
    assert custody(m) == (250, 0, 0)
    assert m.goods("C1", BOOK) == (0, 0)
    m.step(ListLotOnBook(lot_id="L1", account="C1"))
    sale(m, 250, buyer="T2")
    assert summary(m) == ("sold", 500, 0)


def test_a_trade_that_drew_on_two_lots_gives_each_its_goods_back() -> None:
    m = Market()
    m.received("L1", 100)
    m.received("L2", 300)
    m.step(ListLotOnBook(lot_id="L1", account="C1"))
    m.step(ListLotOnBook(lot_id="L2", account="C1"))
    t = sale(m, 250)
    assert [(leg.lot_id, leg.qty) for leg in t.lots] == [("L1", 100), ("L2", 150)]
    assert summary(m, "L1") == ("sold", 100, 0) and summary(m, "L2") == ("partly_sold", 150, 150)
    events = fail(m, t.trade_id)
    assert [(u.lot_id, u.state) for u in of(events, LotUpdated)] == [
        ("L1", "received"), ("L2", "listed")]
    assert custody(m, "L1") == (100, 0, 0)  # L1 sold out: back to the warehouse
    assert custody(m, "L2") == (0, 300, 0)
    assert m.goods("C1", BOOK) == (300, 0)


def test_a_failure_after_the_lot_was_delisted_returns_the_goods_to_the_warehouse() -> None:
    m = listed()
    t = sale(m, 200)
    m.step(DelistLot(lot_id="L1", account="C1"))
    assert custody(m) == (300, 0, 0)
    fail(m, t.trade_id)
    assert summary(m) == ("received", 0, 500)
    assert custody(m) == (500, 0, 0)
    assert m.goods("C1", BOOK) == (0, 0)  # nothing on a book the lot is no longer listed on


def test_a_failure_after_the_lot_was_delisted_and_rejected_keeps_it_in_the_warehouse() -> None:
    m = listed()
    t = sale(m, 200)
    m.step(DelistLot(lot_id="L1", account="C1"))
    m.step(assay("L1", moisture_pct="16.2"))
    assert m.record("L1").state == "rejected"
    fail(m, t.trade_id)
    assert summary(m) == ("rejected", 0, 500)
    assert custody(m) == (500, 0, 0)
    assert m.goods("C1", BOOK) == (0, 0)


def test_a_failure_after_the_lot_was_withdrawn_sends_the_goods_after_it() -> None:
    m = listed()
    t = sale(m, 200)
    out = one(m.step(WithdrawLot(lot_id="L1", account="C1")), LotWithdrawn)
    assert out.qty == 300
    events = fail(m, t.trade_id)
    assert (one(events, LotWithdrawn).qty, one(events, LotUpdated).action) == (200, "cancel_sale")
    assert summary(m) == ("withdrawn", 0, 500)
    assert custody(m) == (0, 0, 0)
    assert m.goods("C1", BOOK) == (0, 0)


def test_a_failed_dutch_purchase_while_the_clock_runs_returns_to_the_warehouse() -> None:
    m = Market()
    m.received("LA", 10, grade="B", owner="S2")
    aid = m.seq + 1
    m.step(CreateAuction(kind="dutch", seller="S2", lot_id="LA", qty=10, start_ns=0,
                         start_price_vnd=99_000, step_vnd=100, interval_ns=10**9,
                         floor_vnd=59_000))
    first = one(m.do(DutchBuy(auction_id=aid, account="T1", price_vnd=99_000, qty=4)),
                TradeExecuted)
    assert summary(m, "LA") == ("partly_sold", 4, 6)
    fail(m, first.trade_id)
    assert summary(m, "LA") == ("listed", 0, 10)
    assert custody(m, "LA") == (4, 0, 6)  # the auction keeps selling only what it holds
    assert m.goods("S2", "QUE-BARK-B") == (0, 0)
    # the rest sells out at the price the clock shows now
    shown = dutch.price_at(m.ex.auctions.auctions[aid], m.ts)
    assert shown is not None
    one(m.do(DutchBuy(auction_id=aid, account="T2", price_vnd=shown, qty=6)), TradeExecuted)
    assert summary(m, "LA") == ("received", 6, 4)  # the auction closed: no longer listed
    assert custody(m, "LA") == (4, 0, 0)


def test_a_failed_resale_leaves_the_lot_record_alone_and_the_goods_with_the_reseller() -> None:
    m = listed(qty=800)
    m.pay(sale(m, 60).trade_id)
    resale = sale(m, 50, seller="T1", buyer="T2", price=61_000)
    assert resale.lot_values[0].resale is True
    rec = m.ex.lot_book.records["L1"]
    assert [r.trade_id for r in rec.resales] == [resale.trade_id]
    before = m.record("L1")
    events = fail(m, resale.trade_id)
    assert not of(events, LotUpdated)
    assert rec.resales == []
    assert m.record("L1") == before
    assert m.goods("T1", BOOK) == (60, 0)


def test_a_failed_resale_of_a_lot_rejected_meanwhile_is_frozen_with_the_reseller() -> None:
    m = listed(qty=800)
    m.pay(sale(m, 60).trade_id)
    resale = sale(m, 50, seller="T1", buyer="T2", price=61_000)
    m.step(DelistLot(lot_id="L1", account="C1"))
    m.step(assay("L1", moisture_pct="16.2"))
    rec = m.ex.lot_book.records["L1"]
    assert rec.frozen == [("T1", 10)]  # the 50 kg waiting for payment were in no holding
    events = fail(m, resale.trade_id)
    assert one(events, LotUpdated).action == "freeze"
    assert rec.frozen == [("T1", 10), ("T1", 50)]
    assert m.goods("T1", BOOK) == (0, 0)  # no rejected goods on a book


def test_a_paid_sale_cannot_fail_and_stays_on_the_record() -> None:
    m = listed()
    t = sale(m, 300)
    m.pay(t.trade_id)
    refused = one(m.step(SetTradeSettlement(trade_id=t.trade_id, state="failed")),
                  CommandRejected)
    assert refused.reason == "illegal_settlement_transition"
    assert summary(m) == ("partly_sold", 300, 200)


def test_a_cancelled_sale_survives_snapshot_and_replay() -> None:
    m = listed()
    a = sale(m, 200)
    b = sale(m, 100)
    fail(m, a.trade_id)
    restored = Exchange.restore(m.ex.snapshot())
    assert restored.state_hash() == m.ex.state_hash()
    assert restored.lot_book.records["L1"].record == m.record("L1")
    restored._check()
    # the restored engine goes on exactly like the live one: the other trade fails too
    cmd = SetTradeSettlement(trade_id=b.trade_id, state="failed")
    cmd.seq, cmd.ts_ns = m.seq + 1, m.ts + 10**9
    live = m.do(SetTradeSettlement(trade_id=b.trade_id, state="failed"), ts=cmd.ts_ns)
    assert restored.apply(cmd) == live
    assert restored.state_hash() == m.ex.state_hash()
    assert summary(m) == ("listed", 0, 500)
