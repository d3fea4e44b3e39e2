"""English auctions: proxy bids, increments, reserve jump, soft close with a cap, refusals."""

from __future__ import annotations

from engine.auctions.increments import default_tiers, increment
from engine.messages import (
    AuctionClosed,
    AuctionExtended,
    BidAccepted,
    BidPlaced,
    Outbid,
    TradeExecuted,
)
from tests.support import of, one
from tests.test_auctions_support import T0, S, market, public, rejected


def test_increment_table_is_data_with_tiers() -> None:
    assert increment(default_tiers(), 0) == 100
    assert increment(default_tiers(), 9_999) == 100
    assert increment(default_tiers(), 10_000) == 500
    assert increment(default_tiers(), 60_000) == 1_000
    assert increment(default_tiers(), 250_000) == 5_000


def test_proxy_war_price_is_second_max_plus_increment() -> None:
    sim = market()
    aid = sim.create("english")
    ev = sim.bid(aid, "B1", 60_000)
    assert one(ev, BidAccepted).price_vnd == 50_000  # alone: the start price
    assert one(ev, BidPlaced).leading and one(ev, BidPlaced).recipient == "B1"
    assert sim.cash("B1")[1] == 60_000 * 100  # the maximum is held
    ev = sim.bid(aid, "B2", 55_000)  # below B1's max: B1's proxy answers at once
    acc = one(ev, BidAccepted)
    assert acc.price_vnd == 56_000 and acc.min_next_bid_vnd == 57_000
    assert not one(ev, BidPlaced).leading and sim.cash("B2")[1] == 0
    ev = sim.bid(aid, "B2", 62_000)  # takes the lead: price = 60,000 + 1,000
    assert one(ev, BidAccepted).price_vnd == 61_000
    out = one(ev, Outbid)
    assert out.recipient == "B1" and out.released_vnd == 60_000 * 100
    assert sim.cash("B1")[1] == 0 and sim.cash("B2")[1] == 62_000 * 100
    ev = sim.bid(aid, "B3", 100_000)  # price capped by nothing but B2's max + increment
    assert one(ev, BidAccepted).price_vnd == 63_000
    ev = sim.bid(aid, "B1", 99_000)  # B3's proxy: 99,000 + 1,000 = B3's max
    assert one(ev, BidAccepted).price_vnd == 100_000
    ev = sim.tick(T0 + 61 * S)
    trade = one(ev, TradeExecuted)
    assert (trade.buyer, trade.seller, trade.price_vnd, trade.qty) == ("B3", "S1", 100_000, 100)
    assert trade.lots[0].lot_id == "LOT-1" and trade.lots[0].qty == 100
    closed = one(ev, AuctionClosed)
    assert closed.outcome == "sold" and closed.winner == "B3" and closed.trade_ids == [
        trade.trade_id
    ]
    assert sim.cash("B3") == (10_000_000_000, 100_000 * 100)  # the maximum's hold: the price's
    assert sim.goods("S1") == (600, 100)  # the lot is back with the seller, held for the trade
    sim.pay()
    assert sim.cash("B3") == (10_000_000_000 - 100_000 * 100, 0)
    assert sim.goods("B3") == (100, 0)
    assert sim.cash("S1")[0] == 100_000 * 100


def test_equal_maxima_the_earlier_leads() -> None:
    sim = market()
    aid = sim.create("english")
    sim.bid(aid, "B1", 60_000)
    ev = sim.bid(aid, "B2", 60_000)
    assert one(ev, BidAccepted).price_vnd == 60_000
    assert not one(ev, BidPlaced).leading
    assert sim.ex.auctions.auctions[aid].leader == "B1"


def test_reserve_jump_once_a_maximum_reaches_it() -> None:
    sim = market()
    aid = sim.create("english", reserve_vnd=70_000)
    ev = sim.bid(aid, "B1", 65_000)  # below the reserve: proxy pricing stays
    acc = one(ev, BidAccepted)
    assert acc.price_vnd == 50_000 and not acc.reserve_met
    ev = sim.bid(aid, "B2", 66_000)
    assert one(ev, BidAccepted).price_vnd == 66_000 and not one(ev, BidAccepted).reserve_met
    ev = sim.bid(aid, "B3", 80_000)  # 66,000 + 1,000 < reserve: jumps to the reserve
    acc = one(ev, BidAccepted)
    assert acc.price_vnd == 70_000 and acc.reserve_met
    ev = sim.tick(T0 + 60 * S)
    assert one(ev, TradeExecuted).price_vnd == 70_000


