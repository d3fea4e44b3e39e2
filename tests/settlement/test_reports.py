"""Reports and checks on both stores: the queries (by participant, lot, trace code, invoice,
date range) page by the (seq, n) cursor and agree with filtering every transaction; statements
add up; `herbx reconcile` passes on a clean ledger, reports a lag, and finds every injected
difference."""

from __future__ import annotations

import csv as _csv
import datetime as dt
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from engine.durable.sequencer import Sequencer
from engine.messages import CreateAuction, DelistLot, DutchBuy, ListLotOnBook, WithdrawLot
from settlement.booker import Booker
from settlement.ledger import LedgerTxn, goods, kg
from settlement.reconcile import expected_balances, reconcile, run
from settlement.reconcile import main as reconcile_main
from settlement.reports import (
    CSV_COLUMNS,
    Statement,
    day_range_ns,
    missing_trades,
    parse_invoice,
    shares,
    statement,
    statement_csv,
)
from settlement.schedule import Schedule
from settlement.sqlite_store import LEDGER_FILE, SqliteStore
from settlement.store import MAX_PAGE, Where
from tests.settlement.conftest import Recorder, Stores, scenario
from tests.test_engine_lots import assay

SCHEDULE = Schedule.load()


def write_journal(m: Recorder, data: Path) -> None:
    """The scenario's commands through the real sequencer, at the times they had."""
    times = iter([c.ts_ns for c in m.commands])
    with Sequencer(data, now_ns=lambda: next(times), sync=False) as sq:
        for cmd in m.commands:
            sq.submit(cmd)
        sq.commit()


async def booked(store: Any, m: Recorder, upto: int | None = None) -> Any:
    await Booker(store, SCHEDULE, m.trace()).offer(m.steps[:upto])
    return store


async def everything(store: Any, where: Where, limit: int) -> list[LedgerTxn]:
    out: list[LedgerTxn] = []
    after = (0, 0)
    while True:
        page = await store.find(where, after, limit)
        out += page.txns
        if page.next is None:
            return out
        assert page.next == (page.txns[-1].seq, page.txns[-1].n) and len(page.txns) == limit
        after = page.next


async def test_queries_page_by_cursor_and_match_a_filter_of_everything(store: Any) -> None:
    m = scenario()
    await booked(store, m)
    txns = await store.transactions()
    l1 = "https://trace.herbx.example/01/00400007001015/10/L1"
    # a payment has no legs of its own: it has its trade's (the invoice's)
    legs = {t.trade_id: t.legs for t in txns if t.kind == "trade"}
    assert all(not t.legs for t in txns if t.kind == "payment")

    def legs_of(t: LedgerTxn) -> list[Any]:
        return legs.get(t.trade_id, []) if t.kind == "payment" else list(t.legs)

    cases: list[tuple[Where, Any]] = [
        (Where(participant="T1"), lambda t: "T1" in (t.buyer, t.seller, t.account)),
        (Where(participant="C1"), lambda t: "C1" in (t.buyer, t.seller, t.account)),
        (Where(lot_id="L1"), lambda t: any(leg.lot_id == "L1" for leg in legs_of(t))
         or (t.kind in ("lot_in", "lot_out") and t.ref == "L1")),
        (Where(trace_url=l1), lambda t: any(leg.trace_url == l1 for leg in legs_of(t))),
        (Where(trace_url=l1.replace("/L1", "/L9")), lambda t: False),
        (Where(trace_url="not a trace code"), lambda t: False),
        (Where(participant="T2", lot_id="BARE"), lambda t: "T2" in (t.buyer, t.seller)
         and any(leg.lot_id == "BARE" for leg in legs_of(t))),
        (Where(trade_id=3), lambda t: t.trade_id == 3),
        (Where(trade_id=1), lambda t: t.trade_id == 1),
        (Where(trade_ids=(1, 3)), lambda t: t.trade_id in (1, 3)),
        (Where(kind="deposit"), lambda t: t.kind == "deposit"),
        (Where(from_ns=txns[3].ts_ns, to_ns=txns[-1].ts_ns),
         lambda t: txns[3].ts_ns <= t.ts_ns < txns[-1].ts_ns),
        (Where(participant="NOBODY"), lambda t: False),
    ]
    for where, keep in cases:
        expect = [t for t in txns if keep(t)]
        for limit in (1, 2, MAX_PAGE):
            assert await everything(store, where, limit) == expect, (where, limit)
    # in, the sale and its payment, the resale and its payment
    assert [t.kind for t in await everything(store, Where(lot_id="L1"), 1)] == [
        "lot_in", "trade", "payment", "trade", "payment"]
    with pytest.raises(ValueError):
        await store.find(Where(), (0, 0), MAX_PAGE + 1)


