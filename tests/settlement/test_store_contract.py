"""The store contract, run against SQLite and PostgreSQL alike (`stores` fixture): balanced
postings for every event kind, exactly once under duplicate delivery and restarts, the
gap-free invoice series, the balance constraint refusing an overdraft, immutable postings."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import msgspec
import pytest

import settlement.store as store_module
from engine.messages import CashWithdrawn, TradeExecuted
from settlement.booker import Booker
from settlement.booking import book
from settlement.ledger import (
    BANK,
    FEES,
    FUND,
    VND,
    Batch,
    DvpChange,
    LedgerState,
    LedgerTxn,
    Posting,
    cash,
    cash_held,
    goods,
    goods_held,
    kg,
)
from settlement.schedule import Schedule
from settlement.schema import LATEST, MIGRATIONS
from settlement.sqlite_store import SqliteStore
from settlement.store import StoreError, Where
from tests.settlement.conftest import Stores, scenario

SCHEDULE = Schedule.load()


def units_sum(txn: LedgerTxn) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in txn.postings:
        out[p.unit] = out.get(p.unit, 0) + p.amount
    return out


async def test_every_event_kind_books_balanced_and_matches_the_engine(store: Any) -> None:
    m = scenario()
    booker = Booker(store, SCHEDULE, m.trace())
    assert await booker.start() == 0
    assert await booker.offer(m.steps) == len(m.steps)
    txns = await store.transactions()
    assert {t.kind for t in txns} == {"trade", "deposit", "withdrawal", "lot_in", "lot_out",
                                      "payment", "reversal"}
    for t in txns:
        assert all(v == 0 for v in units_sum(t).values()), t
    # the failed trade's reversal references it and negates its postings exactly
    (reversal,) = [t for t in txns if t.kind == "reversal"]
    original = next(t for t in txns if t.kind == "trade" and t.trade_id == 3)
    assert reversal.trade_id == 3 and reversal.reverses == (original.seq, original.n)
    assert sorted((p.account, p.unit, -p.amount) for p in reversal.postings) == sorted(
        (p.account, p.unit, p.amount) for p in original.postings)
    assert [t.trade_id for t in txns if t.kind == "payment"] == [1, 2]
    steps = [(c.trade_id, c.state) for c in await store.dvp_changes()]
    assert steps == [(1, "pending"), (1, "paid"), (2, "pending"), (1, "delivered"),
                     (1, "settled"), (2, "paid"), (3, "pending"), (3, "failed"),
                     (4, "pending")]
    assert (await store.load_state()).open_trades == {
        t.trade_id: (t.seq, t.n) for t in txns if t.kind == "trade" and t.trade_id in (2, 4)}
    trades = [t for t in txns if t.kind == "trade"]
    engine_trades = [e for _, evs in m.steps for e in evs if isinstance(e, TradeExecuted)]
    assert [t.trade_id for t in trades] == [e.trade_id for e in engine_trades] == [1, 2, 3, 4]
    first = trades[0]  # the cooperative's own recorded lot, from the book
    assert first.legs[0].trace_url == "https://trace.herbx.example/01/00400007001015/10/L1"
    assert (first.legs[0].active_content, first.legs[0].resale) == ("2.91", False)
    assert first.legs[0].price_per_kg_active_vnd == engine_trades[0].lot_values[0].price_per_kg_active_vnd
    assert trades[1].legs[0].resale is True
    assert trades[2].legs[0].trace_url is None  # goods received without a lot record
    # Quế pays the herb's fee (20 bps), the levy is everyone's (10 bps); half up to the đồng
    assert (first.notional_vnd, first.fee_vnd, first.levy_vnd) == (18_510_000, 37_020, 18_510)
    assert [t.invoice for t in trades] == [f"HX2026-{i:08d}" for i in (1, 2, 3, 4)]
    bal = await store.balances()
    for unit in {u for (_, u) in bal}:  # the trial balance: nets to zero per unit
        assert sum(b for (_, u), b in bal.items() if u == unit) == 0
    charges: dict[str, int] = {}  # charges are booked at payment
    for t in txns:
        if t.kind == "payment":
            charges[t.seller or ""] = (charges.get(t.seller or "", 0) + t.fee_vnd + t.levy_vnd
                                       + t.tax_vnd)
    for who in ("T1", "T2", "C1", "C2", "S2"):
        view = m.ex.balances(who)
        assert view is not None
        # available in the ledger = the engine's cash less its DvP hold, less charges paid
        assert bal.get((cash(who), VND), 0) == (
            view.cash_vnd - view.cash_dvp_vnd - charges.get(who, 0)), who
        assert bal.get((cash_held(who), VND), 0) == view.cash_dvp_vnd, who
        held = {(lot, q) for g in view.goods for lot, q in g.lots}
        ledger = {(u[3:], b) for (a, u), b in bal.items() if a == goods(who) and b}
        assert ledger == held, who
        dvp = {(lot, q) for st in m.ex.settlement_views() if st.seller == who
               for lot, q in st.lots if st.state == "pending"}
        assert {(u[3:], b) for (a, u), b in bal.items() if a == goods_held(who) and b} == dvp
    assert bal[(FEES, VND)] + bal[(FUND, VND)] == sum(charges.values())
    assert bal[(BANK, VND)] == -(2 * 10**12 - 1_000_000)


async def test_duplicate_delivery_books_once(stores: Stores) -> None:
    m = scenario()
    store = await stores.open()
    booker = Booker(store, SCHEDULE, m.trace())
    await booker.start()
    await booker.offer(m.steps[:10])
    await booker.offer(m.steps[:15])  # 10 again, 5 new
    await booker.offer(m.steps)
    assert booker.duplicates == 10 + 15
    once = await store.transactions()
    batch, _ = book(LedgerState(), m.steps, SCHEDULE, m.trace())
    assert (await store.apply(batch)).booked is False  # a whole old batch: skipped
    await store.close()
    again = Booker(await stores.open(), SCHEDULE, m.trace())  # after a restart
    assert await again.start() == m.seq
    assert await again.offer(m.steps) == 0
    assert await again.store.transactions() == once == batch.txns()


async def test_invoice_series_is_gap_free_across_batches_and_restarts(stores: Stores) -> None:
    m = scenario()
    clean, _ = book(LedgerState(), m.steps, SCHEDULE, m.trace())
    for cut in (3, 12, 17, len(m.steps)):
        store = await stores.open()
        booker = Booker(store, SCHEDULE, m.trace())
        await booker.start()
        await booker.offer(m.steps[:cut])
        await store.close()
    store = await stores.open()
    txns = await store.transactions()
    assert txns == clean.txns()
    assert [t.invoice_no for t in txns if t.kind == "trade"] == [1, 2, 3, 4]
    state = await store.load_state()
    assert state.invoice_last == {2026: 4} and state.last_seq == m.seq
    assert state.herbs["QUE-BARK-A"] == "QUE-BARK"
    # a batch that would skip invoice numbers is refused, and nothing of it is written
    trade = next(t for t in clean.txns() if t.kind == "trade")
    bad = Batch.of(m.seq + 1, m.seq + 1, [msgspec.structs.replace(trade, seq=m.seq + 1,
                                                                  invoice_no=6)],
                   invoices={2026: (6, 6)})
    with pytest.raises(StoreError, match="invoice series 2026"):
        await store.apply(bad)
    assert (await store.load_state()).last_seq == m.seq


def overdraft(seq: int) -> Batch:
    """A hand-written, balanced posting set that pays out cash nobody deposited."""
    return Batch.of(seq, seq, [LedgerTxn(
        seq=seq, n=0, kind="withdrawal", ts_ns=1, account="NOBODY",
        postings=[Posting(cash("NOBODY"), VND, 100), Posting(BANK, VND, -100)])])


async def test_the_store_refuses_an_overdraft(store: Any) -> None:
    with pytest.raises(Exception, match="balance_nonneg|CHECK constraint failed") as err:
        await store.apply(overdraft(1))
    assert type(err.value).__name__ in ("IntegrityError", "CheckViolationError")
    assert await store.transactions() == []  # all or nothing
    assert (await store.load_state()).last_seq == 0
    assert (await store.balances()) == {}


async def test_goods_cannot_be_sold_twice(store: Any) -> None:
    m = scenario()
    booker = Booker(store, SCHEDULE, m.trace())
    await booker.offer(m.steps)
    sold = next(t for t in await store.transactions() if t.kind == "trade")
    again = Batch.of(m.seq + 1, m.seq + 1, [LedgerTxn(
        seq=m.seq + 1, n=0, kind="lot_out", ts_ns=1, account="C1", ref="L1",
        postings=[Posting(goods("C1"), kg("L1"), 10_000), Posting("market:warehouse", kg("L1"), -10_000)])])
    with pytest.raises(Exception, match="balance_nonneg|CHECK constraint failed"):
        await store.apply(again)
    assert (await store.transactions())[0].seq == 4 and sold.legs


async def test_postings_are_immutable(store: Any) -> None:
    m = scenario()
    await Booker(store, SCHEDULE, m.trace()).offer(m.steps)
    for sql in ("UPDATE postings SET amount = 1", "DELETE FROM postings",
                "UPDATE transactions SET fee_vnd = 0", "DELETE FROM trade_lots",
                "UPDATE dvp_changes SET state = 'settled'", "DELETE FROM dvp_changes"):
        with pytest.raises(Exception, match="immutable"):
            await store.execute(sql)
    assert len(await store.transactions()) == 15
    assert len(await store.dvp_changes()) == 9


async def test_a_gap_is_an_alarm(store: Any, caplog: pytest.LogCaptureFixture) -> None:
    m = scenario()
    booker = Booker(store, SCHEDULE, m.trace())
    await booker.offer(m.steps[:5])
    with caplog.at_level(logging.ERROR, logger="herbx.settlement"):
        await booker.offer(m.steps[7:])  # 6 and 7 (the lot's register and assay) lost
    assert booker.gaps == 1
    assert "seqs 6..7 were never offered" in caplog.text
    assert (await store.load_state()).last_seq == m.seq


async def test_migrations_apply_once(stores: Stores) -> None:
    first = await stores.open()
    assert await first.schema_version() == LATEST
    await first.close()
    second = await stores.open()  # a restart finds the schema in place
    assert await second.schema_version() == LATEST


async def test_pipelined_booking_writes_the_ledger_of_one_batch_at_a_time(stores: Stores) -> None:
    m = scenario()
    clean, _ = book(LedgerState(), m.steps, SCHEDULE, m.trace())
    store = await stores.open()
    booker = Booker(store, SCHEDULE, m.trace())
    chunks = [m.steps[:6], m.steps[3:9], m.steps[9:14], m.steps[:2], m.steps[14:]]
    assert await booker.offer_all(chunks) == len(m.steps)
    assert booker.duplicates == 3 + 2 and booker.batches == 4
    assert await store.transactions() == clean.txns()
    assert (await store.load_state()).last_seq == booker.booked_seq == m.seq


async def test_a_refused_batch_leaves_the_booker_at_the_last_confirmed_one(store: Any) -> None:
    m = scenario()
    booker = Booker(store, SCHEDULE, m.trace())
    # a forged step whose withdrawal nobody funded: the store refuses that batch
    forged = (m.seq + 1, [CashWithdrawn(seq=m.seq + 1, ts_ns=1, account="NOBODY",
                                        amount_vnd=5, balance_vnd=0)])
    with pytest.raises(Exception, match="balance_nonneg|CHECK constraint failed"):
        await booker.offer_all([m.steps[:10], m.steps[10:], [forged]])
    assert booker.booked_seq == m.seq == (await store.load_state()).last_seq
    assert len(await store.transactions()) == 15


async def test_a_dvp_step_is_recorded_once(store: Any) -> None:
    """The key (trade_id, state) of dvp_changes refuses a step twice, and the whole batch with
    it (a booking bug can never record a trade paid twice)."""
    m = scenario()
    await Booker(store, SCHEDULE, m.trace()).offer(m.steps)
    paid = next(c for c in await store.dvp_changes() if c.state == "paid")
    before = await store.transactions()
    again = Batch.of(m.seq + 1, m.seq + 1, [], dvp=[msgspec.structs.replace(paid, seq=m.seq + 1)])
    with pytest.raises(Exception, match="UNIQUE|unique|duplicate"):
        await store.apply(again)
    assert (await store.load_state()).last_seq == m.seq
    assert await store.transactions() == before


async def test_a_dvp_state_outside_the_lifecycle_is_refused(store: Any) -> None:
    m = scenario()
    await Booker(store, SCHEDULE, m.trace()).offer(m.steps)
    lost = DvpChange(99, "lost", m.seq + 1, 1, 4, 0)  # type: ignore[arg-type]
    with pytest.raises(Exception, match="CHECK constraint failed|check constraint"):
        await store.apply(Batch.of(m.seq + 1, m.seq + 1, [], dvp=[lost]))
    assert (await store.load_state()).last_seq == m.seq


async def test_migration_4_rebuilds_sqlite_dvp_changes_keeping_its_rows_and_rules(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A ledger booked at schema 3 keeps every DvP row, its key, its CHECK and its
    immutability when migration 4 rebuilds the table."""
    m = scenario()
    monkeypatch.setattr(store_module, "MIGRATIONS", MIGRATIONS[:3])
    old = SqliteStore(tmp_path / "ledger.sqlite3")
    await old.open()
    assert await old.schema_version() == 3
    await Booker(old, SCHEDULE, m.trace()).offer(m.steps)
    before = (await old.dvp_changes(), await old.transactions(), await old.load_state())
    await old.close()
    monkeypatch.undo()
    new = SqliteStore(tmp_path / "ledger.sqlite3")
    await new.open()
    try:
        assert await new.schema_version() == LATEST >= 4
        assert (await new.dvp_changes(), await new.transactions(), await new.load_state()) == before
        for sql in ("UPDATE dvp_changes SET state = 'settled'", "DELETE FROM dvp_changes"):
            with pytest.raises(Exception, match="immutable"):
                await new.execute(sql)
        paid = next(c for c in before[0] if c.state == "paid")
        with pytest.raises(Exception, match="UNIQUE"):
            await new.apply(Batch.of(m.seq + 1, m.seq + 1, [],
                                     dvp=[msgspec.structs.replace(paid, seq=m.seq + 1)]))
        assert len(await new.dvp_changes()) == len(before[0])
    finally:
        await new.close()


