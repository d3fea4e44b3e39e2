"""The whole exchange state as one msgpack document: snapshot, restore and the state hash.

The encoding is canonical: every collection is written in an order that depends only on the
history of commands (dict insertion order, book priority order), so two exchanges that applied
the same commands give the same bytes, and a restored exchange encodes back to the same bytes.
That is what lets `Exchange.state_hash` prove snapshot + replay == live state. The module sees
the exchange only as an `engine.market.Market`, so it never imports the exchange.

Books are written as their live orders in priority order; the fast book's lazily deleted
entries are not state and disappear on restore.
"""

from __future__ import annotations

import msgspec
from msgspec import Struct

from engine import dvp
from engine.accounts import Account, LotEntry
from engine.dvp import Settlement
from engine.instruments import Instrument
from engine.market import Market
from engine.order import Order

FORMAT_VERSION = 1


class InstrumentState(Struct, array_like=True):
    """An instrument in a snapshot: the live `engine.instruments.Instrument` with its book's
    sequence and resting orders. A shape of its own because the snapshot format is versioned
    and array-like (field order is format); the phase is not here, the call desk restores it."""

    symbol: str
    herb: str
    grade: str
    unit: str
    tick_vnd: int
    qty_step: int
    band_bps: int | None
    ref_price_vnd: int | None
    last_price_vnd: int | None
    halted: bool
    book_seq: int
    bid_ids: list[int]  # resting orders, priority order
    ask_ids: list[int]


class HoldingState(Struct, array_like=True):
    symbol: str
    qty: int
    held: int
    lots: list[tuple[str, int]]
    dvp: int = 0  # goods waiting for payment (added after version 1 shipped)


class AccountState(Struct, array_like=True):
    account_id: str
    cash_vnd: int
    cash_held_vnd: int
    holdings: list[HoldingState]
    orders_by_cid: list[tuple[str, int]]
    cash_dvp_vnd: int = 0  # cash waiting for payment (added after version 1 shipped)


class OrderState(Struct, array_like=True):
    order_id: int
    account: str
    client_order_id: str
    symbol: str
    is_buy: bool
    price: int
    qty: int
    leaves: int
    status: str
    tif: str
    post_only: bool
    expire_at: int | None
    placed: tuple[int, int, int | None] | None = None  # added after version 1 shipped


class ExchangeState(Struct, array_like=True):
    version: int
    last_seq: int
    trade_seq: int
    instruments: list[InstrumentState]
    accounts: list[AccountState]
    orders: list[OrderState]
    lots: list[tuple[str, str]]
    gtd_heap: list[tuple[int, int]]
    auctions: msgspec.Raw  # the auction house's own encoding
    transfers: list[tuple[str, int]] = []  # transfer id -> seq (added after version 1 shipped)
    lot_book: bytes = b""  # recorded lots, engine.lots' own encoding (issue 11)
    insurance: bytes = b""  # price-insurance terms, engine.insurance's encoding (issue 13)
    settlements: list[Settlement] = []  # open settlements, engine.dvp (issue 12)


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(ExchangeState)


def encode_state(ex: Market) -> bytes:
    instruments = []
    for inst in ex.instruments.values():
        book = ex.books[inst.symbol]
        instruments.append(
            InstrumentState(
                inst.symbol, inst.herb, inst.grade, inst.unit, inst.tick_vnd, inst.qty_step,
                inst.band_bps, inst.ref_price_vnd, inst.last_price_vnd, inst.halted,
                book.book_seq,
                [o.order_id for o in book.resting_orders(True)],
                [o.order_id for o in book.resting_orders(False)],
            )
        )
    accounts = [
        AccountState(
            a.account_id, a.cash_vnd, a.cash_held_vnd,
            [
                HoldingState(s, h.qty, h.held, [(e.lot_id, e.qty) for e in h.lots], h.dvp)
                for s, h in a.holdings.items()
            ],
            list(a.orders_by_cid.items()),
            a.cash_dvp_vnd,
        )
        for a in ex.accounts.values()
    ]
    orders = [
        OrderState(
            o.order_id, o.account, o.client_order_id, o.symbol, o.is_buy, o.price, o.qty,
            o.leaves, o.status, o.tif, o.post_only, o.expire_at, o.placed,
        )
        for o in ex.orders.values()
    ]
    state = ExchangeState(
        FORMAT_VERSION, ex.last_seq, ex.trade_seq, instruments, accounts, orders,
        list(ex.lots.items()), list(ex.gtd_heap), msgspec.Raw(ex.auctions.encode_state()),
        list(ex.transfers.items()), ex.lot_book.encode_state(), ex.insurance.encode_state(),
        dvp.encode(ex.settlements),
    )
    return _encoder.encode(state)


def decode_state(data: bytes, ex: Market) -> None:
    """Fill the empty market ``ex`` from ``data``."""
    state = _decoder.decode(data)
    if state.version != FORMAT_VERSION:
        raise ValueError(f"snapshot format {state.version}, this engine reads {FORMAT_VERSION}")
    ex.last_seq = state.last_seq
    ex.trade_seq = state.trade_seq
    for s in state.orders:
        o = Order(
            s.order_id, s.account, s.client_order_id, s.symbol, s.is_buy, s.price, s.qty, s.tif,
            s.post_only, s.expire_at,
        )
        o.leaves = s.leaves
        o.status = s.status
        o.placed = s.placed
        ex.orders[o.order_id] = o
    for i in state.instruments:
        inst = Instrument(
            i.symbol, i.herb, i.grade, i.unit, i.tick_vnd, i.qty_step, i.band_bps,
            i.ref_price_vnd,
        )
        inst.last_price_vnd = i.last_price_vnd
        inst.halted = i.halted
        ex.instruments[i.symbol] = inst
        book = ex.book_factory(i.symbol)
        for oid in i.bid_ids + i.ask_ids:
            book.add(ex.orders[oid])
        book.take_changes()
        book.book_seq = i.book_seq
        ex.books[i.symbol] = book
    for a in state.accounts:
        account = Account(a.account_id)
        account.cash_vnd = a.cash_vnd
        account.cash_held_vnd = a.cash_held_vnd
        account.cash_dvp_vnd = a.cash_dvp_vnd
        for h in a.holdings:
            holding = account.holding(h.symbol)
            holding.qty = h.qty
            holding.held = h.held
            holding.dvp = h.dvp
            holding.lots.extend(LotEntry(lot_id, qty) for lot_id, qty in h.lots)
        account.orders_by_cid.update(a.orders_by_cid)
        ex.accounts[a.account_id] = account
    ex.lots.update(state.lots)
    ex.transfers.update(state.transfers)
    ex.gtd_heap[:] = state.gtd_heap
    ex.auctions.restore_state(bytes(state.auctions))
    ex.lot_book.restore_state(state.lot_book)
    ex.insurance.restore_state(state.insurance)
    dvp.decode(state.settlements, ex.settlements)
