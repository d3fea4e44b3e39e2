"""Accounts: cash and goods in custody, and the holds that orders place on them.

Owns the money and herb side of pre-trade risk. An account's ``cash_vnd`` is all the cash it
owns; ``cash_held_vnd`` is the part that is reserved, by open orders and bids or by trades
waiting for payment (delivery versus payment, `engine.dvp`): ``cash_dvp_vnd`` is that last
part. The spendable part is ``cash_vnd - cash_held_vnd``. Goods are kept per symbol in a
`Holding`: the total quantity the account owns, the part held (by sell orders, or by trades
waiting for payment: ``dvp``), and the lots that make up the rest, oldest received first, so
that a trade can say which lots it delivered. Goods of a trade waiting for payment have left
the lots (their legs sit in the trade, `engine.dvp.Settlement`) but are still counted in
``qty``: they are the seller's until paid. Goods bought join the buyer's holding with their lot
ids at payment, so a resale still traces back to the lots.

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
    """One account's goods in one symbol; ``lots`` oldest first. ``qty`` = the lots + ``dvp``;
    ``held`` = sell orders' holds + ``dvp``."""

    __slots__ = ("qty", "held", "lots", "dvp")

    def __init__(self) -> None:
        self.qty = 0
        self.held = 0
        self.lots: deque[LotEntry] = deque()
        self.dvp = 0  # sold, waiting for payment: out of ``lots``, still in ``qty`` and ``held``

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

    def _pop_oldest(self, qty: int) -> list[LotLeg]:
        """Take ``qty`` out of the lots, oldest first, and say which lots gave it."""
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
        return legs

    def pend(self, qty: int) -> list[LotLeg]:
        """A trade: ``qty`` of the goods a sell order held move into the DvP hold, oldest lots
        first, and say which lots they are. They stay the seller's (``qty`` and ``held`` do not
        change) but leave the lots, so no other sale can deliver them. One call per fill, with
        a short path for the common case of one lot covering it."""
        assert 0 < qty <= self.held - self.dvp, (qty, self.held, self.dvp)
        self.dvp += qty
        entry = self.lots[0]
        if entry.qty > qty:
            entry.qty -= qty
            return [LotLeg(entry.lot_id, qty)]
        return self._pop_oldest(qty)

    def pend_incoming(self, qty: int) -> None:
        """A lot auction's sale: goods from the auction's custody come back to the seller
        straight into the DvP hold (their leg is the auctioned lot)."""
        self.qty += qty
        self.held += qty
        self.dvp += qty

    def pay_out(self, qty: int) -> None:
        """Payment: the DvP-held goods of a trade leave the seller (the caller gives them to
        the buyer)."""
        assert 0 < qty <= self.dvp, (qty, self.dvp)
        self.qty -= qty
        self.held -= qty
        self.dvp -= qty

    def unpend(self, legs: list[LotLeg]) -> None:
        """A failed trade: its goods come back to the front of the lots (they were the oldest
        when the trade took them), free again."""
        qty = sum(leg.qty for leg in legs)
        assert 0 < qty <= self.dvp, (qty, self.dvp)
        self.dvp -= qty
        self.held -= qty
        lots = self.lots
        for leg in reversed(legs):
            if lots and lots[0].lot_id == leg.lot_id:
                lots[0].qty += leg.qty
            else:
                lots.appendleft(LotEntry(leg.lot_id, leg.qty))

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
        assert 0 <= self.dvp <= self.held <= self.qty
        assert self.qty == sum(e.qty for e in self.lots) + self.dvp
        assert all(e.qty > 0 for e in self.lots)


class Account:
    __slots__ = ("account_id", "cash_vnd", "cash_held_vnd", "cash_dvp_vnd", "holdings",
                 "orders_by_cid")

    def __init__(self, account_id: str) -> None:
        self.account_id = account_id
        self.cash_vnd = 0
        self.cash_held_vnd = 0  # orders' and bids' holds + ``cash_dvp_vnd``
        self.cash_dvp_vnd = 0  # bought, waiting for payment
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
        assert 0 <= self.cash_dvp_vnd <= self.cash_held_vnd <= self.cash_vnd, (
            self.account_id,
            self.cash_held_vnd,
            self.cash_vnd,
        )
        for h in self.holdings.values():
            h._check()
