"""The `Store` protocol and everything both stores share: the SQL, and every step of every call.

Owns the contract every store keeps (`Store`): migrations at open; one database transaction per
batch that writes the transactions, their lot legs and postings, the balances (which the
database refuses to take below zero), the invoice series and the booked position; a batch at or
below the booked position is skipped; a batch after a gap is booked and reported; the queries
(transactions by participant, lot, trace code, trade or invoice, a date range; pages keyed by
the cursor ``(seq, n)``, each at most `MAX_PAGE` long).

Each call is a *plan*: a generator that yields database operations (`Fetch`, `Exec`,
`ExecMany`, `Insert`) and receives their results, sans-I/O like the engine. A store only drives
plans (`PlanStore._drive`): SQLite on its worker thread, PostgreSQL with awaits. So the SQL
(written with ``?`` placeholders) and the order of the steps exist once; the dialect parts are
the placeholder style, bulk inserts (executemany or COPY), ``FOR UPDATE``, how a transaction
begins, and the statements of a migration that differ. Must never compute postings
(`settlement.booking`).
"""

from __future__ import annotations

import re
from collections.abc import Generator
from typing import Any, NamedTuple, Protocol, TypeVar

from msgspec import Struct

from grading.trace import parse_trace_url
from settlement.ledger import (
    DVP_COLUMNS,
    LOT_COLUMNS,
    POSTING_COLUMNS,
    TXN_COLUMNS,
    Batch,
    DvpChange,
    LedgerState,
    LedgerTxn,
    dvp_from_rows,
    txns_from_rows,
)
from settlement.schema import BOOKKEEPING, MIGRATIONS, Dialect

Row = tuple[Any, ...]
Cursor = tuple[int, int]  # (seq, n) of the last transaction a page returned
T = TypeVar("T")

#: The trades neither settled nor failed, with the key of their trade transaction.
OPEN_TRADES = ("SELECT d.trade_id, d.trade_seq, d.trade_n FROM dvp_changes d "
               "WHERE d.state = 'pending' AND NOT EXISTS (SELECT 1 FROM dvp_changes c "
               "WHERE c.trade_id = d.trade_id AND c.state IN ('settled', 'failed')) "
               "ORDER BY d.trade_id")
MAX_LIST = 100_000  # the most transactions one `transactions` call returns
MAX_PAGE = 1_000  # the most transactions one page of a query returns
_PARTY_COLUMNS = ("buyer", "seller", "account")
_IN_CHUNK = 500  # seqs per ``IN (...)`` list (well under both databases' parameter limits)


class ApplyResult(Struct, frozen=True):
    """``booked`` False: the batch was at or below the booked position (a duplicate).
    ``gap``: the seqs missing between the booked position and the batch (an alarm)."""

    booked: bool
    gap: tuple[int, int] | None = None


class StoreError(Exception):
    """The batch cannot be booked as given (overlap, broken invoice series): a bug upstream."""


# A trade's transactions by trade id, through dvp_changes' key (trade_id, state): its rows name
# the seq of the trade (pending), the payment (paid) and the reversal (failed); migration 5
# dropped the transactions (trade_id) index for this (one entry fewer per transaction).
_SEQ_OF_TRADES = "seq IN (SELECT seq FROM dvp_changes WHERE trade_id {})"
# The transactions with a lot leg matching ``lot_id = ?``: the trades (and a payment booked
# before migration 5, which stored its legs), and the payments of those trades, which name
# their trade and no legs of their own. Both through the lot id index and keys only, so the
# cost follows the lot's legs, not the ledger's size.
_WITH_LEGS = ("(EXISTS (SELECT 1 FROM trade_lots l WHERE l.seq = transactions.seq "
              "AND l.n = transactions.n AND l.lot_id = ?) "
              "OR (kind = 'payment' AND trade_id IN (SELECT t.trade_id FROM trade_lots l "
              "JOIN transactions t ON t.seq = l.seq AND t.n = l.n WHERE l.lot_id = ?)))")


