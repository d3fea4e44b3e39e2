"""Shared helpers for the auction tests (tests/test_auctions_*.py)."""

from __future__ import annotations

from typing import Any

import msgspec

from engine.messages import (
    AuctionBidRejected,
    CreateAuction,
    DutchBuy,
    EndCall,
    Event,
    PlaceBid,
    StartCall,
)
from tests.support import SYMBOL, Sim

S = 1_000_000_000  # one second in ns
T0 = 1_000 * S  # the auction scenarios start here


class AuctionSim(Sim):
    """`Sim` plus auction shorthand; checks every invariant (and conservation) after every
    command."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.deposited = 0
        self.goods_in = 0
        self.commands: list[Any] = []  # every command, stamped, as a journal would hold it

    def do(self, cmd: Any, ts: int | None = None) -> list[Event]:
        events = super().do(cmd, ts)
        self.commands.append(cmd)
        if self.check:
            conserved(self)
        return events

    def fund(self, account: str, vnd: int) -> list[Event]:
        self.deposited += vnd
        return super().fund(account, vnd)

    def lot(self, lot_id: str, account: str, qty: int, symbol: str = SYMBOL) -> list[Event]:
        self.goods_in += qty
        return super().lot(lot_id, account, qty, symbol)

    def create(self, kind: str, lot: str = "LOT-1", seller: str = "S1", qty: int = 100,
               start: int = T0, end: int = T0 + 60 * S, price: int = 50_000,
               **kw: Any) -> int:
        events = self.do(CreateAuction(kind=kind, seller=seller, lot_id=lot, qty=qty,  # type: ignore[arg-type]
                                       start_ns=start, end_ns=end, start_price_vnd=price, **kw))
        created = [e for e in events if type(e).__name__ == "AuctionCreated"]
        assert created, events
        return created[0].auction_id  # type: ignore[attr-defined, no-any-return]

    def bid(self, auction_id: int, account: str, price: int, ts: int | None = None) -> list[Event]:
        return self.do(PlaceBid(auction_id=auction_id, account=account, price_vnd=price), ts=ts)

    def dutch_buy(self, auction_id: int, account: str, price: int, qty: int,
                  ts: int | None = None) -> list[Event]:
        return self.do(DutchBuy(auction_id=auction_id, account=account, price_vnd=price, qty=qty),
                       ts=ts)

    def start_call(self, symbol: str = SYMBOL, close_at: int | None = None) -> list[Event]:
        return self.do(StartCall(symbol=symbol, close_at_ns=close_at))

    def end_call(self, symbol: str = SYMBOL) -> list[Event]:
        return self.do(EndCall(symbol=symbol))


def conserved(sim: Sim) -> None:
    """Cash sums to what was deposited; goods (holdings + auction custody) to what arrived."""
    ex = sim.ex
    deposited = getattr(sim, "deposited", None)
    if deposited is not None:
        assert sum(a.cash_vnd for a in ex.accounts.values()) == deposited
    goods_in = getattr(sim, "goods_in", None)
    if goods_in is not None:
        held = sum(h.qty for a in ex.accounts.values() for h in a.holdings.values())
        assert held + sum(ex.auctions.escrow().values()) == goods_in


def market(**kw: Any) -> AuctionSim:
    sim = AuctionSim(**kw)
    sim.instrument()
    for b in ("B1", "B2", "B3", "B4"):
        sim.fund(b, 10_000_000_000)
    sim.lot("LOT-1", "S1", 100)
    sim.lot("LOT-2", "S1", 500)
    sim.lot("LOT-3", "S2", 1000)
    sim.ts = T0
    return sim


def rejected(events: list[Event]) -> str:
    bad = [e for e in events if isinstance(e, AuctionBidRejected)]
    assert len(bad) == 1 and len(events) == 1, events
    return bad[0].reason


def public(events: list[Event]) -> list[Event]:
    return [e for e in events if getattr(e, "recipient", None) is None]


def as_dicts(events: list[Event]) -> list[dict[str, Any]]:
    return [msgspec.to_builtins(e) for e in events]
