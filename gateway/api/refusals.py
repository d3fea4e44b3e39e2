"""Reason code → HTTP status: the one table, and `refusal`, the one way a refusal becomes a
problem.

A business refusal reaches the gateway as a reason code: from the engine (in `OrderRejected`,
`CancelRejected`, `CommandRejected`, `AuctionBidRejected`) or from the lot lifecycle
(`grading.lifecycle.Refused`). Every door (REST handlers, WebSocket ops, the lot endpoints)
turns it into a `Problem` here, so one code has one status wherever it is refused. A code not in
the table is a 422: the request was understood and the state or the rules refused it. The table
lists only the codes that say something else (the thing is not there: 404; not yours: 403; the
state forbids it now: 409).

Never decides whether to refuse (the engine and the lifecycle do) and never rewrites a code:
the API, the journal and the lot history agree on what was refused and why. `tests/test_layout.py`
checks that every key is a code the engine or the lifecycle emits.
"""

from __future__ import annotations

from gateway.api.problems import Problem

#: Codes whose status is not the default 422. Keys are reason codes (engine reason strings and
#: lot-lifecycle codes); the engine's are to become its typed codes.
REASON_STATUS: dict[str, int] = {
    # the thing named is not there (or is another account's: answered exactly alike)
    "unknown_symbol": 404, "unknown_order": 404, "not_owner": 404, "unknown_auction": 404,
    "unknown_lot": 404, "unknown_trade": 404,
    # the caller may not do this to it
    "not_seller": 403,
    # the state forbids it now
    "order_not_open": 409, "instrument_halted": 409,
    "duplicate_instrument": 409, "already_halted": 409, "not_halted": 409,
    "duplicate_lot": 409, "duplicate_transfer": 409,
    "auction_not_open": 409, "auction_closed": 409, "lot_gone": 409, "auction_has_bids": 409,
    "goods_held": 409, "in_auction": 409,
    "illegal_settlement_transition": 409, "settlement_finished": 409,
    # lot lifecycle (grading.lifecycle, applied by engine.lots)
    "illegal_transition": 409, "time_went_back": 409,
    # price-insurance terms (engine.insurance)
    "unknown_herb": 404, "terms_locked": 409,
}

DEFAULT_STATUS = 422
ENGINE_TITLE = "Refused by the engine"
LIFECYCLE_TITLE = "Refused by the lot lifecycle"


def status_of(reason: str) -> int:
    return REASON_STATUS.get(reason, DEFAULT_STATUS)


def refusal(reason: str, detail: str, *, title: str = ENGINE_TITLE,
            next_step: str = "") -> Problem:
    """The problem of a refusal: its status from the table, the reason as its ``code``
    (and, for a lot step, the lot's ``next_step``)."""
    return Problem(status_of(reason), reason, detail or reason.replace("_", " "), title=title,
                   next_step=next_step)
