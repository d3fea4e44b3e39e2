"""Queries: read-only views of the market's state (`engine.views`), for the gateway and tools.

Owns the translation of live records into frozen views. Nothing here changes state, and no live
record (an `Order`, an `Instrument`, an `Auction`) ever leaves through a query: readers get
copies they may keep.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from engine.auctions import sealed
from engine.auctions.model import CLOSED, Auction
from engine.dvp import Settlement
from engine.instruments import Instrument
from engine.market import Market
from engine.order import Order
from engine.views import (
    AccountView,
    AuctionView,
    BookSnapshot,
    GoodsView,
    InstrumentView,
    OrderView,
    SettlementView,
)


def depth(market: Market, symbol: str, levels: int) -> BookSnapshot | None:
    book = market.books.get(symbol)
    if book is None:
        return None
    bids, asks = book.depth(levels)
    return BookSnapshot(symbol=symbol, book_seq=book.book_seq, bids=bids, asks=asks)


def order_view(o: Order) -> OrderView:
    return OrderView(
        order_id=o.order_id, account=o.account, client_order_id=o.client_order_id,
        symbol=o.symbol, side=o.side, price_vnd=o.price or None, qty=o.qty,
        filled_qty=o.qty - o.leaves, leaves_qty=o.leaves, status=o.status, tif=o.tif,
        resting=o.resting,
    )


def order_views(orders: Mapping[int, Order]) -> Iterator[OrderView]:
    """Every order the engine remembers, oldest first."""
    for o in orders.values():
        yield order_view(o)


def balances(market: Market, account_id: str) -> AccountView | None:
    a = market.accounts.get(account_id)
    if a is None:
        return None
    return AccountView(
        account=a.account_id,
        cash_vnd=a.cash_vnd,
        cash_held_vnd=a.cash_held_vnd,
        cash_available_vnd=a.cash_available_vnd,
        goods=[
            GoodsView(
                symbol=s, qty=h.qty, held_qty=h.held, available_qty=h.available,
                lots=[(e.lot_id, e.qty) for e in h.lots], dvp_qty=h.dvp,
            )
            for s, h in a.holdings.items()
        ],
        cash_dvp_vnd=a.cash_dvp_vnd,
    )


def settlement_view(st: Settlement) -> SettlementView:
    return SettlementView(
        trade_id=st.trade_id, symbol=st.symbol, state=st.state, buyer=st.buyer,
        seller=st.seller, price_vnd=st.price_vnd, qty=st.qty, value_vnd=st.value_vnd,
        ts_ns=st.ts_ns, lots=[(leg.lot_id, leg.qty) for leg in st.lots],
    )


def instrument_view(inst: Instrument) -> InstrumentView:
    return InstrumentView(
        symbol=inst.symbol, herb=inst.herb, grade=inst.grade, unit=inst.unit,
        tick_vnd=inst.tick_vnd, qty_step=inst.qty_step, band_bps=inst.band_bps,
        ref_price_vnd=inst.ref_price_vnd, last_price_vnd=inst.last_price_vnd,
        halted=inst.halted, phase=inst.phase,
    )


def auction_view(a: Auction) -> AuctionView:
    opened = None
    if a.kind == "sealed" and a.status is CLOSED and a.sealed:
        ranked = sealed.ranking(a)
        opened = sealed.opened(a, ranked[0] if a.sold_qty else None)
    return AuctionView(
        auction_id=a.auction_id, kind=a.kind, seller=a.seller, lot_id=a.lot_id,
        symbol=a.symbol, qty=a.qty, status=a.status, start_ns=a.start_ns, end_ns=a.end_ns,
        close_ns=a.close_ns, start_price_vnd=a.start_price_vnd,
        reserve_set=a.reserve_vnd is not None,
        price_vnd=a.clock_vnd if a.kind == "dutch" else a.price_vnd, bids=a.bids,
        remaining_qty=a.remaining, sold_qty=a.sold_qty, pricing=a.pricing, opened=opened,
        step_vnd=a.step_vnd, floor_vnd=a.floor_vnd, min_qty=a.min_qty,
        next_step_ns=a.next_step_ns if a.kind == "dutch" else 0,
        outcome=a.outcome, close_reason=a.close_reason, winner=a.winner,
        final_price_vnd=a.final_price_vnd, cancelled_by=a.cancelled_by,
        cancel_reason=a.cancel_reason,
    )
