"""The ledger's vocabulary: accounts, units, postings, official-channel transactions, batches.

Owns the names of accounts and units, the sign convention, the invariant every posting set
must satisfy (`check_balanced`), and the row layout of each ledger table: booking writes a
`Batch` as rows, the read side sees them as `LedgerTxn`. Must never do I/O or compute fees
(`settlement.booking`).

Sign convention: a posting's ``amount`` is positive for a debit and negative for a credit, so
a transaction balances when its amounts sum to zero per unit. Units are ``VND`` (integer đồng)
and ``KG:<lot id>`` (integer kg of one lot: goods of different lots never net against each
other). An account's balance in the stores is its credit balance (credits − debits): what the
market owes a participant, which must never be negative (`nonneg`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

from msgspec import Struct

VND = "VND"
BANK = "market:bank"  # the market's bank account (an asset: debit-normal)
WAREHOUSE = "market:warehouse"  # goods in the market's custody (an asset: debit-normal)
FEES = "market:fee_revenue"
FUND = "market:insurance_fund"
TAX = "market:tax_payable"

TxnKind = Literal["trade", "deposit", "withdrawal", "lot_in", "lot_out", "payment", "reversal"]
#: A trade's delivery-versus-payment state (`engine.dvp`), as recorded in ``dvp_changes``.
DvpState = Literal["pending", "paid", "delivered", "settled", "failed"]


def kg(lot_id: str) -> str:
    """The unit of one lot's goods."""
    return f"KG:{lot_id}"


def cash(participant: str) -> str:
    return f"cash:{participant}"


def goods(participant: str) -> str:
    return f"goods:{participant}"


def cash_held(participant: str) -> str:
    """The participant's cash held for its trades waiting for payment (delivery versus
    payment): still the participant's, not spendable."""
    return f"cash_held:{participant}"


def goods_held(participant: str) -> str:
    """The participant's goods sold and waiting for payment: still the participant's."""
    return f"goods_held:{participant}"


def nonneg(account: str) -> bool:
    """Whether the account's credit balance must stay ≥ 0: every participant account and the
    market's fee, fund and tax accounts; not the two asset accounts (bank, warehouse)."""
    return account not in (BANK, WAREHOUSE)


class Posting(Struct, array_like=True, frozen=True):
    account: str
    unit: str
    amount: int  # debit > 0, credit < 0


class LotLegRecord(Struct, array_like=True, frozen=True):
    """One lot's part of a trade, as invoiced: its trace code (GS1 Digital Link URI; None for
    goods received without a lot record), and its value when the engine reported one."""

    lot_id: str
    qty: int
    trace_url: str | None
    active_content: str | None = None
    price_per_kg_active_vnd: int | None = None
    resale: bool = False


class LedgerTxn(Struct, frozen=True, kw_only=True):
    """One ledger transaction, keyed by the engine ``seq`` of its command and its index ``n``
    among that command's transactions (deterministic, so a replay books the same keys).
    Trade fields are zero/None for cash and goods movements."""

    seq: int
    n: int
    kind: TxnKind
    ts_ns: int
    postings: list[Posting]
    account: str | None = None  # deposit, withdrawal, lot_in, lot_out: the participant
    ref: str | None = None  # the bank transfer id or the lot id
    trade_id: int | None = None
    symbol: str | None = None
    buyer: str | None = None
    seller: str | None = None
    price_vnd: int = 0
    qty: int = 0
    notional_vnd: int = 0
    fee_vnd: int = 0
    levy_vnd: int = 0
    tax_vnd: int = 0
    invoice_year: int | None = None
    invoice_no: int | None = None
    legs: list[LotLegRecord] = []
    reverses: tuple[int, int] | None = None  # (seq, n) of the transaction this one reverses

    @property
    def invoice(self) -> str | None:
        """The printed invoice number: ``HX<year>-<8 digits>``."""
        if self.invoice_no is None:
            return None
        return f"HX{self.invoice_year}-{self.invoice_no:08d}"


class DvpChange(Struct, array_like=True, frozen=True):
    """One step of a trade's delivery versus payment, as the ``dvp_changes`` table keeps it
    (append-only; a trade's current state is its latest row). ``seq`` is the command that made
    the step; ``trade_seq``/``trade_n`` the key of the trade's own transaction."""

    trade_id: int
    state: DvpState
    seq: int
    ts_ns: int
    trade_seq: int
    trade_n: int


class LedgerState(Struct, kw_only=True):
    """What booking needs to remember between batches; the store holds it durably, written in
    the same database transaction as each batch."""

    last_seq: int = 0
    invoice_last: dict[int, int] = {}  # invoicing year -> last invoice number issued
    herbs: dict[str, str] = {}  # instrument symbol -> herb code (from InstrumentAdded)
    # trade id -> (seq, n) of its trade transaction, while it is neither settled nor failed:
    # what a failure's reversal references
    open_trades: dict[int, tuple[int, int]] = {}


# --- rows: the ledger as the stores keep it -----------------------------------------------------
# Booking writes each transaction straight into rows of its tables, in these column orders, and
# the stores copy the rows as they are (no Struct per posting, no second pass): a trade and its
# payment are about twenty rows, and at tens of thousands of trades a second every object counts.
# `LedgerTxn` is the read side's view of the same rows (`txns_from_rows`).

TXN_COLUMNS = ("seq", "n", "kind", "ts_ns", "account", "ref", "trade_id", "symbol", "buyer",
               "seller", "price_vnd", "qty", "notional_vnd", "fee_vnd", "levy_vnd", "tax_vnd",
               "invoice_year", "invoice_no", "reverses_seq", "reverses_n")
