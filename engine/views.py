"""Read-only answers to queries on the exchange (depth, order status, balances).

Queries are not commands: they change nothing and are not journaled. The gateway serves them as
they are; `BookSnapshot` is also the shape of a book snapshot on the market-data stream.
"""

from __future__ import annotations

from msgspec import Struct


class BookSnapshot(Struct, kw_only=True, frozen=True):
    """Top levels of a book, best first, with the book sequence they are valid at."""

    symbol: str
    book_seq: int
    bids: list[tuple[int, int]]
    asks: list[tuple[int, int]]


class OrderView(Struct, kw_only=True, frozen=True):
    order_id: int
    account: str
    client_order_id: str
    symbol: str
    side: str
    price_vnd: int | None
    qty: int
    filled_qty: int
    leaves_qty: int
    status: str
    tif: str
    resting: bool


class GoodsView(Struct, kw_only=True, frozen=True):
    symbol: str
    qty: int
    held_qty: int
    available_qty: int
    lots: list[tuple[str, int]]


class AccountView(Struct, kw_only=True, frozen=True):
    account: str
    cash_vnd: int
    cash_held_vnd: int
    cash_available_vnd: int
    goods: list[GoodsView]