async def test_migration_5_keeps_a_ledger_whose_payments_stored_their_legs(
        stores: Stores, monkeypatch: pytest.MonkeyPatch) -> None:
    """A ledger booked at schema 4, its payments with lot legs of their own (as booking wrote
    them before), answers the queries by lot, trace code, trade and invoice the same after
    migration 5 drops the trade id and trace code indexes; new payments write no legs, and the
    invoice number stays unique."""
    m = scenario()
    batch, _ = book(LedgerState(), m.steps, SCHEDULE, m.trace())
    trade_legs: dict[int, list[Any]] = {}
    for r in batch.txn_rows:
        if r[2] == "trade":
            trade_legs[r[6]] = [x for x in batch.leg_rows if (x[0], x[1]) == (r[0], r[1])]
    old_legs = [(r[0], r[1], x[2], x[3], x[4], x[5], None, None, False)
                for r in batch.txn_rows if r[2] == "payment" for x in trade_legs[r[6]]]
    assert old_legs and not any((x[0], x[1]) in {(r[0], r[1]) for r in batch.txn_rows
                                                 if r[2] == "payment"} for x in batch.leg_rows)
    old_batch = msgspec.structs.replace(batch, leg_rows=sorted(batch.leg_rows + old_legs))
    monkeypatch.setattr(store_module, "MIGRATIONS", MIGRATIONS[:4])
    old = await stores.open()
    assert await old.schema_version() == 4
    await old.apply(old_batch)
    l1 = "https://trace.herbx.example/01/00400007001015/10/L1"
    queries = [Where(lot_id="L1"), Where(trace_url=l1), Where(trade_id=1), Where(trade_id=3),
               Where(trade_ids=(1, 2, 3)), Where(participant="T2", lot_id="BARE")]
    before = [(await old.find(w)).txns for w in queries]
    await old.close()
    monkeypatch.undo()
    new = await stores.open()
    assert await new.schema_version() == LATEST == 5
    assert [(await new.find(w)).txns for w in queries] == before
    assert [t.kind for t in before[0]] == ["lot_in", "trade", "payment", "trade", "payment"]
    assert [t.kind for t in before[2]] == ["trade", "payment"]
    assert [t.kind for t in before[3]] == ["trade", "reversal"]
    first = before[2][0]
    assert first.invoice_no is not None
    assert await new.invoice(2026, first.invoice_no) == first
    # a second trade with the same invoice number is refused by the (partial) unique index
    twin = msgspec.structs.replace(first, seq=m.seq + 1, trade_id=99)
    with pytest.raises(Exception, match="(?i)unique"):
        await new.apply(Batch.of(m.seq + 1, m.seq + 1, [twin]))