async def test_an_invoice_is_found_by_its_number(store: Any) -> None:
    m = scenario()
    await booked(store, m)
    trades = [t for t in await store.transactions() if t.kind == "trade"]
    for t in trades:
        number = parse_invoice(t.invoice or "")
        assert number is not None
        assert await store.invoice(*number) == t
    assert await store.invoice(2026, 99) is None and await store.invoice(2025, 1) is None
    assert parse_invoice("HX2026-0000001") is None and parse_invoice("HX-1") is None


def test_charges_shared_among_legs_sum_exactly() -> None:
    assert shares(37_020, [100, 200]) == [12_340, 24_680]
    assert shares(10, [1, 1, 1]) == [3, 3, 4]
    assert sum(shares(99_999, [7, 13, 1])) == 99_999


async def test_statements_show_sales_per_lot_and_purchases_with_trace_codes(store: Any) -> None:
    m = scenario()
    await booked(store, m)
    day = dt.date(2026, 9, 21)
    txns = await store.transactions()
    assert {t.ts_ns for t in txns} and all(
        day_range_ns(day, day)[0] <= t.ts_ns < day_range_ns(day, day)[1] for t in txns)
    lo, hi = day_range_ns(day, day)
    page = await store.find(Where(participant="C1", from_ns=lo, to_ns=hi))
    st = statement("C1", day, day, page.txns)
    sale = next(s for s in st.lines if s.kind == "sale")
    assert (sale.invoice, sale.lot_id, sale.qty, sale.gross_vnd, sale.fee_vnd, sale.levy_vnd,
            sale.net_vnd, sale.counterparty) == ("HX2026-00000001", "L1", 300, 18_510_000,
                                                 37_020, 18_510, 18_454_470, "T1")
    # delivery versus payment: the sale moves no cash; its payment brings the net proceeds
    assert (sale.cash_vnd, sale.held_vnd) == (0, 0)
    paid = next(s for s in st.lines if s.kind == "sale_paid")
    assert (paid.invoice, paid.lot_id, paid.trace_url, paid.cash_vnd, paid.net_vnd) == (
        "HX2026-00000001", "L1", sale.trace_url, 18_454_470, 18_454_470)
    assert paid.seq > sale.seq and paid.trade_id == sale.trade_id
    assert [(x.lot_id, x.qty, x.net_vnd, x.paid_vnd) for x in st.lots] == [
        ("L1", 300, 18_454_470, 18_454_470)]
    assert [s.kind for s in st.lines] == ["lot_in", "sale", "sale_paid", "withdrawal"]
    assert st.cash_out_vnd == 1_000_000 and st.cash_in_vnd == 18_454_470
    t2 = statement("T2", day, day, (await store.find(Where(participant="T2"))).txns)
    buys = [s for s in t2.lines if s.kind == "purchase"]
    assert [(b.invoice, b.lot_id, b.trace_url is not None) for b in buys] == [
        ("HX2026-00000002", "L1", True), ("HX2026-00000003", "BARE", False)]
    # a purchase holds the buyer's cash; its payment pays it out (trade 3 failed: no payment)
    assert all(b.cash_vnd == 0 and b.held_vnd == b.gross_vnd and b.fee_vnd == 0 for b in buys)
    (pay,) = [s for s in t2.lines if s.kind == "purchase_paid"]
    assert (pay.invoice, pay.cash_vnd, pay.held_vnd) == ("HX2026-00000002", -6_500_000,
                                                         -6_500_000)
    csv = statement_csv(t2).splitlines()
    assert csv[0].startswith("kind,seq,n,date,cash_vnd,held_vnd,invoice")
    assert len(csv) == 1 + len(t2.lines)
    row = csv[1 + t2.lines.index(pay)]
    assert row.startswith("purchase_paid,") and ",-6500000,-6500000,HX2026-00000002," in row
    # the JSON and the CSV forms hold the same lines, field for field
    as_json = msgspec.json.decode(msgspec.json.encode(t2), type=Statement).lines
    assert as_json == t2.lines
    for line, text in zip(as_json, csv[1:], strict=True):
        cells = next(iter(_csv.reader([text])))
        assert cells == ["" if v is None else str(v)
                         for v in (getattr(line, f) for f in CSV_COLUMNS)], text
    empty = statement("T2", day, day, (await store.find(Where(participant="T2", to_ns=lo))).txns)
    assert empty.lines == [] and empty.cash_in_vnd == 0


