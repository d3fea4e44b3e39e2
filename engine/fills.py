"""Settlement of fills inside the engine: the cash and custody moves of a trade, and its event.

A fill moves the price x quantity from the buyer's cash to the seller's, releases the buyer's
hold for that quantity (a buy filled below its limit gets the difference back), moves the goods
from the seller's holding to the buyer's, oldest lots first, and is published as one
`TradeExecuted` with the next trade id and the lots it delivered. The book (`settle_book_fills`),
the call auction and the lot auctions all settle through the functions here, so a trade moves
money and herbs the same way whichever desk made it.

This module never decides whether a trade may happen (matching and the auction rules do, and
`engine.risk` checks the cash ceiling), and never touches a book.
"""

from __future__ import annotations

from engine.accounts import Account, Holding
from engine.instruments import Instrument
from engine.market import Market
from engine.messages import Event, LotLeg, TradeExecuted
from engine.order import FILLED, PARTIALLY_FILLED, Order, transition


def pay(buyer: Account, seller: Account, value: int, release_vnd: int) -> None:
    """The cash of one trade: ``value`` from the buyer to the seller, and ``release_vnd`` of the
    buyer's hold given back (what the bought quantity held)."""
    buyer.cash_vnd -= value
    buyer.cash_held_vnd -= release_vnd
    seller.cash_vnd += value
    assert buyer.cash_held_vnd >= 0 and buyer.cash_vnd >= buyer.cash_held_vnd, buyer.account_id


def deliver(seller: Holding, buyer: Holding, qty: int) -> list[LotLeg]:
    """The goods of one trade: ``qty`` of the seller's held goods to the buyer, oldest lots
    first; returns the lots delivered."""
    return seller.deliver(qty, buyer)


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
    seq: int,
    ts: int,
) -> int:
    """Settle the fills of ``taker`` against resting makers (each at the maker's price) and
    emit the trades; return the market buy's cash cap left. The hot path of matching: the moves
    of `pay` and `deliver` are written out here."""
    accounts = market.accounts
    symbol = taker.symbol
    taker_acct = accounts[taker.account]
    taker_is_buy = taker.is_buy
    aggressor = "buy" if taker_is_buy else "sell"
    taker_holding = taker_acct.holding(symbol)
    trade_seq = market.trade_seq
    price = 0
    for maker, q in fills:
        price = maker.price
        value = price * q
        maker_acct = accounts[maker.account]
        if taker_is_buy:
            buyer, seller = taker_acct, maker_acct
            buyer_holding, seller_holding = taker_holding, maker_acct.holdings[symbol]
            # a limit buy held its own limit price per unit; a market buy held its cap
            release = value if cap is not None else taker.price * q
            if cap is not None:
                cap_left -= value
        else:
            buyer, seller = maker_acct, taker_acct
            buyer_holding, seller_holding = maker_acct.holding(symbol), taker_holding
            release = value  # the maker bid rests at its own price
        buyer.cash_vnd -= value
        buyer.cash_held_vnd -= release
        seller.cash_vnd += value
        legs = seller_holding.deliver(q, buyer_holding)
        taker.leaves -= q
        transition(maker, FILLED if maker.leaves == 0 else PARTIALLY_FILLED)
        trade_seq += 1
        events.append(
            TradeExecuted(
                seq=seq,
                ts_ns=ts,
                trade_id=trade_seq,
                symbol=symbol,
                price_vnd=price,
                qty=q,
                aggressor=aggressor,  # type: ignore[arg-type]
                maker_order_id=maker.order_id,
                taker_order_id=taker.order_id,
                buyer=buyer.account_id,
                seller=seller.account_id,
                maker_leaves_qty=maker.leaves,
                taker_leaves_qty=taker.leaves,
                lots=legs,
            )
        )
    market.trade_seq = trade_seq
    inst.last_price_vnd = price
    transition(taker, FILLED if taker.leaves == 0 else PARTIALLY_FILLED)
    return cap_left