LOT_COLUMNS = ("seq", "n", "leg", "lot_id", "qty", "trace_url", "active_content",
               "price_per_kg_active_vnd", "resale")
POSTING_COLUMNS = ("seq", "n", "i", "account", "unit", "amount")
DVP_COLUMNS = ("trade_id", "state", "seq", "ts_ns", "trade_seq", "trade_n")

TxnRow = tuple[int, int, str, int, str | None, str | None, int | None, str | None, str | None,
               str | None, int, int, int, int, int, int, int | None, int | None, int | None,
               int | None]
LegRow = tuple[int, int, int, str, int, str | None, str | None, int | None, bool]
PostingRow = tuple[int, int, int, str, str, int]
DvpRow = tuple[int, str, int, int, int, int]
#: ``(account, unit, credit delta, nonneg)``: what a batch adds to one balance
DeltaRow = tuple[str, str, int, bool]
#: a posting as booking builds it, before it is keyed: ``(account, unit, amount)``
Entry = tuple[str, str, int]


class Batch(Struct, frozen=True, kw_only=True):
    """Everything one database transaction writes: the rows of the transactions of the commands
    ``first_seq..last_seq`` (their lot legs, postings and DvP steps), the balance deltas summed
    over the batch, the invoice numbers used per year (``(first, last)``), the instruments
    added, and ``last_seq`` as the new booked position. `txns` and `dvp_changes` read it back."""

    first_seq: int
    last_seq: int
    txn_rows: list[TxnRow] = []
    leg_rows: list[LegRow] = []
    posting_rows: list[PostingRow] = []
    dvp_rows: list[DvpRow] = []
    deltas: list[DeltaRow] = []
    invoices: dict[int, tuple[int, int]] = {}
    herbs: dict[str, str] = {}

    @classmethod
    def of(cls, first_seq: int, last_seq: int, txns: Sequence[LedgerTxn],
           dvp: Sequence[DvpChange] = (), invoices: dict[int, tuple[int, int]] | None = None,
           herbs: dict[str, str] | None = None) -> Batch:
        """A batch of whole transactions (tests, and writes by hand), each checked balanced."""
        txn_rows: list[TxnRow] = []
        leg_rows: list[LegRow] = []
        posting_rows: list[PostingRow] = []
        sums: dict[tuple[str, str], int] = {}
        for t in txns:
            entries = [(p.account, p.unit, p.amount) for p in t.postings]
            check_balanced(t.seq, t.n, t.kind, entries)
            rs, rn = t.reverses if t.reverses is not None else (None, None)
            txn_rows.append((t.seq, t.n, t.kind, t.ts_ns, t.account, t.ref, t.trade_id,
                             t.symbol, t.buyer, t.seller, t.price_vnd, t.qty, t.notional_vnd,
                             t.fee_vnd, t.levy_vnd, t.tax_vnd, t.invoice_year, t.invoice_no,
                             rs, rn))
            leg_rows += [(t.seq, t.n, i, leg.lot_id, leg.qty, leg.trace_url, leg.active_content,
                          leg.price_per_kg_active_vnd, leg.resale)
                         for i, leg in enumerate(t.legs)]
            for i, (account, unit, amount) in enumerate(entries):
                posting_rows.append((t.seq, t.n, i, account, unit, amount))
                sums[account, unit] = sums.get((account, unit), 0) - amount
        return cls(first_seq=first_seq, last_seq=last_seq, txn_rows=txn_rows,
                   leg_rows=leg_rows, posting_rows=posting_rows,
                   dvp_rows=[(c.trade_id, c.state, c.seq, c.ts_ns, c.trade_seq, c.trade_n)
                             for c in dvp],
                   deltas=delta_rows(sums), invoices=invoices or {}, herbs=herbs or {})

    def txns(self) -> list[LedgerTxn]:
        """The batch's transactions, as a store reads them back."""
        return txns_from_rows(self.txn_rows, self.leg_rows, self.posting_rows)

    def dvp_changes(self) -> list[DvpChange]:
        return dvp_from_rows(self.dvp_rows)


def delta_rows(sums: dict[tuple[str, str], int]) -> list[DeltaRow]:
    """The non-zero credit deltas per (account, unit) as rows, with each account's `nonneg`."""
    return [(account, unit, delta, nonneg(account))
            for (account, unit), delta in sums.items() if delta]


def dvp_from_rows(rows: Sequence[Sequence[Any]]) -> list[DvpChange]:
    return [DvpChange(int(r[0]), r[1], int(r[2]), int(r[3]), int(r[4]), int(r[5]))
            for r in rows]


def txns_from_rows(txn_rows: Sequence[Sequence[Any]], lot_rows: Sequence[Sequence[Any]],
                   posting_rows: Sequence[Sequence[Any]]) -> list[LedgerTxn]:
    """Transactions from rows in TXN_/LOT_/POSTING_COLUMNS order, each sorted by key."""
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


class Unbalanced(AssertionError):
    """A posting set that does not balance: a bug in booking, never a business refusal."""


def check_balanced(seq: int, n: int, kind: str, entries: Iterable[Entry]) -> None:
    """The invariant of every posting set: its amounts sum to zero per unit. Booking asserts
    it for each transaction it builds (not once per batch: errors of two transactions could
    cancel out in a batch's sum)."""
    totals: dict[str, int] = {}
    for _, unit, amount in entries:
        totals[unit] = totals.get(unit, 0) + amount
    if any(totals.values()):
        bad = {u: t for u, t in totals.items() if t}
        raise Unbalanced(f"transaction {seq}/{n} ({kind}) off by {bad}")
