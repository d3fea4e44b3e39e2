"""Booking: the engine's events to ledger transactions. A pure function (no I/O, no clock).

Owns the posting rules per event kind, the money arithmetic of a trade (notional, fee, levy,
tax and the rounding rule), the invoice series and the invoicing year, and the ledger side of
delivery versus payment: a trade (invoiced at the trade) moves each side's cash and goods from
available to held; its payment moves the held cash to the seller, less the charges, and the
held goods to the buyer; its failure is a reversing transaction that references the trade's
and negates its postings; every DvP step is also a `DvpChange` row. Must never do I/O: the
store writes what `book` returns, and the trace codes come from a resolver passed in.

Rounding: every charge is computed once per trade on the trade's notional (price × qty) as
``notional × bps / 10,000`` rounded half up to a whole đồng (integer arithmetic:
``(notional × bps + 5,000) // 10,000``); the seller's proceeds are the notional minus the
charges, so the postings balance to the đồng by construction.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Sequence

from engine.messages import (
    CashDeposited,
    CashWithdrawn,
    Event,
    InstrumentAdded,
    LotLeg,
    LotReceived,
    LotUpdated,
    LotWithdrawn,
    TradeExecuted,
    TradeSettlementChanged,
)
from settlement.ledger import (
    BANK,
    FEES,
    FUND,
    TAX,
    VND,
    WAREHOUSE,
    Batch,
    DvpRow,
    Entry,
    LedgerState,
    LegRow,
    PostingRow,
    TxnKind,
    TxnRow,
    cash,
    cash_held,
    check_balanced,
    delta_rows,
    goods,
    goods_held,
    kg,
)
from settlement.schedule import Schedule

UTC_OFFSET_S = 7 * 3600  # Vietnam: UTC+7 all year (no daylight saving)
_EPOCH = dt.date(1970, 1, 1)
BPS = 10_000

#: One command's outcome as the sequencer published it: its seq and all its events (possibly
#: none). The booker feeds whole commands so that a gap in seqs is visible.
Step = tuple[int, Sequence[Event]]
_BOOKED = frozenset({TradeExecuted, CashDeposited, CashWithdrawn, LotReceived, LotUpdated,
                     LotWithdrawn, InstrumentAdded, TradeSettlementChanged})
TraceResolver = Callable[[str], "str | None"]


def charge(notional_vnd: int, bps: int) -> int:
    """A charge in whole đồng, rounded half up (see the module docstring)."""
    return (notional_vnd * bps + BPS // 2) // BPS


def vietnam_date(ts_ns: int) -> dt.date:
    """The calendar date in Vietnam (UTC+7) of an engine timestamp: it picks the invoicing
    year and the schedule's validity day."""
    return _date_of_day((ts_ns // 1_000_000_000 + UTC_OFFSET_S) // 86_400)


@functools.lru_cache(maxsize=64)
def _date_of_day(days_since_epoch: int) -> dt.date:
    return _EPOCH + dt.timedelta(days=days_since_epoch)


def book(state: LedgerState, steps: Sequence[Step], schedule: Schedule,
         trace: TraceResolver) -> tuple[Batch, LedgerState]:
    """The batch of ``steps`` (ascending seqs, all after ``state.last_seq``) and the state
    after it. ``state`` is not changed. Raises on steps out of order (a caller's bug).

    Each transaction goes straight into the batch's rows (`settlement.ledger.Batch`), its
    postings checked balanced (`check_balanced`) and summed into the balance deltas as they
    are written: one pass, no object per posting."""
    if not steps:
        raise ValueError("an empty batch")
    herbs: dict[str, str] = {}
    next_no: dict[int, int] = {}
    first_no: dict[int, int] = {}
    rates: dict[tuple[str, str | None, dt.date], tuple[int, int, int]] = {}
    txns: list[TxnRow] = []
    legs: list[LegRow] = []
    posts: list[PostingRow] = []
    dvp: list[DvpRow] = []
    sums: dict[tuple[str, str], int] = {}  # credit delta per (account, unit)
    opened: dict[int, tuple[int, int]] = {}  # trades of this batch, by id: their txn's key
    closed: list[int] = []

    def charges_of(symbol: str, day: dt.date) -> tuple[int, int, int]:
        herb = herbs.get(symbol) or state.herbs.get(symbol)
        key = (symbol, herb, day)
        bps = rates.get(key)
        if bps is None:
            bps = rates[key] = (schedule.rate_bps("fee", symbol, herb, day),
                                schedule.rate_bps("levy", symbol, herb, day),
                                schedule.rate_bps("tax", symbol, herb, day))
        return bps

    def post(seq: int, n: int, kind: str, entries: list[Entry]) -> None:
        check_balanced(seq, n, kind, entries)
        for i, (account, unit, amount) in enumerate(entries):
            posts.append((seq, n, i, account, unit, amount))
            key = (account, unit)
            sums[key] = sums.get(key, 0) - amount

    prev = state.last_seq
    for seq, events in steps:
        if seq <= prev:
            raise ValueError(f"step {seq} is not after {prev}")
        prev = seq
        n = 0
        for ev in events:
            if type(ev) not in _BOOKED:  # most events (books, orders) book nothing
                continue
            if isinstance(ev, TradeSettlementChanged):  # three per trade: the commonest
                key = opened.get(ev.trade_id) or state.open_trades.get(ev.trade_id)
                if key is None:  # the ledger never booked the trade: a bug upstream
                    raise ValueError(f"trade {ev.trade_id} changed to {ev.to_state} but was "
                                     "never booked")
                dvp.append((ev.trade_id, ev.to_state, ev.seq, ev.ts_ns, key[0], key[1]))
                if ev.to_state == "paid":
                    row, entries = _payment(
                        ev, n, charges_of(ev.symbol, vietnam_date(ev.trade_ts_ns)))
                    txns.append(row)
                    post(ev.seq, n, "payment", entries)
                    # no lot legs: they are the trade's (the invoice), stored once with it;
                    # the payment names its trade by trade_id (docs/settlement.md)
                    n += 1
                elif ev.to_state == "failed":
                    txns.append((ev.seq, n, "reversal", ev.ts_ns, None, None, ev.trade_id,
                                 ev.symbol, ev.buyer, ev.seller, ev.price_vnd, ev.qty,
                                 ev.value_vnd, 0, 0, 0, None, None, key[0], key[1]))
                    post(ev.seq, n, "reversal",
                         _holds(ev.buyer, ev.seller, ev.value_vnd, ev.lots, -1))
                    n += 1
                if ev.to_state in ("settled", "failed"):
                    opened.pop(ev.trade_id, None)
                    closed.append(ev.trade_id)
            elif isinstance(ev, TradeExecuted):
                day = vietnam_date(ev.ts_ns)
                year = day.year
                no = next_no.get(year, state.invoice_last.get(year, 0) + 1)
                first_no.setdefault(year, no)
                next_no[year] = no + 1
                row, entries = _trade(ev, n, year, charges_of(ev.symbol, day), no)
                txns.append(row)
                post(ev.seq, n, "trade", entries)
                legs.extend(_trade_legs(ev, n, trace))
                opened[ev.trade_id] = (ev.seq, n)
                dvp.append((ev.trade_id, "pending", ev.seq, ev.ts_ns, ev.seq, n))
                n += 1
            elif isinstance(ev, InstrumentAdded):
                herbs[ev.symbol] = ev.herb
            else:
                move = _move(ev)
                if move is not None:
                    kind, account, ref, entries = move
                    txns.append((ev.seq, n, kind, ev.ts_ns, account, ref, None, None, None,
                                 None, 0, 0, 0, 0, 0, 0, None, None, None, None))
                    post(ev.seq, n, kind, entries)
                    n += 1
    invoices = {y: (first_no[y], next_no[y] - 1) for y in first_no}
    open_trades = {**state.open_trades, **opened}
    for trade_id in closed:
        open_trades.pop(trade_id, None)
    after = LedgerState(
        last_seq=prev,
        invoice_last={**state.invoice_last, **{y: last for y, (_, last) in invoices.items()}},
        herbs={**state.herbs, **herbs},
        open_trades=open_trades,
    )
    batch = Batch(first_seq=steps[0][0], last_seq=prev, txn_rows=txns, leg_rows=legs,
                  posting_rows=posts, dvp_rows=dvp, deltas=delta_rows(sums),
                  invoices=invoices, herbs=herbs)
    return batch, after


def _move(ev: Event) -> tuple[TxnKind, str, str | None, list[Entry]] | None:
    """A cash or goods movement: its kind, participant, reference and postings; None for an
    event that books nothing (a lot update other than a receipt)."""
    if isinstance(ev, CashDeposited):
        return "deposit", ev.account, ev.transfer_id, [
            (BANK, VND, ev.amount_vnd), (cash(ev.account), VND, -ev.amount_vnd)]
    if isinstance(ev, CashWithdrawn):
        return "withdrawal", ev.account, ev.transfer_id, [
            (cash(ev.account), VND, ev.amount_vnd), (BANK, VND, -ev.amount_vnd)]
    if isinstance(ev, LotReceived) or (isinstance(ev, LotUpdated) and ev.action == "receive"):
        qty = ev.qty if isinstance(ev, LotReceived) else ev.custody_qty
        return "lot_in", ev.account, ev.lot_id, [
            (WAREHOUSE, kg(ev.lot_id), qty), (goods(ev.account), kg(ev.lot_id), -qty)]
    if isinstance(ev, LotWithdrawn):
        return "lot_out", ev.account, ev.lot_id, [
            (goods(ev.account), kg(ev.lot_id), ev.qty), (WAREHOUSE, kg(ev.lot_id), -ev.qty)]
    return None


def _holds(buyer: str, seller: str, notional: int, lots: Sequence[LotLeg],
           sign: int) -> list[Entry]:
    """A trade's holds (``sign`` 1; -1 undoes them): the buyer's cash from available to held,
    each lot leg of the seller's goods from available to held."""
    entries = [(cash(buyer), VND, sign * notional), (cash_held(buyer), VND, -sign * notional)]
    for leg in lots:
        unit = kg(leg.lot_id)
        entries.append((goods(seller), unit, sign * leg.qty))
        entries.append((goods_held(seller), unit, -sign * leg.qty))
    return entries


def _trade(ev: TradeExecuted, n: int, year: int, bps: tuple[int, int, int],
           invoice_no: int) -> tuple[TxnRow, list[Entry]]:
    """The trade, invoiced now, moves nothing yet (delivery versus payment): its postings are
    the holds (`_holds`). The invoice's charges (``bps``: fee, levy, tax) are computed here,
    on the trade's date, and booked at payment."""
    notional = ev.price_vnd * ev.qty
    row: TxnRow = (ev.seq, n, "trade", ev.ts_ns, None, None, ev.trade_id, ev.symbol, ev.buyer,
                   ev.seller, ev.price_vnd, ev.qty, notional, charge(notional, bps[0]),
                   charge(notional, bps[1]), charge(notional, bps[2]), year, invoice_no, None,
                   None)
    return row, _holds(ev.buyer, ev.seller, notional, ev.lots, 1)


def _trade_legs(ev: TradeExecuted, n: int, trace: TraceResolver) -> list[LegRow]:
    """Each lot leg of a trade with its trace code and, where the engine reported it, the
    lot's value (active content, price per kg of active ingredient, resale)."""
    values = ev.lot_values
    out: list[LegRow] = []
    for i, leg in enumerate(ev.lots):
        if i < len(values):
            v = values[i]
            out.append((ev.seq, n, i, leg.lot_id, leg.qty, trace(leg.lot_id), v.active_content,
                        v.price_per_kg_active_vnd, v.resale))
        else:
            out.append((ev.seq, n, i, leg.lot_id, leg.qty, trace(leg.lot_id), None, None,
                        False))
    return out


def _payment(ev: TradeSettlementChanged, n: int,
             bps: tuple[int, int, int]) -> tuple[TxnRow, list[Entry]]:
    """Payment: the buyer's held cash goes to the seller less the fee, the levy and the tax
    (the rates of the trade's date, as invoiced); each lot leg's held goods go to the buyer."""
    notional = ev.value_vnd
    fee, levy, tax = charge(notional, bps[0]), charge(notional, bps[1]), charge(notional, bps[2])
    row: TxnRow = (ev.seq, n, "payment", ev.ts_ns, None, None, ev.trade_id, ev.symbol,
                   ev.buyer, ev.seller, ev.price_vnd, ev.qty, notional, fee, levy, tax, None,
                   None, None, None)
    proceeds = notional - fee - levy - tax
    entries = [entry for entry in (
        (cash_held(ev.buyer), VND, notional), (cash(ev.seller), VND, -proceeds),
        (FEES, VND, -fee), (FUND, VND, -levy), (TAX, VND, -tax)) if entry[2]]  # never moves 0
    for leg in ev.lots:
        unit = kg(leg.lot_id)
        entries.append((goods_held(ev.seller), unit, leg.qty))
        entries.append((goods(ev.buyer), unit, -leg.qty))
    return row, entries
