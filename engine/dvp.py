"""Delivery versus payment: the settlement lifecycle of every trade (issue 12).

Owns the trades that wait for settlement (``Market.settlements``, trade id -> `Settlement`),
the one transition table of their lifecycle and the one function that moves a trade through it
(`set_state`, the `SetTradeSettlement` command).

At the trade nothing changes hands (`engine.fills` opens the `Settlement`): the buyer's cash
for it stays the buyer's, in a DvP hold (``Account.cash_dvp_vnd``, part of ``cash_held_vnd``);
the seller's goods stay the seller's, in a DvP hold (``Holding.dvp``), as the lot legs the trade
names. The operator then moves the trade:

    pending -> paid -> delivered -> settled
    pending -> failed

``paid`` moves the cash to the seller and the goods to the buyer in one step (from then on the
goods are the buyer's to withdraw or resell); ``failed`` releases both holds (nothing had
moved: the trade is undone; the goods go back to the front of the seller's lots, where they
were the oldest; goods of a recorded lot's sale then go back into the lot's custody, and the
sale off its record, in `engine.lots.LotBook.after`, which reads the `TradeSettlementChanged`);
``delivered`` (the operator confirms the physical hand-over) and ``settled``
(closed) change the state only. A settled or failed trade leaves the map at once, so the map
holds only open settlements. A refusal (no such trade, a trade already closed, a move the table
does not have, a payment that would carry the seller past the cash ceiling) changes nothing.

The settlement cycle (T+N) and overdue lists are the gateway's: a due date is a calendar
matter, and the engine reads no calendar; it keeps the trade's time (``ts_ns``).

Like the rest of the core: no I/O, no clock, iteration over dicts and lists only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from msgspec import Struct

from engine.accounts import MAX_BALANCE_VND, Account
from engine.messages import (
    Event,
    LotLeg,
    SettlementMove,
    SettlementState,
    SetTradeSettlement,
    TradeSettlementChanged,
    command_rejected,
)

PENDING: SettlementState = "pending"
PAID: SettlementState = "paid"
DELIVERED: SettlementState = "delivered"
SETTLED: SettlementState = "settled"
FAILED: SettlementState = "failed"


class Settlement(Struct, array_like=True, gc=False):
    """One trade waiting for settlement: what it moves and where it is in the lifecycle. Also
    its own snapshot record (`encode`): an array in this field order, the lot legs as
    ``[lot_id, qty]`` (field order is format).

    Not tracked by the cyclic collector (``gc=False``): it holds values and the trade's lot
    legs (gc=False structs) only, so it can never be part of a cycle, and an open settlement
    per trade would otherwise be most of what the collector walks on a busy book."""

    trade_id: int
    symbol: str
    price_vnd: int
    qty: int
    buyer: str
    seller: str
    lots: list[LotLeg]
    ts_ns: int
    state: SettlementState = PENDING

    @property
    def value_vnd(self) -> int:
        return self.price_vnd * self.qty

    @property
    def holds(self) -> bool:
        """True while the trade's cash and goods sit in the DvP holds (before payment)."""
        return self.state == PENDING


def _pay(buyer: Account, seller: Account, s: Settlement) -> None:
    """Payment: the held cash to the seller, the held goods to the buyer, in one step."""
    value = s.value_vnd
    buyer.cash_vnd -= value
    buyer.cash_held_vnd -= value
    buyer.cash_dvp_vnd -= value
    seller.cash_vnd += value
    seller.holdings[s.symbol].pay_out(s.qty)
    holding = buyer.holding(s.symbol)
    for leg in s.lots:
        holding.add_lot(leg.lot_id, leg.qty)


def _fail(buyer: Account, seller: Account, s: Settlement) -> None:
    """Failure: both holds released; nothing had moved."""
    value = s.value_vnd
    buyer.cash_held_vnd -= value
    buyer.cash_dvp_vnd -= value
    seller.holdings[s.symbol].unpend(s.lots)


def _state_only(buyer: Account, seller: Account, s: Settlement) -> None:
    """Delivered and settled are the operator's confirmations: nothing moves."""


