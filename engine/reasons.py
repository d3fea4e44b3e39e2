"""Reason codes: every business refusal's and every ending's code, declared once and typed.

Owns the vocabulary of ``reason`` fields: one `Literal` per family of events, so mypy refuses a
misspelt code where an event is built, and `REFUSALS` lists every refusal code for the gateway's
one reason -> HTTP status table. The strings are wire format (events, journal, API problem
``type``s): they never change; new codes are appended. This module decides nothing and imports
nothing of the engine.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

#: `OrderRejected.reason`: a placement refused (nothing changed).
OrderRejectReason = Literal[
    "unknown_symbol", "instrument_halted", "invalid_qty", "qty_off_step", "price_required",
    "invalid_price", "price_off_tick", "price_out_of_band", "cash_cap_not_allowed",
    "price_not_allowed", "post_only_requires_limit", "invalid_tif", "cash_cap_required",
    "invalid_cash_cap", "post_only_requires_resting_tif", "expire_at_required",
    "expire_at_in_past", "expire_at_requires_gtd", "insufficient_cash", "insufficient_goods",
    "post_only_would_cross", "post_only_not_allowed_in_call", "fok_not_allowed_in_call",
    "call_full",
]

#: `CancelRejected.reason`: a cancel or replace refused (the order is unchanged).
CancelRejectReason = Literal[
    "unknown_order", "not_owner", "order_not_open", "instrument_halted", "nothing_to_replace",
    "invalid_qty", "qty_not_above_filled", "invalid_price", "price_off_tick",
    "price_out_of_band", "post_only_would_cross", "insufficient_cash", "insufficient_goods",
    "replace_not_allowed_in_call",
]

#: `CommandRejected.reason`: an operator, cash, custody, call or auction-creation command
#: refused.
CommandRejectReason = Literal[
    "duplicate_instrument", "invalid_tick", "invalid_qty_step", "invalid_band",
    "invalid_ref_price", "unknown_symbol", "already_halted", "not_halted", "invalid_amount",
    "balance_limit", "duplicate_transfer", "insufficient_cash", "duplicate_lot", "invalid_qty",
    "unknown_lot", "lot_not_held", "goods_held", "already_in_call", "close_in_past",
    "not_in_call", "instrument_halted", "too_many_auctions", "insufficient_goods",
    "invalid_price", "price_off_tick", "invalid_clock", "invalid_floor", "invalid_min_qty",
    "invalid_restart_steps", "invalid_end", "invalid_reserve", "invalid_extension",
    # lots (engine.lots), the lot lifecycle's own codes (grading.lifecycle) among them
    "not_owner", "wrong_spec", "bad_record", "grade_inconsistent", "wrong_instrument",
    "in_auction", "bad_price", "bad_quantity", "growing_area_not_valid", "illegal_transition",
    "time_went_back",
    # price-insurance terms (engine.insurance)
    "unknown_herb", "invalid_window", "terms_locked", "too_many_terms",
    # delivery versus payment (engine.dvp): no such trade; a trade already settled or failed;
    # a move the DvP transition table does not have
    "unknown_trade", "settlement_finished", "illegal_settlement_transition",
]

#: `AuctionBidRejected.reason`: a bid, Dutch buy or auction cancel refused.
BidRejectReason = Literal[
    "unknown_auction", "auction_not_open", "lot_gone", "auction_closed", "own_lot",
    "invalid_price", "instrument_halted", "price_off_tick", "wrong_kind", "bid_not_raised",
    "insufficient_cash", "below_min_bid", "invalid_qty", "stale_price", "qty_unavailable",
    "below_min_qty", "balance_limit", "not_seller", "auction_has_bids",
]

#: `OrderResent.reason`: empty for a faithful resend.
ResendReason = Literal["", "client_order_id_reused"]

#: `OrderCancelled.reason`: why an order's remainder left (``user``: its owner cancelled it).
OrderCancelReason = Literal[
    "user", "ioc", "fok", "self_trade", "cash_cap", "balance_limit",
    "lot_rejected",  # the lot its goods came from failed a re-assay: its units are frozen
]

#: Why matching stopped before an order was done (`engine.book.OrderBook.match`).
MatchStop = Literal["self_trade", "cash_cap", "balance_limit"]

#: `AuctionClosed.reason`.
CloseReason = Literal[
    "sold", "sold_out", "no_bids", "reserve_not_met", "balance_limit", "floor_reached",
    "cancelled",
]

#: `BidVoided.reason`.
VoidReason = Literal["auction_cancelled"]


def _codes(*families: object) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for family in families:
        for code in get_args(family):
            if code:
                seen[code] = None
    return tuple(seen)


#: Every refusal code, once, in declaration order: what the gateway maps to an HTTP status.
REFUSALS: Final[tuple[str, ...]] = _codes(
    OrderRejectReason, CancelRejectReason, CommandRejectReason, BidRejectReason, ResendReason
)
