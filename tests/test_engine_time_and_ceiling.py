"""Regressions (issue 9): a GTD order never trades or shows after its time, whatever the tick
cadence; no trade, on the book or in a lot auction, carries a seller's cash past the ceiling."""

from __future__ import annotations

import pytest

from engine.accounts import MAX_BALANCE_VND
from engine.exchange import Exchange
from engine.messages import (
    MAX_VND,
    AuctionBidRejected,
    AuctionClosed,
    AuctionCreated,
    BookUpdated,
    CashDeposited,
    CreateAuction,
    Deposit,
    DutchBuy,
    EndCall,
    IndicativePrice,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderRejected,
    PlaceBid,
    PlaceOrder,
    StartCall,
    TradeExecuted,
)
from engine.naive_book import NaiveBook
from tests.support import SYMBOL, Sim, market, of, one

S = 1_000_000_000


@pytest.fixture(params=["fast", "naive"])
def sim(request: pytest.FixtureRequest) -> Sim:
    """Every scenario runs on the fast book and on the naive reference book."""
    return market(Sim(book_factory=NaiveBook) if request.param == "naive" else Sim())


def oid(events: list) -> int:
    return one(events, OrderAccepted).order_id


# -- GTD: time is the command's, not the tick's ----------------------------------------------------


def test_a_gtd_order_past_its_time_never_trades_even_before_the_next_tick(sim: Sim) -> None:
    t0 = sim.ts
    bid = oid(sim.buy("B1", 10, 61000, tif="gtd", expire_at_ns=t0 + 10))
    ev = sim.do(sell_cmd(sim, "S1", 10, 61000), ts=t0 + 20)  # no tick in between
    assert not of(ev, TradeExecuted)
    assert type(ev[0]) is OrderAccepted  # the command's own answer stays first
    expired = one(ev, OrderExpired)
    assert (expired.order_id, expired.seq, expired.ts_ns) == (bid, sim.seq, t0 + 20)
    assert one(ev, BookUpdated).bids == [(61000, 0)]  # one update per book per command
    assert sim.depth() == ([], [(61000, 10)])
    assert sim.status(bid) == "expired" and sim.cash("B1")[1] == 0
    assert sim.tick(t0 + 30) == []  # nothing left for the tick


def test_an_order_at_its_expiry_time_is_gone_from_queries_after_any_command(sim: Sim) -> None:
    t0 = sim.ts
    ask = oid(sim.sell("S1", 5, 61500, tif="gtd", expire_at_ns=t0 + 10))
    assert sim.depth() == ([], [(61500, 5)])
    ev = sim.do(Deposit(account="B2", amount_vnd=1), ts=t0 + 10)
    assert [type(e) for e in ev] == [CashDeposited, OrderExpired, BookUpdated]
    assert one(ev, BookUpdated).asks == [(61500, 0)]
    assert sim.depth() == ([], [])
    assert sim.ex.best_bid_ask(SYMBOL) == (None, None)
    assert sim.goods("S1") == (2000, 0) and sim.status(ask) == "expired"
    # a post-only buy at that price no longer "would cross" a ghost
    assert of(sim.buy("B1", 5, 61500, post_only=True), OrderAccepted)


def test_a_refused_command_still_expires_what_its_time_has_passed(sim: Sim) -> None:
    t0 = sim.ts
    bid = oid(sim.buy("B1", 10, 61000, tif="gtd", expire_at_ns=t0 + 10))
    ev = sim.do(sell_cmd(sim, "S1", 0, 61000), ts=t0 + 11)
    assert type(ev[0]) is OrderRejected and one(ev, OrderExpired).order_id == bid
    assert sim.depth() == ([], [])


def test_the_call_uncross_never_counts_a_book_order_past_its_time() -> None:
    sim = market()
    t0 = sim.ts
    bid = oid(sim.buy("B1", 10, 61000, tif="gtd", expire_at_ns=t0 + 10))
    sim.do(StartCall(symbol=SYMBOL))
    sim.sell("S1", 10, 61000)
    ev = sim.do(EndCall(symbol=SYMBOL), ts=t0 + 20)
    assert not of(ev, TradeExecuted)
    assert one(ev, OrderExpired).order_id == bid
    assert sim.depth() == ([], [(61000, 10)])


@pytest.mark.parametrize("offset", [0, -1])
def test_a_new_gtd_order_already_past_its_time_is_refused(sim: Sim, offset: int) -> None:
    ev = sim.buy("B1", 10, 61000, tif="gtd", expire_at_ns=sim.ts + offset)
    assert one(ev, OrderRejected).reason == "expire_at_in_past"


