"""Sealed bid (first and second price) and the Dutch clock."""

from __future__ import annotations

import pytest

from engine.messages import (
    AuctionClosed,
    BidPlaced,
    ClockTicked,
    OpenedBid,
    SealedBidsOpened,
    TradeExecuted,
)
from tests.support import of, one
from tests.test_auctions_support import T0, S, market, public, rejected

# -- sealed --------------------------------------------------------------------------------------


def sealed_with(bids: list[tuple[str, int]], pricing: str, reserve: int | None = None,
                ) -> tuple[AuctionClosed, list[TradeExecuted], object]:
    sim = market()
    aid = sim.create("sealed", pricing=pricing, reserve_vnd=reserve)
    for account, price in bids:
        ev = sim.bid(aid, account, price)
        assert not public(ev), ev  # nothing about a sealed bid reaches the public stream
        assert one(ev, BidPlaced).recipient == account
    ev = sim.tick(T0 + 60 * S)
    won = {t.buyer: t.price_vnd * t.qty for t in of(ev, TradeExecuted)}
    for b in ("B1", "B2", "B3", "B4"):
        # every hold released at the close but the winner's trade's, held until paid
        assert sim.cash(b)[1] == won.get(b, 0)
    sim.pay()
    return one(ev, AuctionClosed), of(ev, TradeExecuted), sim


def test_first_price_winner_pays_their_bid() -> None:
    closed, trades, _ = sealed_with([("B1", 60_000), ("B2", 70_000), ("B3", 65_000)], "first")
    assert (closed.winner, closed.price_vnd) == ("B2", 70_000)
    assert trades[0].price_vnd == 70_000 and trades[0].buyer == "B2"


def test_second_price_pays_the_second_highest_bid() -> None:
    closed, trades, sim = sealed_with([("B1", 60_000), ("B2", 70_000), ("B3", 65_000)], "second")
    assert (closed.winner, closed.price_vnd) == ("B2", 65_000)
    assert sim.cash("B2")[0] == 10_000_000_000 - 65_000 * 100  # type: ignore[attr-defined]


def test_second_price_with_reserve_above_the_second_bid_pays_the_reserve() -> None:
    closed, _, _ = sealed_with([("B1", 60_000), ("B2", 80_000)], "second", reserve=70_000)
    assert (closed.winner, closed.price_vnd) == ("B2", 70_000)


def test_second_price_with_reserve_below_the_second_bid_pays_the_second() -> None:
    closed, _, _ = sealed_with([("B1", 75_000), ("B2", 80_000)], "second", reserve=70_000)
    assert closed.price_vnd == 75_000


def test_second_price_single_bid_no_reserve_pays_the_start_price() -> None:
    closed, _, _ = sealed_with([("B1", 75_000)], "second")
    assert (closed.winner, closed.price_vnd) == ("B1", 50_000)


def test_second_price_single_bid_with_reserve_pays_the_reserve() -> None:
    closed, _, _ = sealed_with([("B1", 75_000)], "second", reserve=60_000)
    assert closed.price_vnd == 60_000


@pytest.mark.parametrize("pricing", ["first", "second"])
def test_reserve_not_met_is_unsold(pricing: str) -> None:
    closed, trades, sim = sealed_with([("B1", 65_000)], pricing, reserve=70_000)
    assert (closed.outcome, closed.reason, trades) == ("unsold", "reserve_not_met", [])
    assert sim.goods("S1") == (600, 0)  # type: ignore[attr-defined]


def test_ties_go_to_the_earliest_and_a_raise_takes_the_time_of_the_raise() -> None:
    closed, _, _ = sealed_with([("B1", 70_000), ("B2", 70_000)], "first")
    assert closed.winner == "B1"
    closed, _, _ = sealed_with([("B1", 60_000), ("B2", 70_000), ("B1", 70_000)], "first")
    assert closed.winner == "B2"


