"""Delivery versus payment (issue 12): one scenario per transition and per refusal.

A trade moves nothing: the buyer's cash and the seller's goods stay theirs, in DvP holds, until
the operator marks the trade paid (cash and goods change hands in one step) or failed (the holds
are released). Delivered and settled change the state only; settled and failed trades leave
the engine's map of open settlements.
"""

from __future__ import annotations

import pytest

from engine.exchange import Exchange
from engine.messages import (
    CommandRejected,
    LotLeg,
    LotWithdrawn,
    OrderRejected,
    TradeExecuted,
    TradeSettlementChanged,
    Withdraw,
    WithdrawLot,
)
from engine.naive_book import NaiveBook
from tests.support import Sim, market, of, one
from tests.test_auctions_support import T0, S
from tests.test_auctions_support import market as auction_market


@pytest.fixture(params=["fast", "naive"])
def sim(request: pytest.FixtureRequest) -> Sim:
    return market(Sim(book_factory=NaiveBook) if request.param == "naive" else Sim())


def trade(sim: Sim, qty: int = 700, price: int = 61_500) -> TradeExecuted:
    """S1 sells ``qty`` to B1 at ``price`` (S1's lots: L-S1-1 1000 kg, then L-S1-2)."""
    sim.sell("S1", qty, price)
    return one(sim.buy("B1", qty, price), TradeExecuted)


def refused(events: list, reason: str) -> None:
    assert one(events, CommandRejected).reason == reason and len(events) == 1, events


def test_a_trade_moves_nothing_and_holds_both_sides(sim: Sim) -> None:
    t = trade(sim)
    value = 700 * 61_500
    assert sim.cash("B1") == (1_000_000_000, value)  # still the buyer's, held
    assert sim.cash("S1") == (0, 0)
    assert sim.goods("S1") == (2000, 700)  # still the seller's, held
    assert sim.goods("B1") == (0, 0)
    view = sim.ex.balances("S1")
    assert view is not None and view.goods[0].dvp_qty == 700
    assert view.goods[0].lots == [("L-S1-1", 300), ("L-S1-2", 1000)]  # the legs left the lots
    buyer = sim.ex.balances("B1")
    assert buyer is not None and buyer.cash_dvp_vnd == value and buyer.cash_available_vnd == (
        1_000_000_000 - value)
    open_ = sim.ex.settlement(t.trade_id)
    assert open_ is not None and (open_.state, open_.buyer, open_.seller, open_.value_vnd) == (
        "pending", "B1", "S1", value)
    assert open_.lots == [("L-S1-1", 700)] and open_.ts_ns == t.ts_ns


def test_paid_moves_cash_and_goods_in_one_step(sim: Sim) -> None:
    t = trade(sim)
    ev = sim.settle(t.trade_id, "paid")
    changed = one(ev, TradeSettlementChanged)
    assert (changed.from_state, changed.to_state, changed.value_vnd) == (
        "pending", "paid", 700 * 61_500)
    assert changed.lots == [LotLeg("L-S1-1", 700)] and changed.trade_ts_ns == t.ts_ns
    assert sim.cash("B1") == (1_000_000_000 - 700 * 61_500, 0)
    assert sim.cash("S1") == (700 * 61_500, 0)
    assert sim.goods("B1") == (700, 0) and sim.goods("S1") == (1300, 0)
    view = sim.ex.balances("B1")
    assert view is not None and view.goods[0].lots == [("L-S1-1", 700)]
    assert sim.ex.settlement(t.trade_id).state == "paid"  # type: ignore[union-attr]


def test_delivered_and_settled_change_the_state_only_then_the_trade_leaves(sim: Sim) -> None:
    t = trade(sim)
    sim.pay(t.trade_id)
    before = (sim.cash("B1"), sim.cash("S1"), sim.goods("B1"), sim.goods("S1"))
    assert one(sim.settle(t.trade_id, "delivered"), TradeSettlementChanged).from_state == "paid"
    assert sim.ex.settlement(t.trade_id).state == "delivered"  # type: ignore[union-attr]
    assert one(sim.settle(t.trade_id, "settled"), TradeSettlementChanged).to_state == "settled"
    assert (sim.cash("B1"), sim.cash("S1"), sim.goods("B1"), sim.goods("S1")) == before
    assert sim.ex.settlement(t.trade_id) is None and sim.ex.settlements == {}


