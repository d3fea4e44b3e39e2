"""Regressions from the engine review: call-auction and Dutch-clock edge cases."""

from __future__ import annotations

from engine.messages import (
    AuctionBidRejected,
    AuctionCreated,
    BidAccepted,
    BookUpdated,
    CancelOrder,
    CancelRejected,
    CreateAuction,
    DutchBuy,
    EndCall,
    HaltInstrument,
    IndicativePrice,
    OrderAccepted,
    OrderExpired,
    OrdersPurged,
    PlaceBid,
    PlaceOrder,
    PurgeOrders,
    ResumeInstrument,
    StartCall,
    TradeExecuted,
)
from tests.support import SYMBOL, Sim, of, one

S = 1_000_000_000


def test_uncross_remainders_trade_on_so_the_book_never_rests_crossed() -> None:
    # A cash-capped market buy takes the volume at the call price (1000) ahead of B's better
    # limit bid at 2000, which is left over; S2's ask at 2000 did not execute in the call.
    # Continuous trading starts with the remainders, so B meets S2 at once.
    sim = Sim()
    sim.instrument()
    for a in ("M", "B"):
        sim.fund(a, 10**8)
    sim.lot("L1", "S1", 100)
    sim.lot("L2", "S2", 100)
    sim.do(StartCall(symbol=SYMBOL))
    sim.do(PlaceOrder(account="M", client_order_id="m", symbol=SYMBOL, side="buy",
                      order_type="market", qty=10, cash_cap_vnd=10_000))
    sim.buy("B", 1, 2000)
    sim.sell("S1", 10, 1000)
    sim.sell("S2", 1, 2000)
    ev = sim.do(EndCall(symbol=SYMBOL))  # Sim checks every invariant, no crossed book included
    trades = [(t.buyer, t.seller, t.price_vnd, t.qty) for t in of(ev, TradeExecuted)]
    assert trades == [("M", "S1", 1000, 10), ("B", "S2", 2000, 1)]
    assert sim.depth() == ([], [])


def test_a_lot_auction_trade_moves_no_reference_price_and_a_refused_cancel_changes_nothing() -> None:
    sim = Sim()
    sim.instrument(ref_price_vnd=60000, band_bps=1000)
    sim.fund("B1", 10**10)
    sim.fund("B2", 10**10)
    sim.lot("L1", "S1", 1000)
    sim.lot("LA", "S2", 10)
    sim.do(StartCall(symbol=SYMBOL))
    sim.buy("B1", 100, 61000)
    ev = sim.sell("S1", 100, 59000)
    assert of(ev, IndicativePrice)[-1].price_vnd == 61000
    sell_id = one(ev, OrderAccepted).order_id
    created = sim.do(CreateAuction(kind="dutch", seller="S2", lot_id="LA", qty=10, start_ns=0,
                                   start_price_vnd=99000, step_vnd=100, interval_ns=S,
                                   floor_vnd=59000))
    aid = one(created, AuctionCreated).auction_id
    ev = sim.do(DutchBuy(auction_id=aid, account="B2", price_vnd=99000, qty=10))
    assert one(ev, TradeExecuted).price_vnd == 99000  # a whole-lot price, far off the book
    assert not of(ev, IndicativePrice)
    assert sim.ex.instruments[SYMBOL].reference_price() == 60000  # band and call unmoved
    refused = sim.do(CancelOrder(account="B2", order_id=sell_id))
    assert [type(e) for e in refused] == [CancelRejected]


def test_a_call_order_past_its_time_expires_before_the_uncross() -> None:
    sim = Sim()
    sim.instrument()
    sim.fund("B", 10**8)
    sim.lot("L1", "S", 100)
    t0 = sim.ts
    sim.do(StartCall(symbol=SYMBOL))
    sim.buy("B", 10, 1000, tif="gtd", expire_at_ns=t0 + 5)
    sim.sell("S", 5, 1000)
    ev = sim.do(EndCall(symbol=SYMBOL), ts=t0 + 10)  # no tick since the buy's expiry
    assert not of(ev, TradeExecuted)
    assert one(ev, OrderExpired).leaves_qty == 10
    assert sim.depth() == ([], [(1000, 5)])


