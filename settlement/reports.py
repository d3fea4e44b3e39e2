"""Reports from the ledger: statements per participant, invoice numbers, Vietnam-day ranges.

Owns the shape of a statement (one line per lot leg of a trade, per cash movement and per goods
movement; sales summed per lot), its CSV form, how a trade's charges are shared among its lot
legs, and the printed invoice number's syntax. Pure: the caller reads the transactions from a
store (`settlement.store.Store.find`) and passes them in. Never does I/O.

A trade's fee, levy and tax are charged once on the whole trade (`settlement.booking`); a
statement line is a lot leg, so each charge is shared among the legs in proportion to their
quantities, rounded down, and the last leg takes the remainder: the legs of a trade always sum
to the trade's charges exactly.

Under delivery versus payment a statement says when money really moved: the trade's lines
(``sale``, ``purchase``: the invoice, the lots and trace codes, the charges as invoiced) move no
cash, only hold the buyer's (``held_vnd``); the payment's lines (``sale_paid``,
``purchase_paid``) carry the cash, and a failed trade's lines (``*_reversal``) negate the trade
and release the hold. So a line's ``cash_vnd`` minus its ``held_vnd`` is what the ledger moved
in the participant's available cash (``cash:``), and ``held_vnd`` what it moved in its held
cash (``cash_held:``).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable, Mapping

import msgspec
from msgspec import Struct

from settlement.booking import UTC_OFFSET_S, vietnam_date
from settlement.ledger import LedgerTxn, cash, goods

_INVOICE = re.compile(r"HX(\d{4})-(\d{8})")
MAX_DAYS = 366  # the longest date range one statement covers
_NS = 1_000_000_000


def parse_invoice(text: str) -> tuple[int, int] | None:
    """``HX2026-00000001`` → ``(2026, 1)``; None for anything else."""
    m = _INVOICE.fullmatch(text)
    return None if m is None else (int(m[1]), int(m[2]))


def day_start_ns(day: dt.date) -> int:
    """00:00 in Vietnam (UTC+7) of ``day``, as engine time (ns since the epoch, UTC)."""
    return ((day - dt.date(1970, 1, 1)).days * 86_400 - UTC_OFFSET_S) * _NS


def day_range_ns(first: dt.date, last: dt.date) -> tuple[int, int]:
    """Engine times ``[from, to)`` of the Vietnam days ``first`` to ``last``, both included."""
    return day_start_ns(first), day_start_ns(last + dt.timedelta(days=1))


class StatementLine(Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One line: a lot leg of a sale or a purchase, of its payment or of its failure, a deposit
    or withdrawal, goods in or out. ``cash_vnd`` is the change to the cash the participant owns
    (available or held): it moves at payment (a sale: the leg's net proceeds; a purchase: minus
    the leg's price), never at the trade. ``held_vnd`` is the change to the part of it held for
    trades waiting for payment (a purchase: plus the leg's price at the trade, minus it at the
    payment or the failure)."""

    kind: str  # sale, purchase, sale_paid, purchase_paid, sale_reversal, purchase_reversal, ...
    seq: int
    n: int
    date: str  # Vietnam date, YYYY-MM-DD
    cash_vnd: int = 0
    held_vnd: int = 0
    invoice: str | None = None
    trade_id: int | None = None
    symbol: str | None = None
    counterparty: str | None = None
    lot_id: str | None = None
    trace_url: str | None = None
    qty: int = 0
    price_vnd: int = 0
    gross_vnd: int = 0
    fee_vnd: int = 0
    levy_vnd: int = 0
    tax_vnd: int = 0
    net_vnd: int = 0
    active_content: str | None = None
    price_per_kg_active_vnd: int | None = None
    ref: str | None = None


class LotSales(Struct, frozen=True, kw_only=True):
    """A seller's sales of one lot in the statement's range: what was invoiced (less what
    failed), and ``paid_vnd``, the net proceeds paid in the range."""

    lot_id: str
    trace_url: str | None
    qty: int
    gross_vnd: int
    fee_vnd: int
    levy_vnd: int
    tax_vnd: int
    net_vnd: int
    paid_vnd: int = 0


class Statement(Struct, frozen=True, kw_only=True):
    participant: str
    from_date: str
    to_date: str
    lines: list[StatementLine]
    lots: list[LotSales]  # sales per lot (a cooperative's proceeds)
    cash_in_vnd: int  # the sum of the lines' positive cash changes
    cash_out_vnd: int  # the sum of the negative ones, as a positive number
    next: str | None = None  # the cursor of the following page, when the range has more