def test_sealed_bid_may_be_raised_never_lowered() -> None:
    sim = market()
    aid = sim.create("sealed")
    sim.bid(aid, "B1", 60_000)
    assert rejected(sim.bid(aid, "B1", 60_000)) == "bid_not_raised"
    assert rejected(sim.bid(aid, "B1", 55_000)) == "bid_not_raised"
    assert rejected(sim.bid(aid, "B2", 49_000)) == "below_min_bid"
    assert rejected(sim.bid(aid, "S1", 99_000)) == "own_lot"
    sim.bid(aid, "B1", 61_000)
    assert sim.cash("B1")[1] == 61_000 * 100


def test_the_close_opens_every_sealed_bid_under_a_pseudonym() -> None:
    # issue 9.4: after the close, all bids are published (amounts, pseudonymous bidders, the
    # winner), as a public tender opens its bids; pseudonyms follow the order of first bids
    sim = market()
    aid = sim.create("sealed", pricing="second")
    sim.bid(aid, "B3", 60_000)
    sim.bid(aid, "B1", 70_000)
    sim.bid(aid, "B2", 65_000)
    sim.bid(aid, "B3", 72_000)  # a raise keeps the bidder's pseudonym
    ev = sim.tick(T0 + 60 * S)
    opened = one(ev, SealedBidsOpened)
    assert opened.bids == [OpenedBid("bidder 1", 72_000), OpenedBid("bidder 2", 70_000),
                           OpenedBid("bidder 3", 65_000)]
    assert opened.winning_bidder == "bidder 1" and one(ev, AuctionClosed).winner == "B3"
    assert ev.index(opened) < ev.index(one(ev, AuctionClosed))
    assert not any(b in repr(opened) for b in ("B1", "B2", "B3"))  # no account id
    unsold = sim.create("sealed", lot="LOT-2", reserve_vnd=90_000, start=T0 + 60 * S,
                        end=T0 + 120 * S)
    sim.bid(unsold, "B4", 80_000)
    opened = one(sim.tick(T0 + 120 * S), SealedBidsOpened)
    assert (opened.bids, opened.winning_bidder) == ([OpenedBid("bidder 1", 80_000)], None)


# -- dutch ---------------------------------------------------------------------------------------

CLOCK = dict(price=60_000, step_vnd=1_000, interval_ns=S, floor_vnd=55_000, min_qty=20,
             restart_steps=2)