async def test_a_payment_on_a_later_page_takes_its_lines_from_its_trade(store: Any) -> None:
    """A statement page that holds a payment but not its trade (booked on an earlier page or
    before the range) is given the trade (`missing_trades`); without it, the payment still
    shows its cash, with the trade's totals and no invoice."""
    m = scenario()
    await booked(store, m)
    day = dt.date(2026, 9, 21)
    txns = await store.transactions()
    payments = [t for t in txns if t.kind == "payment"]
    assert missing_trades(payments) == [1, 2] and missing_trades(txns) == []
    trades = (await store.find(Where(trade_ids=(1, 2), kind="trade"))).txns
    with_trade = statement("C1", day, day, payments, originals=trades)
    alone = statement("C1", day, day, payments)
    assert [(s.kind, s.invoice, s.lot_id, s.cash_vnd) for s in with_trade.lines] == [
        ("sale_paid", "HX2026-00000001", "L1", 18_454_470)]
    assert [(s.kind, s.invoice, s.lot_id, s.cash_vnd) for s in alone.lines] == [
        ("sale_paid", None, None, 18_454_470)]
    assert with_trade.cash_in_vnd == alone.cash_in_vnd == 18_454_470


# --- reconcile ------------------------------------------------------------------------------


@pytest.fixture
def market(tmp_path: Path) -> tuple[Recorder, Path]:
    m = scenario()
    data = tmp_path / "engine"
    write_journal(m, data)
    return m, data


async def test_reconcile_passes_on_a_clean_ledger(stores: Stores,
                                                  market: tuple[Recorder, Path]) -> None:
    m, data = market
    store = await booked(await stores.open(), m)
    report = await reconcile(data, store)
    assert report.differences == [] and report.ok
    assert (report.booked_seq, report.journal_seq, report.lag) == (m.seq, m.seq, 0)
    assert report.accounts > 10
    # the engine→ledger mapping on its own: the live auction's goods stay the seller's
    assert expected_balances(m.ex, await store.charges()) == {
        k: b for k, b in (await store.balances()).items() if b}


async def test_reconcile_compares_a_lagging_ledger_at_its_seq(
        stores: Stores, market: tuple[Recorder, Path]) -> None:
    m, data = market
    store = await booked(await stores.open(), m, upto=20)
    report = await reconcile(data, store)
    assert report.ok and report.lag == m.seq - 20
    strict = await reconcile(data, store, strict=True)
    assert [d.check for d in strict.differences] == ["lag"]