def test_failed_releases_both_holds_and_the_goods_come_back_oldest_first(sim: Sim) -> None:
    t = trade(sim, qty=1200)  # 1000 of L-S1-1 and 200 of L-S1-2
    assert t.lots == [LotLeg("L-S1-1", 1000), LotLeg("L-S1-2", 200)]
    changed = one(sim.settle(t.trade_id, "failed"), TradeSettlementChanged)
    assert (changed.from_state, changed.to_state) == ("pending", "failed")
    assert sim.cash("B1") == (1_000_000_000, 0) and sim.cash("S1") == (0, 0)
    assert sim.goods("S1") == (2000, 0) and sim.goods("B1") == (0, 0)
    view = sim.ex.balances("S1")
    assert view is not None and view.goods[0].lots == [("L-S1-1", 1000), ("L-S1-2", 1000)]
    assert sim.ex.settlements == {}
    # the same goods sell again, oldest first
    assert trade(sim, qty=10).lots == [LotLeg("L-S1-1", 10)]


@pytest.mark.parametrize(("path", "move"), [
    ([], "delivered"), ([], "settled"), (["paid"], "paid"), (["paid"], "failed"),
    (["paid"], "settled"), (["paid", "delivered"], "failed"), (["paid", "delivered"], "paid"),
])
def test_a_move_the_table_does_not_have_is_refused_and_changes_nothing(
    sim: Sim, path: list[str], move: str
) -> None:
    t = trade(sim)
    for state in path:
        sim.settle(t.trade_id, state)
    before = sim.ex.state_hash()
    refused(sim.settle(t.trade_id, move), "illegal_settlement_transition")
    sim.ex.last_seq -= 1  # the hash covers last_seq; compare the rest
    assert sim.ex.state_hash() == before
    sim.ex.last_seq += 1


def test_a_closed_or_unknown_trade_is_refused(sim: Sim) -> None:
    t = trade(sim)
    sim.settle(t.trade_id, "failed")
    refused(sim.settle(t.trade_id, "paid"), "settlement_finished")
    refused(sim.settle(t.trade_id + 1, "paid"), "unknown_trade")


def test_bought_goods_are_the_buyers_to_withdraw_or_resell_only_when_paid(sim: Sim) -> None:
    t = trade(sim)
    assert one(sim.sell("B1", 10, 62_000), OrderRejected).reason == "insufficient_goods"
    refused(sim.do(WithdrawLot(lot_id="L-S1-1", account="B1")), "lot_not_held")
    sim.pay(t.trade_id)
    assert one(sim.do(WithdrawLot(lot_id="L-S1-1", account="B1")), LotWithdrawn).qty == 700


def test_held_cash_cannot_be_withdrawn_and_unpaid_proceeds_are_not_the_sellers(sim: Sim) -> None:
    t = trade(sim)
    available = 1_000_000_000 - 700 * 61_500
    refused(sim.do(Withdraw(account="B1", amount_vnd=available + 1)), "insufficient_cash")
    refused(sim.do(Withdraw(account="S1", amount_vnd=1)), "insufficient_cash")
    sim.pay(t.trade_id)
    assert sim.do(Withdraw(account="S1", amount_vnd=700 * 61_500))


def test_the_seller_may_not_sell_goods_that_a_pending_trade_holds(sim: Sim) -> None:
    trade(sim, qty=2000)
    assert one(sim.sell("S1", 1, 61_500), OrderRejected).reason == "insufficient_goods"
    refused(sim.do(WithdrawLot(lot_id="L-S1-1", account="S1")), "lot_not_held")


def test_open_settlements_survive_a_snapshot(sim: Sim) -> None:
    a = trade(sim)
    b = trade(sim, qty=100)
    sim.pay(b.trade_id)
    restored = Exchange.restore(sim.ex.snapshot())
    assert restored.state_hash() == sim.ex.state_hash()
    restored._check()
    assert [v.state for v in restored.settlement_views()] == ["pending", "paid"]
    assert restored.settlement(a.trade_id) == sim.ex.settlement(a.trade_id)


# -- every venue opens the same settlement -----------------------------------------------------


