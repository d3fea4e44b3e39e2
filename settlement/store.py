"""The `Store` protocol and what both stores share: rows of a batch, transactions from rows.

Owns the contract every store keeps (`Store`): migrations at open; one database transaction per
batch that writes the transactions, their lot legs and postings, the balances (which the
database refuses to take below zero), the invoice series and the booked position; a batch at or
below the booked position is skipped; a batch after a gap is booked and reported. Must never
compute postings (`settlement.booking`).
"""

from __future__ import annotations

from typing import Any, Protocol

from msgspec import Struct

from settlement.ledger import (
    Batch,
    DvpChange,
    LedgerState,
    LedgerTxn,
    LotLegRecord,
    Posting,
    nonneg,
)

Row = tuple[Any, ...]

TXN_COLUMNS = ("seq", "n", "kind", "ts_ns", "account", "ref", "trade_id", "symbol", "buyer",
               "seller", "price_vnd", "qty", "notional_vnd", "fee_vnd", "levy_vnd", "tax_vnd",
               "invoice_year", "invoice_no", "reverses_seq", "reverses_n")
LOT_COLUMNS = ("seq", "n", "leg", "lot_id", "qty", "trace_url", "active_content",
               "price_per_kg_active_vnd", "resale")
POSTING_COLUMNS = ("seq", "n", "i", "account", "unit", "amount")
DVP_COLUMNS = ("trade_id", "state", "seq", "ts_ns", "trade_seq", "trade_n")
#: The trades neither settled nor failed, with the key of their trade transaction.
OPEN_TRADES = ("SELECT d.trade_id, d.trade_seq, d.trade_n FROM dvp_changes d "
               "WHERE d.state = 'pending' AND NOT EXISTS (SELECT 1 FROM dvp_changes c "
               "WHERE c.trade_id = d.trade_id AND c.state IN ('settled', 'failed')) "
               "ORDER BY d.trade_id")
MAX_LIST = 100_000  # the most transactions one `transactions` call returns


class ApplyResult(Struct, frozen=True):
    """``booked`` False: the batch was at or below the booked position (a duplicate).
    ``gap``: the seqs missing between the booked position and the batch (an alarm)."""

    booked: bool
    gap: tuple[int, int] | None = None


class StoreError(Exception):
    """The batch cannot be booked as given (overlap, broken invoice series): a bug upstream."""


class Store(Protocol):
    name: str

    async def open(self) -> None:
        """Connect and apply the pending migrations."""

    async def close(self) -> None: ...

    async def schema_version(self) -> int: ...

    async def load_state(self) -> LedgerState: ...

    async def apply(self, batch: Batch) -> ApplyResult:
        """Book the batch in one database transaction (all or nothing)."""

    async def balances(self) -> dict[tuple[str, str], int]:
        """Credit balance per (account, unit)."""

    async def transactions(self, limit: int = MAX_LIST) -> list[LedgerTxn]:
        """The first ``limit`` transactions in (seq, n) order, with postings and legs."""

    async def dvp_changes(self, limit: int = MAX_LIST) -> list[DvpChange]:
        """The first ``limit`` DvP steps in (seq, trade_id) order."""


def check_position(last_seq: int, batch: Batch) -> ApplyResult | None:
    """None to book the batch; a result to return without booking. Raises on an overlap."""
    if batch.last_seq <= last_seq:
        return ApplyResult(False)
    if batch.first_seq <= last_seq:
        raise StoreError(f"batch {batch.first_seq}..{batch.last_seq} overlaps the booked "
                         f"position {last_seq}")
    return None


def gap_of(last_seq: int, batch: Batch) -> tuple[int, int] | None:
    return (last_seq + 1, batch.first_seq - 1) if batch.first_seq > last_seq + 1 else None


def check_invoice(year: int, stored_last: int, first: int) -> None:
    if first != stored_last + 1:
        raise StoreError(f"invoice series {year}: batch starts at {first}, the store's last "
                         f"is {stored_last}")


def batch_rows(batch: Batch) -> tuple[list[Row], list[Row], list[Row], list[Row]]:
    """Rows of transactions, lot legs, postings, and balance deltas
    ``(account, unit, credit delta, nonneg)`` summed over the batch."""
    txns: list[Row] = []
    lots: list[Row] = []
    posts: list[Row] = []
    deltas: dict[tuple[str, str], int] = {}
    for t in batch.txns:
        rs, rn = t.reverses if t.reverses is not None else (None, None)
        txns.append((t.seq, t.n, t.kind, t.ts_ns, t.account, t.ref, t.trade_id, t.symbol,
                     t.buyer, t.seller, t.price_vnd, t.qty, t.notional_vnd, t.fee_vnd,
                     t.levy_vnd, t.tax_vnd, t.invoice_year, t.invoice_no, rs, rn))
        for leg_no, leg in enumerate(t.legs):
            lots.append((t.seq, t.n, leg_no, leg.lot_id, leg.qty, leg.trace_url,
                         leg.active_content, leg.price_per_kg_active_vnd, leg.resale))
        for i, p in enumerate(t.postings):
            posts.append((t.seq, t.n, i, p.account, p.unit, p.amount))
            key = (p.account, p.unit)
            deltas[key] = deltas.get(key, 0) - p.amount
    bal = [(a, u, d, nonneg(a)) for (a, u), d in deltas.items() if d]
    return txns, lots, posts, bal


def dvp_rows(batch: Batch) -> list[Row]:
    return [(c.trade_id, c.state, c.seq, c.ts_ns, c.trade_seq, c.trade_n) for c in batch.dvp]


def dvp_from_rows(rows: list[Row]) -> list[DvpChange]:
    return [DvpChange(int(r[0]), r[1], int(r[2]), int(r[3]), int(r[4]), int(r[5]))
            for r in rows]


def txns_from_rows(txn_rows: list[Row], lot_rows: list[Row],
                   posting_rows: list[Row]) -> list[LedgerTxn]:
    """Rebuild transactions from rows in TXN_/LOT_/POSTING_COLUMNS order, each sorted by key."""
    legs: dict[tuple[int, int], list[LotLegRecord]] = {}
    for r in lot_rows:
        legs.setdefault((r[0], r[1]), []).append(
            LotLegRecord(r[3], r[4], r[5], r[6], r[7], bool(r[8])))
    posts: dict[tuple[int, int], list[Posting]] = {}
    for r in posting_rows:
        posts.setdefault((r[0], r[1]), []).append(Posting(r[3], r[4], r[5]))
    out = []
    for r in txn_rows:
        key = (r[0], r[1])
        out.append(LedgerTxn(
            seq=r[0], n=r[1], kind=r[2], ts_ns=r[3], account=r[4], ref=r[5], trade_id=r[6],
            symbol=r[7], buyer=r[8], seller=r[9], price_vnd=r[10], qty=r[11],
            notional_vnd=r[12], fee_vnd=r[13], levy_vnd=r[14], tax_vnd=r[15],
            invoice_year=r[16], invoice_no=r[17],
            reverses=None if r[18] is None else (r[18], r[19]),
            postings=posts.get(key, []), legs=legs.get(key, []),
        ))
    return out