def test_expiry_by_command_time_replays_byte_exact() -> None:
    live = market()
    t0 = live.ts
    for i in range(5):
        live.buy("B1", 10, 60000 + 100 * i, tif="gtd", expire_at_ns=t0 + 10 * (i + 1))
    snap = live.ex.snapshot()
    last = sell_cmd(live, "S1", 30, 60000)
    ev = live.do(last, ts=t0 + 25)  # two bids expired, three trade
    assert sum(t.qty for t in of(ev, TradeExecuted)) == 30
    assert len(of(ev, OrderExpired)) == 2
    restored = Exchange.restore(snap)
    assert restored.apply(last) == ev
    assert restored.state_hash() == live.ex.state_hash()
    assert Exchange.restore(live.ex.snapshot()).state_hash() == live.ex.state_hash()


def sell_cmd(sim: Sim, account: str, qty: int, price: int) -> PlaceOrder:
    return PlaceOrder(account=account, client_order_id=f"s-{sim.seq}", symbol=SYMBOL, side="sell",
                      qty=qty, price_vnd=price)


# -- the cash ceiling ----------------------------------------------------------------------------


def to_ceiling(sim: Sim, account: str, below: int = 0) -> None:
    """Deposit until ``account`` holds ``MAX_BALANCE_VND - below``."""
    check, sim.check = sim.check, False
    left = MAX_BALANCE_VND - below
    while left:
        amount = min(left, MAX_VND)
        sim.fund(account, amount)
        left -= amount
    sim.check = check
    sim.ex._check()


def test_a_resting_sell_whose_seller_is_at_the_ceiling_is_cancelled_not_traded(sim: Sim) -> None:
    to_ceiling(sim, "S1", below=61500 * 5)  # room for 5 units at 61,500, not for 10
    s1 = oid(sim.sell("S1", 10, 61500))
    s2 = oid(sim.sell("S2", 10, 61600))
    ev = sim.buy("B1", 10, 61600)
    cancelled = one(ev, OrderCancelled)
    assert (cancelled.order_id, cancelled.reason, cancelled.leaves_qty) == (s1, "balance_limit", 10)
    trades = [(t.seller, t.price_vnd, t.qty, t.maker_order_id) for t in of(ev, TradeExecuted)]
    assert trades == [("S2", 61600, 10, s2)]
    assert sim.cash("S1") == (MAX_BALANCE_VND - 61500 * 5, 0)
    assert sim.goods("S1") == (2000, 0)  # the cancelled sell's goods are free again
    assert sim.depth() == ([], [])
    sim.ex.snapshot()  # every number still fits in 64 bits


def test_a_sell_that_would_carry_its_seller_past_the_ceiling_stops(sim: Sim) -> None:
    to_ceiling(sim, "S1")
    b1 = oid(sim.buy("B1", 10, 61500))
    ev = sim.sell("S1", 10, 61500)
    assert not of(ev, TradeExecuted)
    assert one(ev, OrderCancelled).reason == "balance_limit"
    assert sim.cash("S1") == (MAX_BALANCE_VND, 0) and sim.goods("S1") == (2000, 0)
    assert sim.status(b1) == "new" and sim.depth() == ([(61500, 10)], [])


def test_a_fok_buy_that_only_a_blocked_seller_could_fill_changes_nothing(sim: Sim) -> None:
    to_ceiling(sim, "S1")
    s1 = oid(sim.sell("S1", 10, 61500))
    ev = sim.buy("B1", 10, 61500, tif="fok")
    assert one(ev, OrderCancelled).reason == "fok" and not of(ev, TradeExecuted)
    assert sim.status(s1) == "new" and sim.depth() == ([], [(61500, 10)])
    assert sim.cash("B1") == (1_000_000_000, 0)


def test_three_rich_buyers_cannot_carry_one_seller_past_the_ceiling() -> None:
    # the reported case: a seller reached 2,999,999,999,999,999,999 VND, then snapshot() and
    # state_hash() raised OverflowError
    sim = Sim()
    sim.instrument(tick=1)
    sim.lot("L1", "S", 3000)
    for b in ("B1", "B2", "B3"):
        to_ceiling(sim, b)
    sim.sell("S", 3000, MAX_VND)
    for b in ("B1", "B2", "B3"):
        sim.buy(b, 1000, MAX_VND)  # 10^18 VND each
    # the first buy, and no more: a sale waiting for payment counts as the seller's already
    assert len(of(sim.log, TradeExecuted)) == 1
    assert one(sim.log, OrderCancelled).reason == "balance_limit"
    assert sim.cash("S") == (0, 0)
    sim.pay()
    assert sim.cash("S") == (MAX_BALANCE_VND, 0)
    sim.ex.state_hash()