def _lot_of(trace_url: str) -> str | None:
    """The lot a trace code names (legs are found by lot: the lot id is indexed, the trace
    code is not), or None for a text that is no trace code."""
    try:
        return parse_trace_url(trace_url)[1]
    except ValueError:
        return None


class Where(Struct, frozen=True, kw_only=True):
    """Which transactions a query returns: every field given must match (AND).

    ``participant``: the buyer, the seller, or the account of a cash or goods movement.
    ``lot_id``: trades with a leg of the lot, and the lot's goods in and out. ``trace_url``:
    trades with a leg of that trace code. ``from_ns``/``to_ns``: engine time, ``to`` exclusive.
    """

    participant: str | None = None
    lot_id: str | None = None
    trace_url: str | None = None
    trade_id: int | None = None
    trade_ids: tuple[int, ...] | None = None  # any of these (at most `MAX_PAGE`)
    invoice: tuple[int, int] | None = None  # (year, number)
    kind: str | None = None
    from_ns: int | None = None
    to_ns: int | None = None

    def sql(self, party_column: str | None = None) -> tuple[str, tuple[Any, ...]]:
        """The condition and its arguments; with ``party_column``, the participant matched in
        that column only (`find_plan` asks each of the three in turn)."""
        conds: list[str] = []
        args: list[Any] = []
        if self.participant is not None and party_column is not None:
            assert party_column in _PARTY_COLUMNS, party_column
            conds.append(f"{party_column} = ?")
            args.append(self.participant)
        elif self.participant is not None:
            conds.append("(buyer = ? OR seller = ? OR account = ?)")
            args += [self.participant] * 3
        if self.lot_id is not None:
            conds.append(f"({_WITH_LEGS} OR (ref = ? AND kind IN ('lot_in', 'lot_out')))")
            args += [self.lot_id] * 3
        if self.trace_url is not None:
            lot_id = _lot_of(self.trace_url)
            if lot_id is None:  # not a trace code this market issues: no leg has it
                conds.append("1 = 0")
            else:
                conds.append(_WITH_LEGS.replace("lot_id = ?", "lot_id = ? AND trace_url = ?"))
                args += [lot_id, self.trace_url] * 2
        if self.trade_id is not None:
            conds.append(f"{_SEQ_OF_TRADES.format('= ?')} AND trade_id = ?")
            args += [self.trade_id] * 2
        if self.trade_ids is not None:
            if not 0 < len(self.trade_ids) <= MAX_PAGE:
                raise ValueError(f"between 1 and {MAX_PAGE} trade ids")
            marks = f"IN ({', '.join('?' * len(self.trade_ids))})"
            conds.append(f"{_SEQ_OF_TRADES.format(marks)} AND trade_id {marks}")
            args += [*self.trade_ids, *self.trade_ids]
        if self.invoice is not None:
            conds.append("invoice_year = ? AND invoice_no = ?")
            args += list(self.invoice)
        if self.kind is not None:
            conds.append("kind = ?")
            args.append(self.kind)
        if self.from_ns is not None:
            conds.append("ts_ns >= ?")
            args.append(self.from_ns)
        if self.to_ns is not None:
            conds.append("ts_ns < ?")
            args.append(self.to_ns)
        return " AND ".join(conds) or "1 = 1", tuple(args)


class Page(Struct, frozen=True):
    """One page of a query, in (seq, n) order; ``next`` is the cursor of the following page
    (None: this was the last)."""

    txns: list[LedgerTxn]
    next: Cursor | None