def test_clock_falls_one_step_per_interval() -> None:
    sim = market()
    aid = sim.create("dutch", **CLOCK)  # type: ignore[arg-type]
    assert sim.ex.auctions.auctions[aid].clock_vnd == 60_000
    assert not of(sim.tick(T0 + S // 2), ClockTicked)
    t = one(sim.tick(T0 + S), ClockTicked)
    assert (t.price_vnd, t.next_step_ns, t.remaining_qty) == (59_000, T0 + 2 * S, 100)
    t = one(sim.tick(T0 + 3 * S + 1), ClockTicked)  # two steps due at once
    assert t.price_vnd == 57_000


def test_partial_purchase_restarts_above_the_price_paid() -> None:
    sim = market()
    aid = sim.create("dutch", **CLOCK)  # type: ignore[arg-type]
    sim.tick(T0 + 3 * S)  # 57,000
    ev = sim.dutch_buy(aid, "B1", 57_000, 30, ts=T0 + 3 * S)
    trade = one(ev, TradeExecuted)
    assert (trade.buyer, trade.seller, trade.price_vnd, trade.qty) == ("B1", "S1", 57_000, 30)
    assert trade.lots[0].lot_id == "LOT-1" and trade.maker_leaves_qty == 70
    t = one(ev, ClockTicked)
    assert t.restarted and t.price_vnd == 59_000 and t.next_step_ns == T0 + 4 * S
    # a second stop on the same tick names the old price: stale, nothing changes
    assert rejected(sim.dutch_buy(aid, "B2", 57_000, 30)) == "stale_price"
    assert sim.cash("B2") == (10_000_000_000, 0)
    assert rejected(sim.dutch_buy(aid, "B2", 59_000, 10)) == "below_min_qty"
    assert rejected(sim.dutch_buy(aid, "B2", 59_000, 80)) == "qty_unavailable"
    assert rejected(sim.dutch_buy(aid, "S1", 59_000, 20)) == "own_lot"
    sim.dutch_buy(aid, "B2", 59_000, 60)
    # 10 left, below the minimum of 20: it can be bought whole, not in part
    t = sim.ex.auctions.auctions[aid]
    assert t.remaining == 10
    assert rejected(sim.dutch_buy(aid, "B3", t.clock_vnd, 5)) == "below_min_qty"
    ev = sim.dutch_buy(aid, "B3", t.clock_vnd, 10)
    closed = one(ev, AuctionClosed)
    assert (closed.outcome, closed.reason, closed.sold_qty) == ("sold", "sold_out", 100)
    assert len(closed.trade_ids) == 3
    assert rejected(sim.dutch_buy(aid, "B4", t.clock_vnd, 10)) == "lot_gone"
    sim.pay()
    assert sim.goods("B1") == (30, 0) and sim.goods("B2") == (60, 0) and sim.goods("B3") == (10, 0)


def test_restart_never_above_the_start_price() -> None:
    sim = market()
    aid = sim.create("dutch", **CLOCK)  # type: ignore[arg-type]
    ev = sim.dutch_buy(aid, "B1", 60_000, 20)
    assert one(ev, ClockTicked).price_vnd == 60_000


def test_floor_can_be_bought_then_the_remainder_is_withdrawn() -> None:
    sim = market()
    aid = sim.create("dutch", **CLOCK)  # type: ignore[arg-type]
    assert one(sim.tick(T0 + 5 * S), ClockTicked).price_vnd == 55_000  # the floor
    sim.dutch_buy(aid, "B1", 55_000, 40)  # restarts at 57,000
    assert one(sim.tick(T0 + 6 * S), ClockTicked).price_vnd == 56_000
    assert one(sim.tick(T0 + 7 * S), ClockTicked).price_vnd == 55_000
    closed = one(sim.tick(T0 + 8 * S), AuctionClosed)
    assert (closed.outcome, closed.reason, closed.sold_qty, closed.unsold_qty) == (
        "partly_sold", "floor_reached", 40, 60)
    assert sim.goods("S1") == (600, 40)
    sim.pay()
    assert sim.goods("S1") == (560, 0)


def test_clock_jumping_past_the_floor_in_one_tick_withdraws() -> None:
    sim = market()
    sim.create("dutch", **CLOCK)  # type: ignore[arg-type]
    closed = one(sim.tick(T0 + 60 * S), AuctionClosed)
    assert (closed.outcome, closed.unsold_qty) == ("unsold", 100)


def test_dutch_buy_needs_cash_and_a_dutch_auction() -> None:
    sim = market()
    aid = sim.create("dutch", **CLOCK)  # type: ignore[arg-type]
    assert rejected(sim.dutch_buy(aid, "POOR", 60_000, 20)) == "insufficient_cash"
    assert rejected(sim.bid(aid, "B1", 60_000)) == "wrong_kind"
    eid = sim.create("english", lot="LOT-2")
    assert rejected(sim.dutch_buy(eid, "B1", 60_000, 20)) == "wrong_kind"


# -- issue 9.2 / 9.3: the clock's grid and its time ------------------------------------------------


def test_a_floor_off_the_step_grid_withdraws_at_the_step_that_would_pass_it() -> None:
    # 60,000 falling by 1,000: the grid is 56,000, 55,000, ...; a floor of 55,500 is not on
    # it. The clock never shows a half step: after 56,000 the next step passes the floor.
    sim = market()
    aid = sim.create("dutch", **{**CLOCK, "floor_vnd": 55_500})  # type: ignore[arg-type]
    assert one(sim.tick(T0 + 4 * S), ClockTicked).price_vnd == 56_000
    assert rejected(sim.dutch_buy(aid, "B1", 55_500, 20, ts=T0 + 5 * S)) == "stale_price"
    ev = sim.tick(T0 + 5 * S)
    assert not of(ev, ClockTicked) and not of(ev, TradeExecuted)
    closed = one(ev, AuctionClosed)
    assert (closed.outcome, closed.reason, closed.unsold_qty) == ("unsold", "floor_reached", 100)


def test_a_scheduled_clock_starts_at_its_start_time_not_at_the_first_tick() -> None:
    sim = market()
    aid = sim.create("dutch", start=T0 + 10 * S, **CLOCK)  # type: ignore[arg-type]
    ev = sim.tick(T0 + 12 * S + S // 2)  # the first tick comes 2.5 s after the start
    t = one(ev, ClockTicked)
    assert (t.price_vnd, t.next_step_ns) == (58_000, T0 + 13 * S)
    assert rejected(sim.dutch_buy(aid, "B1", 60_000, 20)) == "stale_price"
    # a first tick after the floor's interval has passed opens and withdraws at once
    late = sim.create("dutch", lot="LOT-2", start=T0 + 20 * S, **CLOCK)  # type: ignore[arg-type]
    ev = sim.tick(T0 + 26 * S)
    closed = [e for e in of(ev, AuctionClosed) if e.auction_id == late]
    assert len(closed) == 1 and closed[0].reason == "floor_reached"


START = T0 + S // 3  # between ticks of either cadence below


def clock_prices(tick_every_ns: int, until_ns: int) -> dict[int, int]:
    """Run one clock starting at START with ticks every ``tick_every_ns``; the price shown at
    each tick from the start on."""
    sim = market()
    aid = sim.create("dutch", start=START, **{**CLOCK, "floor_vnd": 40_000})  # type: ignore[arg-type]
    shown = {}
    t = T0
    while t <= until_ns:
        sim.tick(t)
        if t >= START:
            shown[t] = sim.ex.auctions.auctions[aid].clock_vnd
        t += tick_every_ns
    return shown


def test_the_clock_price_is_a_function_of_time_whatever_the_tick_cadence() -> None:
    fast = clock_prices(S // 4, T0 + 12 * S)
    slow = clock_prices(7 * S // 10, T0 + 12 * S)
    for shown in (fast, slow):
        for t, price in shown.items():
            assert price == 60_000 - (t - START) // S * 1_000, (t, price)


def test_a_buy_between_ticks_pays_the_price_the_clock_shows_then_even_the_floor() -> None:
    # one tick at T0 + 1 s and then none: the clock keeps falling with time, so a buy at
    # T0 + 5.5 s that names the floor (shown from 5 s to 6 s) buys; the old price is stale
    sim = market()
    aid = sim.create("dutch", **CLOCK)  # type: ignore[arg-type]
    assert one(sim.tick(T0 + S), ClockTicked).price_vnd == 59_000
    at = T0 + 5 * S + S // 2
    assert rejected(sim.dutch_buy(aid, "B1", 59_000, 20, ts=at)) == "stale_price"
    ev = sim.dutch_buy(aid, "B1", 55_000, 20, ts=at)
    assert one(ev, TradeExecuted).price_vnd == 55_000
    # the restart is a function of the restart time: 2 steps above the price paid, a full
    # interval from the buy, then a step per interval
    t = one(ev, ClockTicked)
    assert (t.price_vnd, t.next_step_ns, t.restarted) == (57_000, at + S, True)
    assert one(sim.tick(at + 2 * S + S // 10), ClockTicked).price_vnd == 55_000
    closed = one(sim.tick(at + 3 * S), AuctionClosed)
    assert (closed.reason, closed.sold_qty) == ("floor_reached", 20)
