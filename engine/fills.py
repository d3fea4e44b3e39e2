"""Trades inside the engine: what a trade does to the accounts, and its event.

Delivery versus payment (`engine.dvp`): a trade moves nothing yet. The buyer's hold for the
quantity becomes a DvP hold of exactly price x quantity (a buy filled below its limit gets the
difference back at once); the seller's goods, oldest lots first, leave the seller's lots into
a DvP hold, still the seller's, as the lot legs of the trade; the trade is opened as a
`engine.dvp.Settlement` (pending) and published as one `TradeExecuted` with the next trade id
and the lots it will deliver. Payment, later, moves cash and goods in one step. The book
(`settle_book_fills`), the call auction and the lot auctions all go through the functions here,
so a trade holds money and herbs the same way whichever desk made it.

This module never decides whether a trade may happen (matching and the auction rules do, and
`engine.risk` checks the cash ceiling), and never touches a book.
"""

from __future__ import annotations

from typing import Any

from engine.accounts import Account
from engine.dvp import Settlement
from engine.instruments import Instrument
from engine.market import Market
from engine.messages import Event, LotLeg, TradeExecuted
from engine.order import FILLED, PARTIALLY_FILLED, Order, transition


def open_trade(
    market: Market, trade_id: int, symbol: str, price: int, qty: int, buyer: Account,
    seller: Account, release_vnd: int, lots: list[LotLeg], ts: int,
) -> None:
    """The holds of one trade: the buyer's ``release_vnd`` (what the bought quantity held)
    becomes a DvP hold of price x qty; the seller's goods ``lots`` are already in its DvP hold
    (`Holding.pend` or `Holding.pend_incoming`). Opens the pending settlement."""
    value = price * qty
    buyer.cash_held_vnd += value - release_vnd
    buyer.cash_dvp_vnd += value
    assert buyer.cash_held_vnd <= buyer.cash_vnd, buyer.account_id
    market.settlements[trade_id] = Settlement(
        trade_id, symbol, price, qty, buyer.account_id, seller.account_id, lots, ts
    )


def next_trade_id(market: Market) -> int:
    """Trade ids are consecutive across the book and every auction."""
    market.trade_seq += 1
    return market.trade_seq


def settle_book_fills(
    market: Market,
    taker: Order,
    fills: list[tuple[Order, int]],
    inst: Instrument,
    cap: int | None,
    cap_left: int,
    events: list[Event],
    seq: Any,
    ts: Any,
) -> int:
    """Open the trades of ``taker`` against resting makers (each at the maker's price) and
    emit them; return the market buy's cash cap left. The hot path of matching: the holds of
    `open_trade` are written out here. ``seq`` and ``ts`` are ints; they and the ``*_obj``
    locals are typed ``Any`` so that the compiled core boxes each int once per fill (or once
    per call), not once per event field, settlement field and dict key (issue 16)."""
    accounts = market.accounts
    settlements = market.settlements
    symbol = taker.symbol
    taker_acct = accounts[taker.account]
    taker_is_buy = taker.is_buy
    aggressor = "buy" if taker_is_buy else "sell"
    trade_seq = market.trade_seq
    price = 0
    for maker, q in fills:
        price = maker.price
        value = price * q
        maker_acct = accounts[maker.account]
        if taker_is_buy:
            buyer, seller = taker_acct, maker_acct
            # a limit buy held its own limit price per unit; a market buy held its cap
            release = value if cap is not None else taker.price * q
            if cap is not None:
                cap_left -= value
        else:
            buyer, seller = maker_acct, taker_acct
            release = value  # the maker bid rests at its own price
        buyer.cash_held_vnd += value - release
        buyer.cash_dvp_vnd += value
        legs = seller.holdings[symbol].pend(q)
        taker.leaves -= q
        transition(maker, FILLED if maker.leaves == 0 else PARTIALLY_FILLED)
        trade_seq += 1
        trade_obj: Any = trade_seq
        price_obj: Any = price
        q_obj: Any = q
        settlements[trade_obj] = Settlement(
            trade_obj, symbol, price_obj, q_obj, buyer.account_id, seller.account_id, legs, ts
        )
        events.append(
            TradeExecuted(  # positional, in the field order of `TradeExecuted`: a third cheaper
                seq, ts,
                trade_obj,  # trade_id
                symbol, price_obj, q_obj,  # symbol, price_vnd, qty
                aggressor,  # type: ignore[arg-type]
                maker.order_id, taker.order_id,
                buyer.account_id, seller.account_id,
                maker.leaves, taker.leaves,  # maker_leaves_qty, taker_leaves_qty
                legs,  # lots
            )
        )
    market.trade_seq = trade_seq
    inst.last_price_vnd = price
    transition(taker, FILLED if taker.leaves == 0 else PARTIALLY_FILLED)
    return cap_left
