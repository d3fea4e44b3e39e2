"""Accounts: cash and goods in custody, and the holds that orders place on them.

Owns the money and herb side of pre-trade risk. An account's ``cash_vnd`` is all the cash it
owns; ``cash_held_vnd`` is the part that open orders have reserved, so the spendable part is
the difference. Goods are kept per symbol in a `Holding`: the total quantity, the part held by
sell orders, and the lots that make it up, oldest received first, so that a trade can say which
lots it delivered. Goods bought on the market join the buyer's holding with their lot ids, so a
resale still traces back to the lots.

This module never decides whether an order may trade; the exchange does, and only moves money
and goods through the methods here, which assert that nothing goes negative.

The cash ceiling `MAX_BALANCE_VND` lives here because every path that credits an account (a
deposit, a book trade, an auction trade) must keep to it; the exchange and the auction house
check it before they move anything.
"""

from __future__ import annotations

from collections import deque

from engine.messages import LotLeg

#: An account's cash never passes this (10^18 VND), after any command: deposits over it are
#: refused, and so are trades that would carry a seller over it. Every balance (and every total
#: the snapshot writes) then stays within msgpack's 64 bits.
MAX_BALANCE_VND = 10**18


class LotEntry:
    """Part of one lot in one holding."""

    __slots__ = ("lot_id", "qty")

    def __init__(self, lot_id: str, qty: int) -> None:
        self.lot_id = lot_id
        self.qty = qty


class Holding:
    """One account's goods in one symbol; ``lots`` oldest first."""

    __slots__ = ("qty", "held", "lots")

    def __init__(self) -> None:
        self.qty = 0
        self.held = 0
        self.lots: deque[LotEntry] = deque()

    @property
    def available(self) -> int:
        return self.qty - self.held

    def add_lot(self, lot_id: str, qty: int) -> None:
        """Goods enter the holding at the back (newest)."""
        lots = self.lots
        if lots and lots[-1].lot_id == lot_id:
            lots[-1].qty += qty
        else:
            lots.append(LotEntry(lot_id, qty))
        self.qty += qty

    def draw(self, qty: int) -> list[LotLeg]:
        """Take ``qty`` of held goods out, oldest lots first, and say which lots gave it."""
        assert 0 < qty <= self.held <= self.qty, (qty, self.held, self.qty)
        legs: list[LotLeg] = []
        lots = self.lots
        left = qty
        while left:
            entry = lots[0]
            lot_qty = entry.qty
            take = lot_qty if lot_qty < left else left
            legs.append(LotLeg(entry.lot_id, take))
            if take == lot_qty:
                lots.popleft()
            else:
                entry.qty = lot_qty - take
            left -= take
        self.qty -= qty
        self.held -= qty
        return legs

    def deliver(self, qty: int, to: Holding) -> list[LotLeg]:
        """A trade: move ``qty`` of held goods to the buyer's holding ``to``, oldest lots first
        (they join the buyer's holding at the back, lot ids kept), and say which lots gave it.
        One call per fill, with a short path for the common case of one lot covering it."""
        entry = self.lots[0]
        if entry.qty > qty and self.held >= qty:
            entry.qty -= qty
            self.qty -= qty
            self.held -= qty
            lot_id = entry.lot_id
            to.qty += qty
            dest = to.lots
            if dest and dest[-1].lot_id == lot_id:
                dest[-1].qty += qty
            else:
                dest.append(LotEntry(lot_id, qty))
            return [LotLeg(lot_id, qty)]
        legs = self.draw(qty)
        for leg in legs:
            to.add_lot(leg.lot_id, leg.qty)
        return legs

    def lot_qty(self, lot_id: str) -> int:
        return sum(e.qty for e in self.lots if e.lot_id == lot_id)

    def remove_lot(self, lot_id: str) -> int:
        """Take every unit of ``lot_id`` out (the caller checked it is not held)."""
        qty = self.lot_qty(lot_id)
        self.lots = deque(e for e in self.lots if e.lot_id != lot_id)
        self.qty -= qty
        assert self.qty >= self.held
        return qty

    def take_lot(self, lot_id: str, qty: int) -> list[LotLeg]:
        """Take ``qty`` units of the one lot ``lot_id`` out of the holding, oldest entries of it
        first (auctions move a lot into their own custody this way, so FIFO draws of book sells
        can never deliver it). The caller checked the units exist and are not held."""
        assert 0 < qty <= self.qty - self.held, (qty, self.qty, self.held)
        assert qty <= self.lot_qty(lot_id), (lot_id, qty)
        left = qty
        kept: deque[LotEntry] = deque()
        for entry in self.lots:
            if left and entry.lot_id == lot_id:
                take = entry.qty if entry.qty < left else left
                left -= take
                if take == entry.qty:
                    continue
                entry.qty -= take
            kept.append(entry)
        self.lots = kept
        self.qty -= qty
        return [LotLeg(lot_id, qty)]

    def _check(self) -> None:
        assert 0 <= self.held <= self.qty
        assert self.qty == sum(e.qty for e in self.lots)
        assert all(e.qty > 0 for e in self.lots)


class Account:
    __slots__ = ("account_id", "cash_vnd", "cash_held_vnd", "holdings", "orders_by_cid")

    def __init__(self, account_id: str) -> None:
        self.account_id = account_id
        self.cash_vnd = 0
        self.cash_held_vnd = 0
        self.holdings: dict[str, Holding] = {}
        self.orders_by_cid: dict[str, int] = {}  # client order id -> order id

    @property
    def cash_available_vnd(self) -> int:
        return self.cash_vnd - self.cash_held_vnd

    def holding(self, symbol: str) -> Holding:
        h = self.holdings.get(symbol)
        if h is None:
            h = self.holdings[symbol] = Holding()
        return h

    def _check(self) -> None:
        assert self.cash_vnd <= MAX_BALANCE_VND, (self.account_id, self.cash_vnd)
        assert 0 <= self.cash_held_vnd <= self.cash_vnd, (
            self.account_id,
            self.cash_held_vnd,
            self.cash_vnd,
        )
        for h in self.holdings.values():
            h._check()