class Charges(Struct, frozen=True):
    """The charges booked on trades: per seller ``(fee, levy, tax)``, in VND."""

    by_seller: dict[str, tuple[int, int, int]]


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
        """Credit balance per (account, unit), as the balances table holds it."""

    async def transactions(self, limit: int = MAX_LIST) -> list[LedgerTxn]:
        """The first ``limit`` transactions in (seq, n) order, with postings and legs."""

    async def dvp_changes(self, limit: int = MAX_LIST) -> list[DvpChange]:
        """The first ``limit`` DvP steps in (seq, trade_id) order."""

    async def find(self, where: Where, after: Cursor = (0, 0),
                   limit: int = MAX_PAGE) -> Page:
        """The transactions matching ``where`` after the cursor, at most ``limit``
        (≤ `MAX_PAGE`), with postings and legs."""

    async def invoice(self, year: int, number: int) -> LedgerTxn | None:
        """The trade transaction of one invoice."""

    async def charges(self) -> Charges:
        """Fee, levy and tax booked on trades, per seller (reconcile)."""

    async def posting_sums(self) -> dict[tuple[str, str], int]:
        """Credit balance per (account, unit) summed from the postings themselves (reconcile:
        must equal `balances`)."""


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


# --- plans: each call's steps, once for both stores --------------------------------------------


class Fetch(NamedTuple):
    """Rows of a query. ``lock``: PostgreSQL reads them ``FOR UPDATE``."""

    sql: str
    args: tuple[Any, ...] = ()
    lock: bool = False


class Exec(NamedTuple):
    sql: str
    args: tuple[Any, ...] = ()


class ExecMany(NamedTuple):
    sql: str
    rows: list[Row]


class Insert(NamedTuple):
    """Rows into a table: executemany in SQLite, COPY in PostgreSQL."""

    table: str
    columns: tuple[str, ...]
    rows: list[Row]


Op = Fetch | Exec | ExecMany | Insert
Plan = Generator[Op, Any, T]  # yields operations, receives each one's rows (or None)

# Two steps, because a database checks an upsert's proposed row before it finds the conflict: a
# debit would fail the CHECK as a new row even where the existing balance covers it.
_NEW_BAL = ("INSERT INTO balances (account, unit, balance, nonneg) VALUES (?, ?, 0, ?) "
            "ON CONFLICT (account, unit) DO NOTHING")
_BAL = "UPDATE balances SET balance = balance + ? WHERE account = ? AND unit = ?"
_TXN_SELECT = f"SELECT {', '.join(TXN_COLUMNS)} FROM transactions"


def _value(rows: list[Row]) -> Any:
    return rows[0][0] if rows else None


def migrate_plan(dialect: Dialect) -> Plan[None]:
    """Every pending migration, in order, in the caller's one transaction."""
    yield Exec(BOOKKEEPING)
    done = {r[0] for r in (yield Fetch("SELECT version FROM schema_migrations"))}
    for m in MIGRATIONS:
        if m.version in done:
            continue
        for stmt in m.statements(dialect):
            yield Exec(stmt)
        yield Exec("INSERT INTO schema_migrations (version, note) VALUES (?, ?)",
                   (m.version, m.note))


def schema_version_plan() -> Plan[int]:
    return int(_value((yield Fetch("SELECT max(version) FROM schema_migrations"))))


def load_state_plan() -> Plan[LedgerState]:
    last = _value((yield Fetch("SELECT last_seq FROM booker_state WHERE id = 1")))
    inv = yield Fetch("SELECT year, last_no FROM invoice_series")
    herbs = yield Fetch("SELECT symbol, herb FROM instruments")
    open_trades = yield Fetch(OPEN_TRADES)
    return LedgerState(last_seq=int(last), invoice_last={r[0]: int(r[1]) for r in inv},
                       herbs={r[0]: r[1] for r in herbs},
                       open_trades={int(r[0]): (int(r[1]), int(r[2])) for r in open_trades})