def test_lot_auctions_never_carry_the_seller_past_the_ceiling() -> None:
    sim = Sim()
    sim.instrument()
    sim.lot("LD", "S1", 10)
    sim.lot("LE", "S1", 10)
    sim.fund("B1", 10**10)
    to_ceiling(sim, "S1")
    aid = one(sim.do(CreateAuction(kind="dutch", seller="S1", lot_id="LD", qty=10, start_ns=0,
                                   start_price_vnd=9000, step_vnd=100, interval_ns=S,
                                   floor_vnd=1000)), AuctionCreated).auction_id
    ev = sim.do(DutchBuy(auction_id=aid, account="B1", price_vnd=9000, qty=10))
    assert one(ev, AuctionBidRejected).reason == "balance_limit"
    t0 = sim.ts
    eng = one(sim.do(CreateAuction(kind="english", seller="S1", lot_id="LE", qty=10, start_ns=0,
                                   end_ns=t0 + S, start_price_vnd=1000)), AuctionCreated)
    sim.do(PlaceBid(auction_id=eng.auction_id, account="B1", price_vnd=2000))
    assert sim.cash("B1")[1] == 20_000
    ev = sim.tick(t0 + S)
    closed = one(ev, AuctionClosed)
    assert (closed.outcome, closed.reason) == ("unsold", "balance_limit")
    assert not of(ev, TradeExecuted)
    assert sim.cash("B1") == (10**10, 0) and sim.cash("S1") == (MAX_BALANCE_VND, 0)
    assert sim.goods("S1") == (10, 0)  # the english lot is back; the dutch one is still on


# -- the call auction keeps both rules too (issue 10 review) ---------------------------------------


def test_the_call_uncross_cancels_a_sell_that_would_carry_its_seller_past_the_ceiling() -> None:
    sim = market()
    to_ceiling(sim, "S1", below=61000 * 5)  # room for 5 units at 61,000, not for 10
    sim.do(StartCall(symbol=SYMBOL))
    s1 = oid(sim.sell("S1", 10, 61000))  # first in time: the uncross would fill it first
    s2 = oid(sim.sell("S2", 10, 61000))
    sim.buy("B1", 10, 61000)
    ev = sim.do(EndCall(symbol=SYMBOL))
    cancelled = one(ev, OrderCancelled)
    assert (cancelled.order_id, cancelled.reason, cancelled.leaves_qty) == (s1, "balance_limit", 10)
    trades = [(t.seller, t.price_vnd, t.qty) for t in of(ev, TradeExecuted)]
    assert trades == [("S2", 61000, 10)]
    assert sim.status(s2) == "filled"
    assert sim.cash("S1") == (MAX_BALANCE_VND - 61000 * 5, 0)
    assert sim.goods("S1") == (2000, 0)  # the cancelled sell's goods are free again
    sim.ex.snapshot()  # every number still fits in 64 bits


def test_a_call_order_past_its_time_never_counts_in_the_indicative_price() -> None:
    sim = market()
    t0 = sim.ts
    sim.do(StartCall(symbol=SYMBOL))
    bid = oid(sim.buy("B1", 10, 61000, tif="gtd", expire_at_ns=t0 + 10))
    ev = sim.do(sell_cmd(sim, "S1", 10, 61000), ts=t0 + 20)  # no tick since its expiry
    assert one(ev, OrderExpired).order_id == bid
    # without the expired buy nothing crosses: the indicative price stays (none, 0), so no
    # IndicativePrice is published (before the fix it showed 61,000 for 10)
    assert not of(ev, IndicativePrice)
    assert not of(sim.do(EndCall(symbol=SYMBOL)), TradeExecuted)
    assert sim.cash("B1")[1] == 0  # its hold is released


def test_a_sealed_auction_the_ceiling_blocks_opens_its_bids_without_a_winner() -> None:
    # The bids are opened at the close; when the seller cannot take the money the sale does not
    # happen, so the opened bids must name no winner (as the closed auction does).
    from engine.messages import SealedBidsOpened

    sim = Sim()
    sim.instrument()
    sim.lot("LS", "S1", 10)
    sim.fund("B1", 10**10)
    to_ceiling(sim, "S1")
    t0 = sim.ts
    aid = one(sim.do(CreateAuction(kind="sealed", seller="S1", lot_id="LS", qty=10, start_ns=0,
                                   end_ns=t0 + S, start_price_vnd=1000)), AuctionCreated).auction_id
    sim.do(PlaceBid(auction_id=aid, account="B1", price_vnd=2000))
    ev = sim.tick(t0 + S)
    assert one(ev, SealedBidsOpened).winning_bidder is None
    closed = one(ev, AuctionClosed)
    assert (closed.outcome, closed.reason, closed.winner) == ("unsold", "balance_limit", None)
    assert sim.cash("B1") == (10**10, 0)