def shares(total: int, qtys: list[int]) -> list[int]:
    """``total`` split in proportion to ``qtys``, rounded down, the last taking the rest."""
    whole = sum(qtys)
    out = [total * q // whole for q in qtys[:-1]]
    return [*out, total - sum(out)]


def lines_of(participant: str, txn: LedgerTxn,
             originals: Mapping[int, LedgerTxn] | None = None) -> list[StatementLine]:
    """The statement lines one transaction gives ``participant`` (none if not theirs).

    A payment gives the trade's own lines as ``sale_paid`` and ``purchase_paid`` on the
    payment's date, with the cash; a reversal (a failed trade) gives them negated, as
    ``sale_reversal`` and ``purchase_reversal``, releasing the buyer's hold. Both need the trade
    (``originals``, by trade id), which holds the invoice, the lots and the charges per leg. A
    payment without its trade gives one line of its own (no invoice, no lot); a reversal
    without it is an error (the caller fetches them: `missing_trades`)."""
    date = vietnam_date(txn.ts_ns).isoformat()
    seq, n = txn.seq, txn.n
    if txn.kind in ("payment", "reversal"):
        if participant not in (txn.buyer, txn.seller):
            return []
        trade = None if originals is None or txn.trade_id is None else originals.get(
            txn.trade_id)
        if txn.kind == "payment":
            if trade is None:
                return _payment_alone(participant, txn, date)
            return [msgspec.structs.replace(
                line, kind=f"{line.kind}_paid", seq=seq, n=n, date=date,
                cash_vnd=line.net_vnd if line.kind == "sale" else -line.gross_vnd,
                held_vnd=-line.held_vnd) for line in lines_of(participant, trade)]
        if trade is None:
            raise ValueError(f"reversal ({seq}, {n}) of trade {txn.trade_id} without its trade")
        return [msgspec.structs.replace(
            line, kind=f"{line.kind}_reversal", seq=seq, n=n, date=date,
            held_vnd=-line.held_vnd, qty=-line.qty, gross_vnd=-line.gross_vnd,
            fee_vnd=-line.fee_vnd, levy_vnd=-line.levy_vnd, tax_vnd=-line.tax_vnd,
            net_vnd=-line.net_vnd) for line in lines_of(participant, trade)]
    if txn.kind != "trade":
        if txn.account != participant:
            return []
        if txn.kind in ("deposit", "withdrawal"):
            amount = sum(-p.amount for p in txn.postings if p.account == cash(participant))
            return [StatementLine(kind=txn.kind, cash_vnd=amount, ref=txn.ref, seq=seq, n=n,
                                  date=date)]
        qty = sum(-p.amount for p in txn.postings if p.account == goods(participant))
        return [StatementLine(kind=txn.kind, lot_id=txn.ref, qty=qty, seq=seq, n=n,
                              date=date)]
    sides = [s for s, who in (("sale", txn.seller), ("purchase", txn.buyer)) if who == participant]
    legs = txn.legs
    qtys = [leg.qty for leg in legs]
    fees, levies, taxes = (shares(c, qtys) for c in (txn.fee_vnd, txn.levy_vnd, txn.tax_vnd))
    out = []
    for side in sides:  # both, when a participant trades with itself
        for i, leg in enumerate(legs):
            gross = leg.qty * txn.price_vnd
            sale = side == "sale"
            net = gross - fees[i] - levies[i] - taxes[i] if sale else gross
            # no cash at the trade (delivery versus payment): the buyer's is held until paid
            out.append(StatementLine(
                kind=side, held_vnd=0 if sale else gross, invoice=txn.invoice,
                trade_id=txn.trade_id, symbol=txn.symbol,
                counterparty=txn.buyer if sale else txn.seller, lot_id=leg.lot_id,
                trace_url=leg.trace_url, qty=leg.qty, price_vnd=txn.price_vnd,
                gross_vnd=gross, fee_vnd=fees[i] if sale else 0,
                levy_vnd=levies[i] if sale else 0, tax_vnd=taxes[i] if sale else 0,
                net_vnd=net, active_content=leg.active_content,
                price_per_kg_active_vnd=leg.price_per_kg_active_vnd, seq=seq, n=n, date=date))
    return out


def _payment_alone(participant: str, txn: LedgerTxn, date: str) -> list[StatementLine]:
    """A payment's lines from the payment alone (its trade not given): one per side, with
    the trade's totals as the payment booked them."""
    charges = txn.fee_vnd + txn.levy_vnd + txn.tax_vnd
    out = []
    for side, who in (("sale", txn.seller), ("purchase", txn.buyer)):
        if who != participant:
            continue
        sale = side == "sale"
        net = txn.notional_vnd - charges if sale else txn.notional_vnd
        out.append(StatementLine(
            kind=f"{side}_paid", seq=txn.seq, n=txn.n, date=date,
            cash_vnd=net if sale else -txn.notional_vnd,
            held_vnd=0 if sale else -txn.notional_vnd, trade_id=txn.trade_id,
            symbol=txn.symbol, counterparty=txn.buyer if sale else txn.seller, qty=txn.qty,
            price_vnd=txn.price_vnd, gross_vnd=txn.notional_vnd,
            fee_vnd=txn.fee_vnd if sale else 0, levy_vnd=txn.levy_vnd if sale else 0,
            tax_vnd=txn.tax_vnd if sale else 0, net_vnd=net))
    return out


def statement(participant: str, first: dt.date, last: dt.date, txns: Iterable[LedgerTxn],
              next_cursor: str | None = None,
              originals: Iterable[LedgerTxn] = ()) -> Statement:
    """``originals``: the trades of the payments and reversals in ``txns`` that ``txns``
    does not hold (booked before the range or the page); the caller fetches them
    (`missing_trades`)."""
    txns = list(txns)
    trades = {t.trade_id: t for t in (*originals, *txns)
              if t.kind == "trade" and t.trade_id is not None}
    lines = [line for t in txns for line in lines_of(participant, t, trades)]
    lots: dict[str, LotSales] = {}
    for s in lines:
        if s.kind not in ("sale", "sale_reversal", "sale_paid") or s.lot_id is None:
            continue
        was = lots.get(s.lot_id) or LotSales(lot_id=s.lot_id, trace_url=s.trace_url, qty=0,
                                             gross_vnd=0, fee_vnd=0, levy_vnd=0, tax_vnd=0,
                                             net_vnd=0)
        if s.kind == "sale_paid":  # the money of a sale invoiced (and counted) at its trade
            lots[s.lot_id] = msgspec.structs.replace(was, paid_vnd=was.paid_vnd + s.cash_vnd)
            continue
        lots[s.lot_id] = LotSales(
            lot_id=s.lot_id, trace_url=was.trace_url or s.trace_url, qty=was.qty + s.qty,
            gross_vnd=was.gross_vnd + s.gross_vnd, fee_vnd=was.fee_vnd + s.fee_vnd,
            levy_vnd=was.levy_vnd + s.levy_vnd, tax_vnd=was.tax_vnd + s.tax_vnd,
            net_vnd=was.net_vnd + s.net_vnd, paid_vnd=was.paid_vnd)
    return Statement(
        participant=participant, from_date=first.isoformat(), to_date=last.isoformat(),
        lines=lines, lots=list(lots.values()),
        cash_in_vnd=sum(s.cash_vnd for s in lines if s.cash_vnd > 0),
        cash_out_vnd=-sum(s.cash_vnd for s in lines if s.cash_vnd < 0), next=next_cursor)


def missing_trades(txns: Iterable[LedgerTxn]) -> list[int]:
    """The trade ids whose payment or reversal is in ``txns`` but whose trade is not: the
    ``originals`` a statement of ``txns`` needs."""
    txns = list(txns)
    have = {t.trade_id for t in txns if t.kind == "trade"}
    return sorted({t.trade_id for t in txns if t.kind in ("payment", "reversal")
                   and t.trade_id is not None and t.trade_id not in have})


CSV_COLUMNS = tuple(f for f in StatementLine.__struct_fields__)


def statement_csv(st: Statement) -> str:
    """The statement's lines as CSV (RFC 4180, a header row, empty cells for none). Cells that
    a spreadsheet would read as a formula are quoted with a leading apostrophe."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(CSV_COLUMNS)
    for line in st.lines:
        w.writerow([_cell(getattr(line, f)) for f in CSV_COLUMNS])
    return buf.getvalue()


def _cell(value: object) -> str:
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") and not _is_number(text) else text


def _is_number(text: str) -> bool:
    return re.fullmatch(r"-?\d+(\.\d+)?", text) is not None
