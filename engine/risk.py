"""Risk holds: the cash and goods that orders and bids reserve before they may trade.

A buy holds its buyer's cash (limit price x quantity, or a market buy's cash cap), a sell holds
its seller's goods, an English leader or a sealed bid holds maximum x quantity, before anything
can rest or match; a fill, a cancel or an expiry gives the hold back. The auctions take and give
back their holds through the functions here, which assert that no hold ever exceeds what the
account owns; the exchange's order paths (place, cancel, replace, settlement of fills) and the
lot book's freeze write the hold fields directly, because they run on every order. The cash
ceiling (`MAX_BALANCE_VND`) of trades is checked here: `proceeds_guard` for the book and
`seller_can_take` for lot auctions; the call uncross checks it in `engine.auctions.call`.

This module never decides whether an order is valid, never matches and never moves cash or
goods between accounts (`engine.fills` does).
"""

from __future__ import annotations

from engine import dvp
from engine.accounts import MAX_BALANCE_VND, Account
from engine.book import ProceedsGuard


def hold_cash(account: Account, vnd: int) -> None:
    account.cash_held_vnd += vnd
    assert account.cash_held_vnd <= account.cash_vnd, (account.account_id, vnd)


def release_cash(account: Account, vnd: int) -> None:
    account.cash_held_vnd -= vnd
    assert account.cash_held_vnd >= 0, (account.account_id, vnd)


def hold_goods(account: Account, symbol: str, qty: int) -> None:
    holding = account.holdings[symbol]
    holding.held += qty
    assert holding.held <= holding.qty, (account.account_id, symbol, qty)


def proceeds_guard(
    accounts: dict[str, Account], cash_total: int, settlements: dict[int, dvp.Settlement]
) -> ProceedsGuard | None:
    """None while all the cash in the market fits under the ceiling (then no trade can carry a
    seller past it, and matching pays nothing for the check); else a guard that checks each
    fill's seller, counting the proceeds of its sales waiting for payment as already its."""
    if cash_total <= MAX_BALANCE_VND:
        return None
    return ProceedsGuard(
        lambda account: MAX_BALANCE_VND - accounts[account].cash_vnd
        - dvp.incoming(settlements, account)
    )


def seller_can_take(
    seller: Account, value: int, cash_total: int, settlements: dict[int, dvp.Settlement]
) -> bool:
    """A sale that would carry the seller's cash (its sales waiting for payment counted) past
    the ceiling does not happen."""
    if cash_total <= MAX_BALANCE_VND:
        return True
    incoming = dvp.incoming(settlements, seller.account_id)
    return seller.cash_vnd + incoming + value <= MAX_BALANCE_VND