def test_an_english_auction_sale_waits_for_payment_and_a_failure_returns_the_lot() -> None:
    sim = auction_market()
    aid = sim.create("english", end=T0 + 60 * S)
    sim.bid(aid, "B1", 60_000)
    ev = sim.tick(T0 + 60 * S)
    t = one(ev, TradeExecuted)
    assert sim.cash("B1") == (10_000_000_000, t.price_vnd * 100)
    assert sim.goods("S1") == (600, 100)  # back from the auction's custody, held for the trade
    sim.settle(t.trade_id, "failed")
    assert sim.cash("B1") == (10_000_000_000, 0) and sim.goods("S1") == (600, 0)
    view = sim.ex.balances("S1")
    assert view is not None and ("LOT-1", 100) in view.goods[0].lots


def test_a_dutch_purchase_is_paid_like_a_book_trade() -> None:
    sim = auction_market()
    aid = sim.create("dutch", price=60_000, step_vnd=1_000, interval_ns=S, floor_vnd=55_000,
                     min_qty=20)
    t = one(sim.dutch_buy(aid, "B1", 60_000, 30), TradeExecuted)
    assert sim.goods("B1") == (0, 0) and sim.cash("B1") == (10_000_000_000, 60_000 * 30)
    sim.pay(t.trade_id)
    assert sim.goods("B1") == (30, 0) and sim.cash("S1") == (60_000 * 30, 0)


def test_a_call_uncross_opens_pending_trades() -> None:
    sim = auction_market()
    sim.start_call()
    sim.buy("B1", 50, 61_000)
    sim.sell("S2", 50, 60_000)
    trades = of(sim.end_call(), TradeExecuted)
    assert [(t.buyer, t.seller, t.qty) for t in trades] == [("B1", "S2", 50)]
    price = trades[0].price_vnd
    assert sim.cash("B1") == (10_000_000_000, price * 50)
    assert sim.goods("S2") == (1000, 50)
    sim.pay()
    assert sim.cash("B1") == (10_000_000_000 - price * 50, 0) and sim.goods("B1") == (50, 0)


def test_a_failed_sale_of_a_recorded_lot_keeps_the_lot_consistent() -> None:
    """The lot's sale stays on its record (append-only); the goods come back to the owner's
    holding and can be sold again, never counted as more sales than the lot had."""
    from engine.messages import ListLotOnBook
    from tests.test_engine_lots import Market as LotMarket

    m = LotMarket()
    m.received("L1", 800)
    m.step(ListLotOnBook(lot_id="L1", account="C1"))
    m.order("C1", "sell", 300, 60_000, symbol="QUE-BARK-A")
    t = one(m.order("T1", "buy", 300, 60_000, symbol="QUE-BARK-A"), TradeExecuted)
    m.settle(t.trade_id, "failed")  # Sim.do checks every invariant, the lot book's included
    assert m.goods("C1", "QUE-BARK-A") == (800, 0) and m.goods("T1", "QUE-BARK-A") == (0, 0)
    m.order("C1", "sell", 800, 60_000, symbol="QUE-BARK-A")
    m.order("T2", "buy", 800, 60_000, symbol="QUE-BARK-A")
    m.pay()
    lot = m.record("L1")
    assert (lot.sold_qty, lot.remaining_qty) == (800, 0)
    assert m.goods("T2", "QUE-BARK-A") == (800, 0)


def test_a_failed_auction_sale_of_a_recorded_lot_returns_it_to_the_warehouse() -> None:
    """A recorded lot sold by Dutch auction whose trade fails: the lot was never sold, so its
    record may not say it was (nor name a buyer the trace page would show as a sale), and its
    goods go back into its custody, not onto a book the lot was never listed on."""
    from engine.messages import CreateAuction, DutchBuy
    from tests.test_engine_lots import Market as LotMarket

    m = LotMarket()
    m.received("LA", 10, grade="B", owner="S2")
    aid = m.seq + 1
    m.step(CreateAuction(kind="dutch", seller="S2", lot_id="LA", qty=10, start_ns=0,
                         start_price_vnd=99_000, step_vnd=100, interval_ns=10**9,
                         floor_vnd=59_000))
    t = one(m.do(DutchBuy(auction_id=aid, account="T1", price_vnd=99_000, qty=10)),
            TradeExecuted)
    m.settle(t.trade_id, "failed")
    lot = m.record("LA")
    assert (lot.state, lot.sold_qty, lot.remaining_qty) == ("received", 0, 10)
    assert m.ex.lot_book.records["LA"].warehouse == 10
    assert m.goods("S2", "QUE-BARK-B") == (0, 0)  # not sellable on a book it was never on