def apply_plan(batch: Batch) -> Plan[ApplyResult]:
    """The batch's writes, in the caller's one transaction; the position is read locked (a
    second booker waits instead of double-booking)."""
    last = int(_value((yield Fetch("SELECT last_seq FROM booker_state WHERE id = 1",
                                   lock=True))))
    skip = check_position(last, batch)
    if skip is not None:
        return skip
    # read after the position's lock is held, in a statement of its own: under READ COMMITTED
    # a new statement sees what a booker we waited for committed (a subquery of the locking
    # statement would read the series as it was before)
    years = list(batch.invoices)
    if years:
        rows = yield Fetch("SELECT year, last_no FROM invoice_series WHERE year IN "
                           f"({', '.join('?' * len(years))})", tuple(years), lock=True)
        stored = {int(r[0]): int(r[1]) for r in rows}
        for year in years:
            check_invoice(year, stored.get(year, 0), batch.invoices[year][0])
        yield ExecMany("INSERT INTO invoice_series (year, last_no) VALUES (?, ?) "
                       "ON CONFLICT (year) DO UPDATE SET last_no = excluded.last_no",
                       [(year, upto) for year, (_, upto) in batch.invoices.items()])
    yield Insert("transactions", TXN_COLUMNS, batch.txn_rows)
    yield Insert("trade_lots", LOT_COLUMNS, batch.leg_rows)
    yield Insert("postings", POSTING_COLUMNS, batch.posting_rows)
    yield Insert("dvp_changes", DVP_COLUMNS, batch.dvp_rows)
    if batch.deltas:
        yield ExecMany(_NEW_BAL, [(a, u, nn) for a, u, _, nn in batch.deltas])
        yield ExecMany(_BAL, [(d, a, u) for a, u, d, _ in batch.deltas])
    if batch.herbs:
        yield ExecMany("INSERT INTO instruments (symbol, herb) VALUES (?, ?) "
                       "ON CONFLICT (symbol) DO NOTHING", list(batch.herbs.items()))
    yield Exec("UPDATE booker_state SET last_seq = ? WHERE id = 1", (batch.last_seq,))
    return ApplyResult(True, gap_of(last, batch))


def dvp_changes_plan(limit: int) -> Plan[list[DvpChange]]:
    rows = yield Fetch(f"SELECT {', '.join(DVP_COLUMNS)} FROM dvp_changes "
                       "ORDER BY seq, trade_id LIMIT ?", (min(limit, MAX_LIST),))
    return dvp_from_rows(rows)


def balances_plan() -> Plan[dict[tuple[str, str], int]]:
    rows = yield Fetch("SELECT account, unit, balance FROM balances")
    return {(r[0], r[1]): int(r[2]) for r in rows}


def posting_sums_plan() -> Plan[dict[tuple[str, str], int]]:
    rows = yield Fetch("SELECT account, unit, CAST(-SUM(amount) AS BIGINT) FROM postings "
                       "GROUP BY account, unit")
    return {(r[0], r[1]): int(r[2]) for r in rows}


def charges_plan() -> Plan[Charges]:
    rows = yield Fetch("SELECT seller, CAST(SUM(fee_vnd) AS BIGINT), "
                       "CAST(SUM(levy_vnd) AS BIGINT), CAST(SUM(tax_vnd) AS BIGINT) "
                       "FROM transactions WHERE kind = 'payment' GROUP BY seller")
    return Charges({r[0]: (int(r[1]), int(r[2]), int(r[3])) for r in rows})


def first_plan(limit: int) -> Plan[list[LedgerTxn]]:
    """The first ``limit`` transactions (legs and postings read by key range)."""
    txns = yield Fetch(f"{_TXN_SELECT} ORDER BY seq, n LIMIT ?", (min(limit, MAX_LIST),))
    if not txns:
        return []
    upto = (txns[-1][0], txns[-1][1])
    lots = yield Fetch(f"SELECT {', '.join(LOT_COLUMNS)} FROM trade_lots "
                       "WHERE (seq, n) <= (?, ?) ORDER BY seq, n, leg", upto)
    posts = yield Fetch(f"SELECT {', '.join(POSTING_COLUMNS)} FROM postings "
                        "WHERE (seq, n) <= (?, ?) ORDER BY seq, n, i", upto)
    return txns_from_rows(txns, lots, posts)


