"""Test helpers: a `Sim` that stamps commands like the sequencer and checks every invariant
after every command, plus small readers for event lists."""

from __future__ import annotations

import itertools
from typing import Any, TypeVar

from engine.book import Book
from engine.exchange import Exchange
from engine.messages import (
    AddInstrument,
    CancelOrder,
    Command,
    Deposit,
    Event,
    PlaceOrder,
    ReceiveLot,
    ReplaceOrder,
    SetTradeSettlement,
    Tick,
)

E = TypeVar("E")
SYMBOL = "QUE-BARK-A"


def of(events: list[Event], cls: type[E]) -> list[E]:
    return [e for e in events if isinstance(e, cls)]


def one(events: list[Event], cls: type[E]) -> E:
    found = of(events, cls)
    assert len(found) == 1, f"expected one {cls.__name__} in {events}"
    return found[0]


class Sim:
    def __init__(self, book_factory: Any = Book, check: bool = True) -> None:
        self.ex = Exchange(book_factory)
        self.seq = 0
        self.ts = 1_000_000_000
        self.check = check
        self.log: list[Event] = []
        self._cid = itertools.count(1)

    def do(self, cmd: Command, ts: int | None = None) -> list[Event]:
        self.seq += 1
        if ts is not None:
            self.ts = ts
        cmd.seq = self.seq
        cmd.ts_ns = self.ts
        events = self.ex.apply(cmd)
        if self.check:
            self.ex._check()
        self.log.extend(events)
        return events

    # -- shorthand ------------------------------------------------------------------------------

    def instrument(self, symbol: str = SYMBOL, tick: int = 100, step: int = 1, **kw: Any) -> list[Event]:
        herb, _, grade = symbol.rpartition("-")
        return self.do(AddInstrument(symbol=symbol, herb=herb or symbol, grade=grade or "A",
                                     tick_vnd=tick, qty_step=step, **kw))

    def fund(self, account: str, vnd: int) -> list[Event]:
        return self.do(Deposit(account=account, amount_vnd=vnd))

    def lot(self, lot_id: str, account: str, qty: int, symbol: str = SYMBOL) -> list[Event]:
        return self.do(ReceiveLot(lot_id=lot_id, account=account, symbol=symbol, qty=qty))

    def order(self, account: str, side: str, qty: int, price: int | None = None,
              symbol: str = SYMBOL, cid: str | None = None, **kw: Any) -> list[Event]:
        if price is not None:
            kw["price_vnd"] = price
        return self.do(PlaceOrder(account=account, side=side, qty=qty, symbol=symbol,  # type: ignore[arg-type]
                                  client_order_id=cid or f"c{next(self._cid)}", **kw))

    def buy(self, account: str, qty: int, price: int | None = None, **kw: Any) -> list[Event]:
        return self.order(account, "buy", qty, price, **kw)

    def sell(self, account: str, qty: int, price: int | None = None, **kw: Any) -> list[Event]:
        return self.order(account, "sell", qty, price, **kw)

    def cancel(self, account: str, order_id: int) -> list[Event]:
        return self.do(CancelOrder(account=account, order_id=order_id))

    def replace(self, account: str, order_id: int, qty: int | None = None,
                price: int | None = None) -> list[Event]:
        return self.do(ReplaceOrder(account=account, order_id=order_id, qty=qty, price_vnd=price))

    def tick(self, ts: int) -> list[Event]:
        return self.do(Tick(), ts=ts)

    def settle(self, trade_id: int, state: str) -> list[Event]:
        return self.do(SetTradeSettlement(trade_id=trade_id, state=state))  # type: ignore[arg-type]

    def pay(self, *trade_ids: int) -> list[Event]:
        """Mark trades paid (every pending one when none is named): under delivery versus
        payment a trade moves cash and goods only then."""
        ids = trade_ids or tuple(
            t for t, s in self.ex.settlements.items() if s.state == "pending"
        )
        events: list[Event] = []
        for trade_id in ids:
            events.extend(self.settle(trade_id, "paid"))
        return events

    # -- reading state --------------------------------------------------------------------------

    def depth(self, symbol: str = SYMBOL, n: int = 10) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        snap = self.ex.depth(symbol, n)
        assert snap is not None
        return snap.bids, snap.asks

    def cash(self, account: str) -> tuple[int, int]:
        """(cash, held)"""
        view = self.ex.balances(account)
        assert view is not None
        return view.cash_vnd, view.cash_held_vnd

    def goods(self, account: str, symbol: str = SYMBOL) -> tuple[int, int]:
        """(qty, held)"""
        view = self.ex.balances(account)
        assert view is not None
        for g in view.goods:
            if g.symbol == symbol:
                return g.qty, g.held_qty
        return 0, 0

    def status(self, order_id: int) -> str:
        view = self.ex.order_status(order_id)
        assert view is not None
        return view.status


def market(sim: Sim | None = None, **kw: Any) -> Sim:
    """A market with one instrument, two funded buyers and two sellers with goods in custody."""
    sim = sim or Sim(**kw)
    sim.instrument()
    for b in ("B1", "B2"):
        sim.fund(b, 1_000_000_000)
    sim.lot("L-S1-1", "S1", 1000)
    sim.lot("L-S1-2", "S1", 1000)
    sim.lot("L-S2-1", "S2", 1000)
    return sim
