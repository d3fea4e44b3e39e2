"""Property tests over random auction streams (random delivery-versus-payment steps among
them): cash and goods conserved after every command,
hidden maxima and sealed bids never in public events before the close, and replay (from the
start, and from a snapshot) reproducing the same events and state."""

from __future__ import annotations

from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.exchange import Exchange
from engine.messages import (
    AuctionCancelled,
    AuctionClosed,
    AuctionCreated,
    AuctionOpened,
    CancelAuction,
    Command,
    CreateAuction,
    DutchBuy,
    EndCall,
    Event,
    PlaceBid,
    PlaceOrder,
    SealedBidsOpened,
    SetTradeSettlement,
    StartCall,
    Tick,
    TradeExecuted,
    command_msgpack_decoder,
)
from tests.test_auctions_support import S, market

BIDDERS = ["B1", "B2", "B3", "B4"]
LOTS = [("LOT-1", "S1", 100), ("LOT-2", "S1", 500), ("LOT-3", "S2", 1000)]

step_st = st.tuples(st.integers(0, 9), st.integers(0, 3), st.integers(0, 400), st.integers(0, 9))


def build(kind_i: int, a: int, b: int, c: int, sim: Any, created: list[int]) -> Command:
    """Turn four small integers into one command (deterministically)."""
    if kind_i <= 1 or not created:
        lot, seller, qty = LOTS[a % 3]
        kind = ["english", "sealed", "dutch"][c % 3]
        return CreateAuction(
            kind=kind, seller=seller, lot_id=lot, qty=max(10, qty // (1 + c % 4)) // 10 * 10,  # type: ignore[arg-type]
            start_ns=sim.ts + (c % 2) * S, end_ns=sim.ts + (20 + b % 20) * S,
            start_price_vnd=50_000, reserve_vnd=None if b % 3 else 50_000 + 7 * b,
            extend_ns=5 * S, extension_cap_ns=(b % 15) * S, pricing="second" if c % 2 else "first",
            step_vnd=500, interval_ns=S, floor_vnd=45_000, min_qty=10 * (1 + c % 3),
            restart_steps=c % 4,
        )
    aid = created[b % len(created)]
    bidder = BIDDERS[a]
    if kind_i <= 5:
        # on the tick (100) mostly, so that most bids are accepted; now and then off it
        price = 50_000 + 97 * b + c
        return PlaceBid(auction_id=aid, account=bidder,
                        price_vnd=price if c == 9 else price // 100 * 100)
    if kind_i == 6:
        auction = sim.ex.auctions.auctions.get(aid)
        price = auction.clock_vnd if auction is not None and c % 4 else 50_000
        return DutchBuy(auction_id=aid, account=bidder, price_vnd=price, qty=10 * (1 + c))
    if kind_i == 7:
        if c == 0:
            return StartCall(symbol="QUE-BARK-A")
        if c == 1:
            return EndCall(symbol="QUE-BARK-A")
        if c >= 7:  # the operator moves a trade in delivery versus payment
            return SetTradeSettlement(trade_id=1 + b % max(1, sim.ex.trade_seq),
                                      state=("paid", "failed", "delivered", "settled")[a])
        if c < 40:  # cancel: the operator, or someone who may be the seller
            return CancelAuction(auction_id=aid, account=("OPS", "S1", "S2", "B1")[a],
                                 by_operator=a == 0, reason="called off")
        side = "buy" if a % 2 else "sell"
        account = bidder if side == "buy" else ("S1", "S2")[a % 2 == 0]
        return PlaceOrder(account=account, client_order_id=f"o{sim.seq}", symbol="QUE-BARK-A",
                          side=side, qty=10 * (1 + c), price_vnd=48_000 + 500 * (b % 10))  # type: ignore[arg-type]
    return Tick()


def check_secrecy(sim: Any, events: list[Event]) -> None:
    house = sim.ex.auctions
    for e in events:
        if getattr(e, "recipient", None) is not None:
            continue
        assert "max_price_vnd" not in msgspec.to_builtins(e)
        aid = getattr(e, "auction_id", None)
        if aid is None:
            continue
        a = house.auctions[aid]
        if a.kind == "sealed" and a.status != "closed":
            assert isinstance(e, AuctionCreated | AuctionOpened), e
        hidden = a.kind == "english" and a.status != "closed" and a.leader is not None
        if hidden and a.leader_max_vnd > a.price_vnd:
            assert getattr(e, "price_vnd", None) != a.leader_max_vnd, e
        if a.kind == "sealed" and a.status == "closed" and not isinstance(
            e, AuctionClosed | AuctionCreated | AuctionOpened | SealedBidsOpened | AuctionCancelled
        ):
            raise AssertionError(e)
        if isinstance(e, SealedBidsOpened):  # opened at the close, under pseudonyms only
            assert a.status == "closed" and len(e.bids) == len(a.sealed)
            assert not any(b.bidder in BIDDERS for b in e.bids)


def run(steps: list[tuple[int, int, int, int]]) -> tuple[Any, list[Command], list[Event]]:
    sim = market()
    commands: list[Command] = []
    created: list[int] = []
    for kind_i, a, b, c in steps:
        if kind_i in (8, 9):
            sim.ts += (1 + c) * S // 2
        cmd = build(kind_i, a, b, c, sim, created)
        events = sim.do(cmd)
        commands.append(cmd)
        created.extend(e.auction_id for e in events if isinstance(e, AuctionCreated))
        check_secrecy(sim, events)
    return sim, commands, sim.log


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step_st, min_size=1, max_size=80))
def test_conservation_and_secrecy(steps: list[tuple[int, int, int, int]]) -> None:
    sim, _, _ = run(steps)  # AuctionSim checks invariants and conservation after each command
    sim.tick(sim.ts + 3600 * S)  # every auction ends; every hold is released
    sim.ex._check()
    for a in sim.ex.auctions.auctions.values():
        if a.kind != "dutch":
            assert a.status == "closed"


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step_st, min_size=2, max_size=60), st.integers(0, 1000))
def test_replay_and_snapshot_reproduce_events_and_state(
    steps: list[tuple[int, int, int, int]], cut_i: int
) -> None:
    sim, _, _ = run(steps)
    # the whole journal: every command as the sequencer journals it (msgpack)
    journal = [msgspec.msgpack.encode(c) for c in sim_commands(sim)]
    replayed = Exchange()
    replay_events: list[Event] = []
    for raw in journal:
        replay_events.extend(replayed.apply(command_msgpack_decoder.decode(raw)))
    enc = msgspec.msgpack.encode
    assert enc(replay_events) == enc(sim.log)
    assert replayed.state_hash() == sim.ex.state_hash()
    # snapshot part way, restore, replay the rest
    cut = cut_i % (len(journal) + 1)
    first = Exchange()
    for raw in journal[:cut]:
        first.apply(command_msgpack_decoder.decode(raw))
    restored = Exchange.restore(first.snapshot())
    assert restored.state_hash() == first.state_hash()
    tail: list[Event] = []
    for raw in journal[cut:]:
        tail.extend(restored.apply(command_msgpack_decoder.decode(raw)))
        restored._check()
    assert restored.state_hash() == sim.ex.state_hash()
    n_before = sum(1 for e in sim.log if e.seq <= first.last_seq)
    assert enc(tail) == enc(sim.log[n_before:])


def sim_commands(sim: Any) -> list[Command]:
    return sim.commands  # type: ignore[no-any-return]


def test_trades_from_auctions_look_like_book_trades() -> None:
    sim, _, _ = run([(0, 0, 1, 0), (2, 0, 0, 400), (9, 0, 0, 9)] + [(9, 0, 0, 9)] * 10)
    trades = [e for e in sim.log if isinstance(e, TradeExecuted)]
    for t in trades:
        assert t.lots and sum(leg.qty for leg in t.lots) == t.qty