async def test_reconcile_finds_an_injected_posting(stores: Stores,
                                                   market: tuple[Recorder, Path]) -> None:
    m, data = market
    store = await booked(await stores.open(), m)
    deposit = next(t for t in await store.transactions() if t.kind == "deposit")
    # written straight into the database, around the booker: the balances table does not move
    await store.execute("INSERT INTO postings (seq, n, i, account, unit, amount) "
                        + ("VALUES (?, ?, 9, 'cash:T1', 'VND', -500)" if stores.kind == "sqlite"
                           else "VALUES ($1, $2, 9, 'cash:T1', 'VND', -500)"),
                        deposit.seq, deposit.n)
    lines: list[str] = []
    assert await run(data, store, strict=False, out=lines.append) == 1
    summary = json.loads(lines[-1])
    assert summary["ok"] is False and summary["differences"] == 2
    assert lines[0].startswith("postings: cash:T1 VND: expected ")
    assert lines[0].endswith("(off by +500)")
    assert lines[1].startswith("trial_balance_postings: VND: expected 0, ledger has 500")


async def test_reconcile_finds_a_balance_changed_in_the_database(
        stores: Stores, market: tuple[Recorder, Path]) -> None:
    m, data = market
    store = await booked(await stores.open(), m)
    q = "?" if stores.kind == "sqlite" else "$1"
    await store.execute(f"UPDATE balances SET balance = balance - 7 WHERE account = {q} "
                        "AND unit = 'KG:L1'", "goods:T2")
    report = await reconcile(data, store)
    assert {(d.check, d.what, d.actual - d.expected) for d in report.differences} == {
        ("engine", "goods:T2 KG:L1", -7), ("postings", "goods:T2 KG:L1", +7),
        ("trial_balance", "KG:L1", -7)}


def test_the_reconcile_command_exits_0_clean_and_1_on_a_difference(
        market: tuple[Recorder, Path], capsys: pytest.CaptureFixture[str]) -> None:
    m, data = market
    ledger = data / LEDGER_FILE

    async def book() -> None:
        store = SqliteStore(ledger)
        await store.open()
        await booked(store, m)
        await store.close()

    import asyncio

    asyncio.run(book())
    assert reconcile_main(data, None, None, strict=False) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["ok"] is True

    async def inject() -> None:
        store = SqliteStore(ledger)
        await store.open()
        await store.execute("UPDATE balances SET balance = balance + 1 WHERE account = ?",
                            "market:fee_revenue")
        await store.close()

    asyncio.run(inject())
    assert reconcile_main(data, None, None, strict=False) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("engine: market:fee_revenue VND: expected ")
    assert json.loads(out[-1])["differences"] == 3
    assert reconcile_main(data, None, data / "missing.sqlite3", strict=False) == 2


def _cash_change(txns: list[LedgerTxn], participant: str, account: str = "cash") -> int:
    """What the ledger moved into ``<account>:<participant>`` (credits less debits)."""
    return sum(-p.amount for t in txns for p in t.postings
               if p.account == f"{account}:{participant}")


async def test_a_failed_trade_is_reversed_on_both_statements(store: Any) -> None:
    """Trade 3 (C2 sells BARE to T2) failed: neither statement may still count it. The
    reversal gives each side a line negating its trade lines, so the lines add up to what the
    ledger moved (C2 has no other trade; T2's purchases are paid or failed)."""
    m = scenario()
    await booked(store, m)
    day = dt.date(2026, 9, 21)
    txns = await store.transactions()
    for who in ("C1", "C2", "C3", "S2", "T1", "T2"):
        page = await store.find(Where(participant=who))
        st = statement(who, day, day, page.txns)
        # every line says what the ledger moved: the available cash, and the held cash
        assert sum(s.cash_vnd - s.held_vnd for s in st.lines) == _cash_change(txns, who), who
        assert sum(s.held_vnd for s in st.lines) == _cash_change(txns, who, "cash_held"), who
    c2 = statement("C2", day, day, (await store.find(Where(participant="C2"))).txns)
    assert [s.kind for s in c2.lines if s.trade_id == 3] == ["sale", "sale_reversal"]
    assert c2.cash_in_vnd == c2.cash_out_vnd == 0
    assert [(x.lot_id, x.qty, x.net_vnd, x.paid_vnd) for x in c2.lots] == [("BARE", 0, 0, 0)]
    # the reversal's own page (the trade on an earlier page) is given its trade to negate
    rev = [t for t in txns if t.kind == "reversal"]
    trade = [t for t in txns if t.kind == "trade" and t.trade_id == 3]
    alone = statement("T2", day, day, rev, originals=trade)
    assert [(s.kind, s.cash_vnd, s.held_vnd, s.gross_vnd, s.invoice) for s in alone.lines] == [
        ("purchase_reversal", 0, -6_170_000, -6_170_000, "HX2026-00000003")]


