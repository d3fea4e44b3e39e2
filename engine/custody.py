"""Custody: cash and lots entering and leaving the market.

Owns the commands that move value across the market's edge: cash deposits and withdrawals
(idempotent by transfer id, deposits within the cash ceiling) and lot receipts and withdrawals
(a lot is received once, into one account's holding of its instrument; it leaves only when no
open sell order holds its goods). It keeps ``Market.cash_total``, the sum of all cash, true.

This module never trades: inside the market, cash and goods move only in trades
(`engine.fills`).
"""

from __future__ import annotations

from engine.accounts import MAX_BALANCE_VND, Account, Holding
from engine.market import Market
from engine.messages import (
    MAX_QTY,
    MAX_VND,
    CashDeposited,
    CashWithdrawn,
    Deposit,
    Event,
    LotReceived,
    LotWithdrawn,
    ReceiveLot,
    Withdraw,
    WithdrawLot,
    command_rejected,
)


def account(market: Market, account_id: str) -> Account:
    """The account, opened on first use."""
    acct = market.accounts.get(account_id)
    if acct is None:
        acct = market.accounts[account_id] = Account(account_id)
    return acct


def _duplicate_transfer(market: Market, cmd: Deposit | Withdraw) -> list[Event] | None:
    if cmd.transfer_id is not None and cmd.transfer_id in market.transfers:
        return command_rejected(
            cmd, "duplicate_transfer",
            f"transfer {cmd.transfer_id} was booked at seq {market.transfers[cmd.transfer_id]}",
            cmd.account,
        )
    return None


def deposit(market: Market, cmd: Deposit) -> list[Event]:
    if cmd.amount_vnd <= 0 or cmd.amount_vnd > MAX_VND:
        return command_rejected(cmd, "invalid_amount", f"amount must be 1..{MAX_VND}", cmd.account)
    acct = market.accounts.get(cmd.account)
    if acct is not None and acct.cash_vnd + cmd.amount_vnd > MAX_BALANCE_VND:
        return command_rejected(
            cmd, "balance_limit", f"a balance stays <= {MAX_BALANCE_VND}", cmd.account
        )
    duplicate = _duplicate_transfer(market, cmd)
    if duplicate is not None:
        return duplicate
    acct = account(market, cmd.account)
    acct.cash_vnd += cmd.amount_vnd
    market.cash_total += cmd.amount_vnd
    if cmd.transfer_id is not None:
        market.transfers[cmd.transfer_id] = cmd.seq
    return [
        CashDeposited(
            seq=cmd.seq, ts_ns=cmd.ts_ns, account=cmd.account, amount_vnd=cmd.amount_vnd,
            balance_vnd=acct.cash_vnd, transfer_id=cmd.transfer_id,
        )
    ]


def withdraw(market: Market, cmd: Withdraw) -> list[Event]:
    if cmd.amount_vnd <= 0:
        return command_rejected(cmd, "invalid_amount", "amount must be positive", cmd.account)
    duplicate = _duplicate_transfer(market, cmd)
    if duplicate is not None:
        return duplicate
    acct = market.accounts.get(cmd.account)
    available = 0 if acct is None else acct.cash_available_vnd
    if acct is None or cmd.amount_vnd > available:
        return command_rejected(
            cmd, "insufficient_cash", f"{available} VND not held by orders", cmd.account
        )
    acct.cash_vnd -= cmd.amount_vnd
    market.cash_total -= cmd.amount_vnd
    if cmd.transfer_id is not None:
        market.transfers[cmd.transfer_id] = cmd.seq
    return [
        CashWithdrawn(
            seq=cmd.seq, ts_ns=cmd.ts_ns, account=cmd.account, amount_vnd=cmd.amount_vnd,
            balance_vnd=acct.cash_vnd, transfer_id=cmd.transfer_id,
        )
    ]


def receive_lot(market: Market, cmd: ReceiveLot) -> list[Event]:
    inst = market.instruments.get(cmd.symbol)
    if inst is None:
        return command_rejected(cmd, "unknown_symbol", cmd.symbol, cmd.account)
    if cmd.lot_id in market.lots:
        return command_rejected(cmd, "duplicate_lot", cmd.lot_id, cmd.account)
    if cmd.qty <= 0 or cmd.qty > MAX_QTY or cmd.qty % inst.qty_step:
        return command_rejected(
            cmd, "invalid_qty", f"a positive multiple of {inst.qty_step}", cmd.account
        )
    market.lots[cmd.lot_id] = cmd.symbol
    account(market, cmd.account).holding(cmd.symbol).add_lot(cmd.lot_id, cmd.qty)
    return [
        LotReceived(
            seq=cmd.seq, ts_ns=cmd.ts_ns, lot_id=cmd.lot_id, account=cmd.account,
            symbol=cmd.symbol, qty=cmd.qty,
        )
    ]


def withdraw_lot(market: Market, cmd: WithdrawLot) -> list[Event]:
    symbol = market.lots.get(cmd.lot_id)
    if symbol is None:
        return command_rejected(cmd, "unknown_lot", cmd.lot_id, cmd.account)
    acct = market.accounts.get(cmd.account)
    holding: Holding | None = None if acct is None else acct.holdings.get(symbol)
    qty = 0 if holding is None else holding.lot_qty(cmd.lot_id)
    if holding is None or qty == 0:
        return command_rejected(cmd, "lot_not_held", "the account holds none of it", cmd.account)
    if holding.qty - qty < holding.held:
        return command_rejected(
            cmd, "goods_held", "open sell orders hold these goods", cmd.account
        )
    holding.remove_lot(cmd.lot_id)
    return [
        LotWithdrawn(
            seq=cmd.seq, ts_ns=cmd.ts_ns, lot_id=cmd.lot_id, account=cmd.account,
            symbol=symbol, qty=qty,
        )
    ]