def test_leader_raising_to_the_reserve_jumps_the_price_publicly_without_the_max() -> None:
    sim = market()
    aid = sim.create("english", reserve_vnd=70_000)
    sim.bid(aid, "B1", 60_000)
    ev = sim.bid(aid, "B1", 90_000)
    acc = one(ev, BidAccepted)
    assert acc.price_vnd == 70_000 and acc.reserve_met
    assert all(90_000 not in (getattr(e, "price_vnd", None),) for e in public(ev))
    assert sim.cash("B1")[1] == 90_000 * 100


def test_reserve_not_met_is_unsold_and_everything_returns() -> None:
    sim = market()
    aid = sim.create("english", reserve_vnd=70_000)
    assert sim.goods("S1") == (500, 0)  # LOT-1 is in the auction's custody
    sim.bid(aid, "B1", 65_000)
    ev = sim.tick(T0 + 60 * S)
    closed = one(ev, AuctionClosed)
    assert (closed.outcome, closed.reason, closed.unsold_qty) == ("unsold", "reserve_not_met", 100)
    assert not of(ev, TradeExecuted)
    assert sim.cash("B1") == (10_000_000_000, 0)
    assert sim.goods("S1") == (600, 0)


def test_no_bids_is_unsold() -> None:
    sim = market()
    sim.create("english")
    closed = one(sim.tick(T0 + 60 * S), AuctionClosed)
    assert (closed.outcome, closed.reason) == ("unsold", "no_bids")


def test_soft_close_chain_up_to_the_cap() -> None:
    sim = market()
    aid = sim.create("english", extend_ns=10 * S, extension_cap_ns=25 * S)
    sim.bid(aid, "B1", 60_000, ts=T0 + 10 * S)  # outside the window: no extension
    assert sim.ex.auctions.auctions[aid].close_ns == T0 + 60 * S
    ext = one(sim.bid(aid, "B2", 70_000, ts=T0 + 55 * S), AuctionExtended)
    assert ext.close_ns == T0 + 70 * S and ext.extended_by_ns == 10 * S
    assert not of(sim.tick(T0 + 65 * S), AuctionClosed)
    ext = one(sim.bid(aid, "B1", 80_000, ts=T0 + 66 * S), AuctionExtended)
    assert ext.close_ns == T0 + 80 * S
    # a full extension would pass the cap (60 + 25 = 85 s): the close moves to the cap
    ext = one(sim.bid(aid, "B2", 90_000, ts=T0 + 75 * S), AuctionExtended)
    assert ext.close_ns == T0 + 85 * S and ext.extended_by_ns == 5 * S
    assert ext.total_extension_ns == 25 * S
    # at the cap: a new lead no longer extends
    assert not of(sim.bid(aid, "B1", 100_000, ts=T0 + 84 * S), AuctionExtended)
    assert rejected(sim.bid(aid, "B2", 200_000, ts=T0 + 85 * S)) == "auction_closed"
    closed = one(sim.tick(T0 + 85 * S), AuctionClosed)
    assert closed.winner == "B1" and closed.price_vnd == 91_000


def test_raising_ones_own_max_while_leading_does_not_extend() -> None:
    sim = market()
    aid = sim.create("english", extend_ns=10 * S, extension_cap_ns=60 * S)
    sim.bid(aid, "B1", 60_000, ts=T0 + 10 * S)
    ev = sim.bid(aid, "B1", 90_000, ts=T0 + 55 * S)
    assert not of(ev, AuctionExtended) and not public(ev)  # a raise is private
    assert one(ev, BidPlaced).max_price_vnd == 90_000
    # a bid that does not take the lead does not extend either
    assert not of(sim.bid(aid, "B2", 70_000, ts=T0 + 56 * S), AuctionExtended)
    assert sim.ex.auctions.auctions[aid].close_ns == T0 + 60 * S