#: The lifecycle: every legal move and what it moves. A move not here is refused.
TRANSITIONS: dict[tuple[SettlementState, SettlementState],
                  Callable[[Account, Account, Settlement], None]] = {
    (PENDING, PAID): _pay,
    (PAID, DELIVERED): _state_only,
    (DELIVERED, SETTLED): _state_only,
    (PENDING, FAILED): _fail,
}

#: The next state of a trade that goes well (what a demo operator does, one step at a time).
NEXT_STEP: dict[SettlementState, SettlementMove] = {
    "pending": "paid", "paid": "delivered", "delivered": "settled",
}

#: States that close a settlement: the trade leaves the map.
CLOSED: tuple[SettlementState, ...] = (SETTLED, FAILED)


class Ledger(Protocol):
    """The part of `engine.market.Market` this module sees (it cannot import that module,
    which names `Settlement`)."""

    accounts: dict[str, Account]
    settlements: dict[int, Settlement]
    trade_seq: int


def set_state(market: Ledger, cmd: SetTradeSettlement) -> list[Event]:
    """The one function that changes a settlement's state (`TRANSITIONS`)."""
    s = market.settlements.get(cmd.trade_id)
    if s is None:
        if cmd.trade_id <= market.trade_seq:
            return command_rejected(
                cmd, "settlement_finished", f"trade {cmd.trade_id} is settled or failed"
            )
        return command_rejected(cmd, "unknown_trade", f"no trade {cmd.trade_id}")
    move = TRANSITIONS.get((s.state, cmd.state))
    if move is None:
        return command_rejected(
            cmd, "illegal_settlement_transition", f"trade {s.trade_id} is {s.state}, not "
            + " or ".join(f for f, t in TRANSITIONS if t == cmd.state)
        )
    buyer = market.accounts[s.buyer]
    seller = market.accounts[s.seller]
    if cmd.state == PAID and seller.cash_vnd + s.value_vnd > MAX_BALANCE_VND:
        return command_rejected(
            cmd, "balance_limit", f"a balance stays <= {MAX_BALANCE_VND}", s.seller
        )
    move(buyer, seller, s)
    before = s.state
    s.state = cmd.state
    if s.state in CLOSED:
        del market.settlements[s.trade_id]
    return [
        TradeSettlementChanged(
            seq=cmd.seq, ts_ns=cmd.ts_ns, trade_id=s.trade_id, symbol=s.symbol,
            from_state=before, to_state=s.state, buyer=s.buyer, seller=s.seller,
            price_vnd=s.price_vnd, qty=s.qty, value_vnd=s.value_vnd, trade_ts_ns=s.ts_ns,
            lots=list(s.lots),
        )
    ]


def holds(settlements: dict[int, Settlement]) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    """The DvP holds the open settlements account for: cash per buyer, goods per (seller,
    symbol) (the invariant check compares them with the accounts)."""
    cash: dict[str, int] = {}
    goods: dict[tuple[str, str], int] = {}
    for s in settlements.values():
        if s.holds:
            cash[s.buyer] = cash.get(s.buyer, 0) + s.value_vnd
            key = (s.seller, s.symbol)
            goods[key] = goods.get(key, 0) + s.qty
    return cash, goods


def incoming(settlements: dict[int, Settlement], account_id: str) -> int:
    """The cash the account's sales waiting for payment will bring it. O(open settlements):
    only the cash ceiling's slow path asks (`engine.risk`), so that a payment never fails on
    the ceiling for a sale that was allowed."""
    return sum(s.value_vnd for s in settlements.values() if s.holds and s.seller == account_id)


def check(settlements: dict[int, Settlement]) -> None:
    for trade_id, s in settlements.items():
        assert trade_id == s.trade_id and s.state not in CLOSED, (trade_id, s.state)
        assert s.qty == sum(leg.qty for leg in s.lots) and s.qty > 0, trade_id
        assert all(leg.qty > 0 for leg in s.lots), trade_id


def encode(settlements: dict[int, Settlement]) -> list[Settlement]:
    """The open settlements for a snapshot (each encodes as its own record)."""
    return list(settlements.values())


def decode(records: list[Settlement], settlements: dict[int, Settlement]) -> None:
    for r in records:
        settlements[r.trade_id] = r