async def test_reconcile_counts_recorded_lots_still_in_the_warehouse(store: Any) -> None:
    """A recorded lot received but not listed is its owner's goods in custody, and a rejected
    lot's units taken from a buyer (frozen) are still the buyer's: the ledger booked both, so
    the engine's side must imply them too (no false difference)."""
    m = Recorder()
    m.received("L9", 200)
    m.received("L1", 800)
    m.step(ListLotOnBook(lot_id="L1", account="C1"))
    m.order("C1", "sell", 300, 60_000, symbol="QUE-BARK-A")
    m.order("T1", "buy", 300, 60_000, symbol="QUE-BARK-A")
    m.pay()
    m.step(DelistLot(lot_id="L1", account="C1"))
    m.step(assay("L1", moisture_pct="16.2"))  # rejected: T1's 300 kg frozen
    assert m.ex.lot_book.records["L1"].frozen == [("T1", 300)]
    await booked(store, m)
    assert expected_balances(m.ex, await store.charges()) == {
        k: b for k, b in (await store.balances()).items() if b}


async def test_reconcile_agrees_after_failed_sales_of_recorded_lots(store: Any) -> None:
    """Sales of recorded lots fail: one after the lot was withdrawn (the goods follow it out: a
    `lot_out`), one after it was delisted (back in the warehouse), one while the lot is still
    listed (back on the book), and a Dutch auction's (back in the warehouse). The ledger's
    reversals and the engine's lot custody must imply the same balances."""
    m = Recorder()
    for lot_id in ("L3", "L2", "L1"):  # one at a time on the book: sells draw the oldest lot
        m.received(lot_id, 300)
        m.step(ListLotOnBook(lot_id=lot_id, account="C1"))
        m.order("C1", "sell", 100, 60_000, symbol="QUE-BARK-A")
        m.order("T1", "buy", 100, 60_000, symbol="QUE-BARK-A")
        trade = max(m.ex.settlements)
        if lot_id == "L3":
            m.step(WithdrawLot(lot_id=lot_id, account="C1"))
        elif lot_id == "L2":
            m.step(DelistLot(lot_id=lot_id, account="C1"))
        m.settle(trade, "failed")
    m.received("L4", 10, grade="B", owner="S2")
    aid = m.seq + 1
    m.step(CreateAuction(kind="dutch", seller="S2", lot_id="L4", qty=10, start_ns=0,
                         start_price_vnd=99_000, step_vnd=100, interval_ns=10**9,
                         floor_vnd=59_000))
    m.do(DutchBuy(auction_id=aid, account="T1", price_vnd=99_000, qty=10))
    m.settle(max(m.ex.settlements), "failed")
    states = {lot_id: m.record(lot_id).state for lot_id in ("L1", "L2", "L3", "L4")}
    assert states == {"L1": "listed", "L2": "received", "L3": "withdrawn", "L4": "received"}
    await booked(store, m)
    balances = {k: b for k, b in (await store.balances()).items() if b}
    assert expected_balances(m.ex, await store.charges()) == balances
    # each lot's goods are its owner's again (L3's went out with it)
    for lot_id, owner, qty in (("L1", "C1", 300), ("L2", "C1", 300), ("L3", "C1", 0),
                               ("L4", "S2", 10)):
        assert balances.get((goods(owner), kg(lot_id)), 0) == qty, lot_id