def test_refusals_change_nothing() -> None:
    sim = market()
    aid = sim.create("english", start=T0 + 5 * S)
    assert rejected(sim.bid(aid, "B1", 60_000)) == "auction_not_open"
    assert rejected(sim.bid(999, "B1", 60_000)) == "unknown_auction"
    sim.tick(T0 + 5 * S)
    sim.bid(aid, "B1", 60_000)
    assert rejected(sim.bid(aid, "B2", 50_500)) == "below_min_bid"  # min next 51,000
    assert rejected(sim.bid(aid, "S1", 90_000)) == "own_lot"
    assert rejected(sim.bid(aid, "B1", 59_000)) == "bid_not_raised"
    assert rejected(sim.bid(aid, "NOBODY", 90_000)) == "insufficient_cash"
    assert rejected(sim.bid(aid, "B2", 200_000_000)) == "insufficient_cash"
    assert rejected(sim.bid(aid, "B2", 0)) == "invalid_price"
    a = sim.ex.auctions.auctions[aid]
    assert (a.leader, a.leader_max_vnd, a.price_vnd, a.bids) == ("B1", 60_000, 50_000, 1)
    assert sim.cash("B2") == (10_000_000_000, 0)
    sim.tick(T0 + 65 * S)
    assert rejected(sim.bid(aid, "B2", 90_000)) == "auction_closed"


def test_create_refusals() -> None:
    from engine.messages import CommandRejected, CreateAuction

    sim = market()

    def refuse(**kw: object) -> str:
        base: dict[str, object] = dict(kind="english", seller="S1", lot_id="LOT-1", qty=100,
                                       start_ns=T0, end_ns=T0 + S, start_price_vnd=1000)
        base.update(kw)
        return one(sim.do(CreateAuction(**base)), CommandRejected).reason  # type: ignore[arg-type]

    assert refuse(lot_id="NOPE") == "unknown_lot"
    assert refuse(seller="S2") == "lot_not_held"
    assert refuse(qty=101) == "insufficient_goods"
    assert refuse(qty=0) == "invalid_qty"
    assert refuse(start_price_vnd=0) == "invalid_price"
    assert refuse(end_ns=T0) == "invalid_end"
    assert refuse(kind="dutch", step_vnd=0) == "invalid_clock"
    assert refuse(kind="dutch", step_vnd=100, interval_ns=S, floor_vnd=60_000) == "invalid_floor"
    assert refuse(start_price_vnd=50_050) == "price_off_tick"
    sim.sell("S1", 550, 90_000)  # the seller's sell orders hold 550 of 600
    assert refuse() == "goods_held"


def test_a_leaders_raise_leaves_the_price_where_it_is() -> None:
    # issue 9.1: B1 leads at 60,000 over B2's 59,500 (price 60,000); B1 raising the maximum
    # must not raise the price B1 pays (the engine used to publish 60,500 and charge it)
    sim = market()
    aid = sim.create("english")
    sim.bid(aid, "B1", 60_000)
    assert one(sim.bid(aid, "B2", 59_500), BidAccepted).price_vnd == 60_000
    ev = sim.bid(aid, "B1", 65_000)
    assert not public(ev)  # a raise is private: no public event, the count unchanged
    assert one(ev, BidPlaced).price_vnd == 60_000
    a = sim.ex.auctions.auctions[aid]
    assert (a.price_vnd, a.bids, a.leader_max_vnd) == (60_000, 2, 65_000)
    closed = one(sim.tick(T0 + 60 * S), AuctionClosed)
    assert (closed.winner, closed.price_vnd) == ("B1", 60_000)
    assert sim.cash("B1") == (10_000_000_000, 60_000 * 100)
    sim.pay()
    assert sim.cash("B1") == (10_000_000_000 - 60_000 * 100, 0)


def test_a_leaders_raise_over_an_equal_maximum_leaves_the_price() -> None:
    sim = market()
    aid = sim.create("english")
    sim.bid(aid, "B1", 80_000)
    assert one(sim.bid(aid, "B2", 80_000), BidAccepted).price_vnd == 80_000
    assert not public(sim.bid(aid, "B1", 90_000))
    # a later bid is priced from the maxima as usual: 85,000 + 1,000
    assert one(sim.bid(aid, "B3", 85_000), BidAccepted).price_vnd == 86_000
    closed = one(sim.tick(T0 + 60 * S), AuctionClosed)
    assert (closed.winner, closed.price_vnd) == ("B1", 86_000)


def test_a_leaders_raise_that_meets_the_reserve_moves_the_price_to_the_reserve_only() -> None:
    sim = market()
    aid = sim.create("english", reserve_vnd=60_200)
    sim.bid(aid, "B1", 60_000)
    assert one(sim.bid(aid, "B2", 59_500), BidAccepted).price_vnd == 60_000
    acc = one(sim.bid(aid, "B1", 65_000), BidAccepted)
    assert (acc.price_vnd, acc.reserve_met, acc.bids) == (60_200, True, 2)  # not 60,500
    closed = one(sim.tick(T0 + 60 * S), AuctionClosed)
    assert closed.price_vnd == 60_200
