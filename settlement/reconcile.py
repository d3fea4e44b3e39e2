"""`herbx reconcile`: the engine's balances and custody against the ledger, and the ledger
against itself.

Owns the mapping from the engine's state to the ledger balances it implies
(`expected_balances`: the one place to edit when the ledger books more, such as held cash and
goods) and the comparison. Reads only: the engine is rebuilt from the data directory
(`settlement.resume.engine_at`, no lock) at the ledger's booked seq, so a ledger that lags
behind the journal is compared with the engine as it stood at that seq, and the lag is
reported (a failure only with ``strict``).

Checks, each difference listed:
- every (account, unit) balance the engine implies equals the ledger's balance, and the ledger
  has no balance the engine does not imply;
- the balances table equals the postings summed (a row written around the booker shows here);
- the trial balance nets to zero per unit, in the balances table and in the postings;
- the ledger is not ahead of the journal.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from msgspec import Struct

from engine.durable.journal import JournalCorrupt
from engine.exchange import Exchange
from settlement.ledger import (
    BANK,
    FEES,
    FUND,
    TAX,
    VND,
    WAREHOUSE,
    cash,
    cash_held,
    goods,
    goods_held,
    kg,
)
from settlement.resume import engine_at
from settlement.store import Charges, Store

Key = tuple[str, str]  # (account, unit)


def expected_balances(exchange: Exchange, charges: Charges) -> dict[Key, int]:
    """The credit balance per (account, unit) that the engine's state implies, zeros left out.

    The engine moves the full notional from buyer to seller at payment and knows no fees, so the
    charges booked at payment (``charges``, per seller) come off the sellers' cash and are the
    market's fee, fund and tax accounts. A participant's cash is its engine cash less what waits
    for a trade's payment (order holds are the engine's, not booked): that is its
    ``cash_held``. Goods are per lot: the participant's lots plus what it has in a live auction
    (the auction house keeps those aside; the ledger leaves them with the seller until sold),
    plus a recorded lot's goods received and not listed, and a rejected lot's frozen goods;
    the lot legs of its sales waiting for payment are its ``goods_held``. The bank and the
    warehouse are the other side of everything."""
    out: dict[Key, int] = {}

    def add(account: str, unit: str, amount: int) -> None:
        if amount:
            key = (account, unit)
            total = out.get(key, 0) + amount
            if total:
                out[key] = total
            else:
                out.pop(key, None)

    for acc in exchange.accounts.values():
        fee, levy, tax = charges.by_seller.get(acc.account_id, (0, 0, 0))
        add(cash(acc.account_id), VND, acc.cash_vnd - acc.cash_dvp_vnd - fee - levy - tax)
        add(cash_held(acc.account_id), VND, acc.cash_dvp_vnd)
        add(BANK, VND, -acc.cash_vnd)
        for holding in acc.holdings.values():
            for entry in holding.lots:
                add(goods(acc.account_id), kg(entry.lot_id), entry.qty)
                add(WAREHOUSE, kg(entry.lot_id), -entry.qty)
    for settlement in exchange.settlements.values():
        if settlement.state == "pending":  # paid moved the legs to the buyer's lots
            for leg in settlement.lots:
                add(goods_held(settlement.seller), kg(leg.lot_id), leg.qty)
                add(WAREHOUSE, kg(leg.lot_id), -leg.qty)
    for auction in exchange.auctions.auctions.values():
        if auction.remaining:
            add(goods(auction.seller), kg(auction.lot_id), auction.remaining)
            add(WAREHOUSE, kg(auction.lot_id), -auction.remaining)
    for rec in exchange.lot_book.records.values():
        # a recorded lot's goods outside any holding: received and not listed (``warehouse``,
        # the owner's), and a rejected lot's goods taken from their holders (``frozen``)
        lot_id = rec.lot.lot_id
        for holder, qty in [(rec.owner, rec.warehouse), *rec.frozen]:
            add(goods(holder), kg(lot_id), qty)
            add(WAREHOUSE, kg(lot_id), -qty)
    for i, account in enumerate((FEES, FUND, TAX)):
        add(account, VND, sum(c[i] for c in charges.by_seller.values()))
    return out


class Difference(Struct, frozen=True):
    check: str  # engine, postings, trial_balance, position, lag
    what: str  # the account and unit, or the unit, or the seq
    expected: int
    actual: int

    def line(self) -> str:
        return (f"{self.check}: {self.what}: expected {self.expected:,}, ledger has "
                f"{self.actual:,} (off by {self.actual - self.expected:+,})")


def compare(expected: dict[Key, int], actual: dict[Key, int], check: str) -> list[Difference]:
    return [Difference(check, f"{a} {u}", expected.get((a, u), 0), actual.get((a, u), 0))
            for a, u in sorted(expected.keys() | actual.keys())
            if expected.get((a, u), 0) != actual.get((a, u), 0)]


def trial_balance(balances: dict[Key, int], check: str) -> list[Difference]:
    per_unit: dict[str, int] = {}
    for (_, unit), b in balances.items():
        per_unit[unit] = per_unit.get(unit, 0) + b
    return [Difference(check, unit, 0, total) for unit, total in sorted(per_unit.items())
            if total]


class Report(Struct, frozen=True, kw_only=True):
    differences: list[Difference]
    booked_seq: int
    journal_seq: int
    accounts: int  # (account, unit) balances compared
    strict: bool

    @property
    def lag(self) -> int:
        return max(0, self.journal_seq - self.booked_seq)

    @property
    def ok(self) -> bool:
        return not self.differences

    def summary(self) -> dict[str, Any]:
        return {"ok": self.ok, "differences": len(self.differences),
                "booked_seq": self.booked_seq, "journal_seq": self.journal_seq,
                "lag": self.lag, "balances": self.accounts, "strict": self.strict}


async def reconcile(data_dir: Path, store: Store, *, strict: bool = False) -> Report:
    state = await store.load_state()
    booked = state.last_seq
    balances = await store.balances()
    sums = await store.posting_sums()
    charges = await store.charges()
    exchange, journal_seq = engine_at(data_dir, booked)
    diffs: list[Difference] = []
    if booked > journal_seq:
        diffs.append(Difference("position", "booked seq beyond the journal's last seq",
                                journal_seq, booked))
    elif strict and journal_seq > booked:
        diffs.append(Difference("lag", "booked seq behind the journal (--strict)",
                                journal_seq, booked))
    expected = expected_balances(exchange, charges)
    diffs += compare(expected, {k: b for k, b in balances.items() if b}, "engine")
    diffs += compare({k: b for k, b in balances.items() if b}, sums, "postings")
    diffs += trial_balance(balances, "trial_balance")
    diffs += trial_balance(sums, "trial_balance_postings")
    return Report(differences=diffs, booked_seq=booked, journal_seq=journal_seq,
                  accounts=len(expected.keys() | balances.keys()), strict=strict)


async def run(data_dir: Path, store: Store, *, strict: bool,
              out: Callable[[str], None] = print) -> int:
    """The command on an open store: every difference on its own line, then one JSON line;
    0 when clean, 1 on any difference, 2 when the data directory cannot be read."""
    try:
        report = await reconcile(data_dir, store, strict=strict)
    except (JournalCorrupt, OSError) as exc:
        out(f"cannot rebuild the engine from {data_dir}: {exc}")
        out(json.dumps({"ok": False, "error": str(exc)}))
        return 2
    for d in report.differences:
        out(d.line())
    if report.lag and not strict:
        out(f"note: the ledger lags the journal by {report.lag} commands (compared at seq "
            f"{report.booked_seq})")
    out(json.dumps(report.summary()))
    return 0 if report.ok else 1


def engine_dir_of(data_dir: Path) -> Path:
    """The sequencer's directory: ``<data-dir>/engine`` of a market's data directory
    (`herbx serve`), or the directory itself when it holds the journal."""
    return data_dir / "engine" if (data_dir / "engine" / "journal").is_dir() else data_dir


def ledger_path(data_dir: Path) -> Path:
    """Where the embedded (SQLite) ledger lives in a data directory."""
    from settlement.sqlite_store import LEDGER_FILE

    return data_dir / LEDGER_FILE


def main(data_dir: Path, database_url: str | None, ledger: Path | None, strict: bool) -> int:
    """``herbx reconcile``: PostgreSQL when ``database_url`` is given, else the SQLite ledger
    (``ledger``, or the data directory's)."""
    import asyncio

    store: Store
    if database_url:
        from settlement.pg_store import PgStore

        store = PgStore(database_url)
    else:
        from settlement.sqlite_store import SqliteStore

        path = ledger or ledger_path(data_dir)
        if not path.is_file():  # opening would create an empty ledger: say so instead
            print(f"no ledger at {path} (give --database-url or --ledger)")
            print(json.dumps({"ok": False, "error": f"no ledger at {path}"}))
            return 2
        store = SqliteStore(path)
    engine_dir = engine_dir_of(data_dir)
    if not (engine_dir / "journal").is_dir():
        print(f"no journal in {data_dir} (give --data-dir)")
        print(json.dumps({"ok": False, "error": f"no journal in {data_dir}"}))
        return 2

    async def opened() -> int:
        await store.open()
        try:
            return await run(engine_dir, store, strict=strict)
        finally:
            await store.close()

    return asyncio.run(opened())
