"""The ledger's vocabulary: accounts, units, postings, official-channel transactions, batches.

Owns the names of accounts and units, the sign convention and the invariant every posting set
must satisfy (`check_balanced`). Must never do I/O or compute fees (`settlement.booking`).

Sign convention: a posting's ``amount`` is positive for a debit and negative for a credit, so
a transaction balances when its amounts sum to zero per unit. Units are ``VND`` (integer đồng)
and ``KG:<lot id>`` (integer kg of one lot: goods of different lots never net against each
other). An account's balance in the stores is its credit balance (credits − debits): what the
market owes a participant, which must never be negative (`nonneg`).
"""

from __future__ import annotations

from typing import Literal

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


class Batch(Struct, frozen=True, kw_only=True):
    """Everything one database transaction writes: the transactions of the commands
    ``first_seq..last_seq``, the invoice numbers they used per year (``(first, last)``), the
    instruments they added, and ``last_seq`` as the new booked position."""

    first_seq: int
    last_seq: int
    txns: list[LedgerTxn]
    invoices: dict[int, tuple[int, int]] = {}
    herbs: dict[str, str] = {}
    dvp: list[DvpChange] = []


class Unbalanced(AssertionError):
    """A posting set that does not balance: a bug in booking, never a business refusal."""


def check_balanced(txn: LedgerTxn) -> None:
    totals: dict[str, int] = {}
    for p in txn.postings:
        totals[p.unit] = totals.get(p.unit, 0) + p.amount
    bad = {u: t for u, t in totals.items() if t}
    if bad:
        raise Unbalanced(f"transaction {txn.seq}/{txn.n} ({txn.kind}) off by {bad}")