def find_plan(where: Where, after: Cursor, limit: int) -> Plan[Page]:
    """One page of matching transactions; their legs and postings are read by the page's seqs
    (in chunks), so a sparse page over a long ledger reads only its own rows."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be in 1..{MAX_PAGE}")
    if where.participant is None:
        cond, args = where.sql()
        txns = yield Fetch(f"{_TXN_SELECT} WHERE (seq, n) > (?, ?) AND {cond} "
                           "ORDER BY seq, n LIMIT ?", (*after, *args, limit + 1))
    else:
        # One ordered, limited index range per column the participant may be in, merged: a
        # page never sorts all of a busy participant's rows (an OR across the three would).
        parts: list[str] = []
        params: list[Any] = []
        for i, column in enumerate(_PARTY_COLUMNS):
            cond, args = where.sql(column)
            parts.append(f"SELECT * FROM ({_TXN_SELECT} WHERE (seq, n) > (?, ?) AND {cond} "
                         f"ORDER BY seq, n LIMIT ?) AS p{i}")
            params += [*after, *args, limit + 1]
        txns = yield Fetch(f"SELECT * FROM ({' UNION '.join(parts)}) AS u "
                           "ORDER BY seq, n LIMIT ?", (*params, limit + 1))
    more = len(txns) > limit
    txns = txns[:limit]
    if not txns:
        return Page([], None)
    keys = {(r[0], r[1]) for r in txns}
    seqs = sorted({k[0] for k in keys})
    lots: list[Row] = []
    posts: list[Row] = []
    for i in range(0, len(seqs), _IN_CHUNK):
        chunk = tuple(seqs[i:i + _IN_CHUNK])
        marks = ", ".join("?" * len(chunk))
        lots += yield Fetch(f"SELECT {', '.join(LOT_COLUMNS)} FROM trade_lots "
                            f"WHERE seq IN ({marks}) ORDER BY seq, n, leg", chunk)
        posts += yield Fetch(f"SELECT {', '.join(POSTING_COLUMNS)} FROM postings "
                             f"WHERE seq IN ({marks}) ORDER BY seq, n, i", chunk)
    page = txns_from_rows(txns, [r for r in lots if (r[0], r[1]) in keys],
                          [r for r in posts if (r[0], r[1]) in keys])
    return Page(page, (page[-1].seq, page[-1].n) if more else None)


def invoice_plan(year: int, number: int) -> Plan[LedgerTxn | None]:
    page = yield from find_plan(Where(invoice=(year, number)), (0, 0), 1)
    return page.txns[0] if page.txns else None


_PLACEHOLDER = re.compile(r"\?")


def numbered(sql: str) -> str:
    """``?`` placeholders as PostgreSQL's ``$1, $2, …`` (our SQL has no ``?`` in literals)."""
    counter = iter(range(1, 1 << 16))
    return _PLACEHOLDER.sub(lambda _: f"${next(counter)}", sql)


class PlanStore:
    """The calls of `Store`, each a plan driven by the subclass's `_drive`; ``write`` plans
    run inside one database transaction."""

    async def _drive(self, plan: Plan[T], *, write: bool = False) -> T:
        raise NotImplementedError

    async def schema_version(self) -> int:
        return await self._drive(schema_version_plan())

    async def load_state(self) -> LedgerState:
        return await self._drive(load_state_plan())

    async def apply(self, batch: Batch) -> ApplyResult:
        return await self._drive(apply_plan(batch), write=True)

    async def balances(self) -> dict[tuple[str, str], int]:
        return await self._drive(balances_plan())

    async def transactions(self, limit: int = MAX_LIST) -> list[LedgerTxn]:
        return await self._drive(first_plan(limit))

    async def find(self, where: Where, after: Cursor = (0, 0),
                   limit: int = MAX_PAGE) -> Page:
        return await self._drive(find_plan(where, after, limit))

    async def invoice(self, year: int, number: int) -> LedgerTxn | None:
        return await self._drive(invoice_plan(year, number))

    async def charges(self) -> Charges:
        return await self._drive(charges_plan())

    async def posting_sums(self) -> dict[tuple[str, str], int]:
        return await self._drive(posting_sums_plan())

    async def dvp_changes(self, limit: int = MAX_LIST) -> list[DvpChange]:
        return await self._drive(dvp_changes_plan(limit))