def test_a_dutch_buy_stamped_after_the_next_step_is_stale() -> None:
    sim = Sim()
    sim.instrument()
    sim.fund("B", 10**8)
    sim.lot("L1", "S", 100)
    t0 = sim.ts
    created = sim.do(CreateAuction(kind="dutch", seller="S", lot_id="L1", qty=100, start_ns=0,
                                   start_price_vnd=1000, step_vnd=100, interval_ns=S,
                                   floor_vnd=1000))
    aid = one(created, AuctionCreated).auction_id
    # floor == start: the step at t0 + 1 s withdraws the lot; an hour later, without a tick,
    # a buy at the old clock price must not trade
    ev = sim.do(DutchBuy(auction_id=aid, account="B", price_vnd=1000, qty=100), ts=t0 + 3600 * S)
    assert one(ev, AuctionBidRejected).reason == "stale_price"
    assert sim.cash("B") == (10**8, 0)


def test_one_book_update_per_book_on_a_tick_that_expires_and_uncrosses() -> None:
    sim = Sim()
    sim.instrument()
    sim.fund("B", 10**8)
    sim.lot("L1", "S", 100)
    t0 = sim.ts
    sim.buy("B", 5, 900, tif="gtd", expire_at_ns=t0 + 10)  # rests in the book
    sim.do(StartCall(symbol=SYMBOL, close_at_ns=t0 + 10))
    sim.buy("B", 5, 1000)
    sim.sell("S", 10, 1000)
    ev = sim.tick(t0 + 10)
    update = one(ev, BookUpdated)
    assert update.bids == [(900, 0)] and update.asks == [(1000, 5)]


def test_purge_forgets_closed_auctions_and_keeps_live_ones() -> None:
    sim = Sim()
    sim.instrument()
    sim.fund("B", 10**9)
    sim.lot("L1", "S", 100)
    sim.lot("L2", "S", 100)
    t0 = sim.ts
    closed = one(sim.do(CreateAuction(kind="english", seller="S", lot_id="L1", qty=100,
                                      start_ns=0, end_ns=t0 + 10, start_price_vnd=1000)),
                 AuctionCreated).auction_id
    sim.tick(t0 + 20)  # closes unsold
    live = one(sim.do(CreateAuction(kind="english", seller="S", lot_id="L2", qty=100,
                                    start_ns=0, end_ns=t0 + 10**12, start_price_vnd=1000)),
               AuctionCreated).auction_id
    purged = one(sim.do(PurgeOrders(upto_order_id=sim.seq)), OrdersPurged)
    assert purged.auctions == 1
    assert closed not in sim.ex.auctions.auctions and live in sim.ex.auctions.auctions
    refused = sim.do(PlaceBid(auction_id=closed, account="B", price_vnd=2000))
    assert one(refused, AuctionBidRejected).reason == "unknown_auction"


def test_bids_keep_to_the_tick_and_stop_while_the_instrument_is_halted() -> None:
    sim = Sim()
    sim.instrument()
    sim.fund("B", 10**9)
    sim.lot("L1", "S", 100)
    t0 = sim.ts
    aid = one(sim.do(CreateAuction(kind="english", seller="S", lot_id="L1", qty=100,
                                   start_ns=0, end_ns=t0 + 10**12, start_price_vnd=1000)),
              AuctionCreated).auction_id
    off = sim.do(PlaceBid(auction_id=aid, account="B", price_vnd=1050))
    assert one(off, AuctionBidRejected).reason == "price_off_tick"
    sim.do(HaltInstrument(symbol=SYMBOL))
    halted = sim.do(PlaceBid(auction_id=aid, account="B", price_vnd=1100))
    assert one(halted, AuctionBidRejected).reason == "instrument_halted"
    sim.do(ResumeInstrument(symbol=SYMBOL))
    assert of(sim.do(PlaceBid(auction_id=aid, account="B", price_vnd=1100)), BidAccepted)
