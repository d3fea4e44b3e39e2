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
    DvpChange,
    LedgerState,
    LedgerTxn,
    LotLegRecord,
    Posting,
    TxnKind,
    cash,
    cash_held,
    check_balanced,
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
    after it. ``state`` is not changed. Raises on steps out of order (a caller's bug)."""
    if not steps:
        raise ValueError("an empty batch")
    herbs: dict[str, str] = {}
    next_no: dict[int, int] = {}
    first_no: dict[int, int] = {}
    txns: list[LedgerTxn] = []
    rates: dict[tuple[str, str | None, dt.date], tuple[int, int, int]] = {}
    dvp: list[DvpChange] = []
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

    prev = state.last_seq
    for seq, events in steps:
        if seq <= prev:
            raise ValueError(f"step {seq} is not after {prev}")
        prev = seq
        n = 0
        for ev in events:
            if type(ev) not in _BOOKED:  # most events (books, orders) book nothing
                continue
            txn: LedgerTxn | None = None
            if isinstance(ev, TradeExecuted):
                day = vietnam_date(ev.ts_ns)
                year = day.year
                no = next_no.get(year, state.invoice_last.get(year, 0) + 1)
                first_no.setdefault(year, no)
                next_no[year] = no + 1
                txn = _trade(ev, n, day.year, charges_of(ev.symbol, day), no, trace)
                opened[ev.trade_id] = (ev.seq, n)
                dvp.append(DvpChange(ev.trade_id, "pending", ev.seq, ev.ts_ns, ev.seq, n))
            elif isinstance(ev, TradeSettlementChanged):
                key = opened.get(ev.trade_id) or state.open_trades.get(ev.trade_id)
                if key is None:  # the ledger never booked the trade: a bug upstream
                    raise ValueError(f"trade {ev.trade_id} changed to {ev.to_state} but was "
                                     "never booked")
                if ev.to_state == "paid":
                    txn = _payment(ev, n, charges_of(ev.symbol, vietnam_date(ev.trade_ts_ns)),
                                   trace)
                elif ev.to_state == "failed":
                    txn = _reversal(ev, n, key)
                dvp.append(DvpChange(ev.trade_id, ev.to_state, ev.seq, ev.ts_ns, *key))
                if ev.to_state in ("settled", "failed"):
                    opened.pop(ev.trade_id, None)
                    closed.append(ev.trade_id)
            elif isinstance(ev, CashDeposited):
                txn = _move(ev.seq, n, "deposit", ev.ts_ns, ev.account, ev.transfer_id,
                            [Posting(BANK, VND, ev.amount_vnd),
                             Posting(cash(ev.account), VND, -ev.amount_vnd)])
            elif isinstance(ev, CashWithdrawn):
                txn = _move(ev.seq, n, "withdrawal", ev.ts_ns, ev.account, ev.transfer_id,
                            [Posting(cash(ev.account), VND, ev.amount_vnd),
                             Posting(BANK, VND, -ev.amount_vnd)])
            elif isinstance(ev, LotReceived) or (
                    isinstance(ev, LotUpdated) and ev.action == "receive"):
                qty = ev.qty if isinstance(ev, LotReceived) else ev.custody_qty
                txn = _move(ev.seq, n, "lot_in", ev.ts_ns, ev.account, ev.lot_id,
                            [Posting(WAREHOUSE, kg(ev.lot_id), qty),
                             Posting(goods(ev.account), kg(ev.lot_id), -qty)])
            elif isinstance(ev, LotWithdrawn):
                txn = _move(ev.seq, n, "lot_out", ev.ts_ns, ev.account, ev.lot_id,
                            [Posting(goods(ev.account), kg(ev.lot_id), ev.qty),
                             Posting(WAREHOUSE, kg(ev.lot_id), -ev.qty)])
            elif isinstance(ev, InstrumentAdded):
                herbs[ev.symbol] = ev.herb
            if txn is not None:
                check_balanced(txn)
                txns.append(txn)
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
    batch = Batch(first_seq=steps[0][0], last_seq=prev, txns=txns, invoices=invoices,
                  herbs=herbs, dvp=dvp)
    return batch, after


def _move(seq: int, n: int, kind: TxnKind, ts_ns: int, account: str, ref: str | None,
          postings: list[Posting]) -> LedgerTxn:
    return LedgerTxn(seq=seq, n=n, kind=kind, ts_ns=ts_ns, account=account, ref=ref,
                     postings=postings)


def _holds(buyer: str, seller: str, notional: int, lots: Sequence[tuple[str, int]],
           sign: int) -> list[Posting]:
    """A trade's holds (``sign`` 1; -1 undoes them): the buyer's cash from available to held,
    each lot leg of the seller's goods from available to held."""
    postings = [Posting(cash(buyer), VND, sign * notional),
                Posting(cash_held(buyer), VND, -sign * notional)]
    for lot_id, qty in lots:
        unit = kg(lot_id)
        postings.append(Posting(goods(seller), unit, sign * qty))
        postings.append(Posting(goods_held(seller), unit, -sign * qty))
    return postings


def _trade(ev: TradeExecuted, n: int, year: int, bps: tuple[int, int, int], invoice_no: int,
           trace: TraceResolver) -> LedgerTxn:
    """The trade, invoiced now, moves nothing yet (delivery versus payment): the buyer's cash
    and the seller's goods of each lot leg go from available to held. The invoice's charges
    (``bps``: fee, levy, tax) are computed here, on the trade's date, and booked at payment."""
    notional = ev.price_vnd * ev.qty
    fee, levy, tax = (charge(notional, b) for b in bps)
    postings = _holds(ev.buyer, ev.seller, notional,
                      [(leg.lot_id, leg.qty) for leg in ev.lots], 1)
    legs: list[LotLegRecord] = []
    for i, leg in enumerate(ev.lots):
        value = ev.lot_values[i] if i < len(ev.lot_values) else None
        legs.append(LotLegRecord(
            leg.lot_id, leg.qty, trace(leg.lot_id),
            None if value is None else value.active_content,
            None if value is None else value.price_per_kg_active_vnd,
            False if value is None else value.resale,
        ))
    return LedgerTxn(
        seq=ev.seq, n=n, kind="trade", ts_ns=ev.ts_ns, postings=postings,
        trade_id=ev.trade_id, symbol=ev.symbol, buyer=ev.buyer, seller=ev.seller,
        price_vnd=ev.price_vnd, qty=ev.qty, notional_vnd=notional, fee_vnd=fee,
        levy_vnd=levy, tax_vnd=tax, invoice_year=year, invoice_no=invoice_no, legs=legs,
    )


def _payment(ev: TradeSettlementChanged, n: int, bps: tuple[int, int, int],
             trace: TraceResolver) -> LedgerTxn:
    """Payment: the buyer's held cash goes to the seller less the fee, the levy and the tax
    (the rates of the trade's date, as invoiced); each lot leg's held goods go to the buyer."""
    notional = ev.value_vnd
    fee, levy, tax = (charge(notional, b) for b in bps)
    postings = [Posting(account, VND, amount) for account, amount in (
        (cash_held(ev.buyer), notional), (cash(ev.seller), -(notional - fee - levy - tax)),
        (FEES, -fee), (FUND, -levy), (TAX, -tax)) if amount]  # a posting never moves 0
    for leg in ev.lots:
        unit = kg(leg.lot_id)
        postings.append(Posting(goods_held(ev.seller), unit, leg.qty))
        postings.append(Posting(goods(ev.buyer), unit, -leg.qty))
    return LedgerTxn(
        seq=ev.seq, n=n, kind="payment", ts_ns=ev.ts_ns, postings=postings,
        trade_id=ev.trade_id, symbol=ev.symbol, buyer=ev.buyer, seller=ev.seller,
        price_vnd=ev.price_vnd, qty=ev.qty, notional_vnd=notional, fee_vnd=fee,
        levy_vnd=levy, tax_vnd=tax,
        legs=[LotLegRecord(leg.lot_id, leg.qty, trace(leg.lot_id)) for leg in ev.lots],
    )


def _reversal(ev: TradeSettlementChanged, n: int, original: tuple[int, int]) -> LedgerTxn:
    """A failed trade: a new transaction with the trade's postings negated, referencing it
    (``reverses``). The ledger's rows are never changed."""
    postings = _holds(ev.buyer, ev.seller, ev.value_vnd,
                      [(leg.lot_id, leg.qty) for leg in ev.lots], -1)
    return LedgerTxn(
        seq=ev.seq, n=n, kind="reversal", ts_ns=ev.ts_ns, postings=postings,
        trade_id=ev.trade_id, symbol=ev.symbol, buyer=ev.buyer, seller=ev.seller,
        price_vnd=ev.price_vnd, qty=ev.qty, notional_vnd=ev.value_vnd, reverses=original,
    )
