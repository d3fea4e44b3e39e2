"""The pure booking function: the rounding rule, the invoicing year in Vietnam time, the
schedule's look-up, taxes where configured; and the same ledger from both stores."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.messages import LotLeg, TradeExecuted, TradeSettlementChanged
from settlement.booker import Booker
from settlement.booking import book, charge
from settlement.ledger import (
    FEES,
    FUND,
    TAX,
    VND,
    Batch,
    LedgerState,
    cash,
    cash_held,
    goods,
    goods_held,
    kg,
)
from settlement.schedule import Rate, Schedule
from settlement.sqlite_store import SqliteStore
from tests.settlement.conftest import Stores, require_pg, scenario

D = dt.date(2026, 1, 1)


def rate(kind: str, bps: int, to: str = "*", start: dt.date = D, end: dt.date | None = None) -> Rate:
    return Rate(kind=kind, applies_to=to, bps=bps, valid_from=start, valid_to=end, source="test")  # type: ignore[arg-type]


def trade(seq: int, ts_ns: int, price: int = 61_700, qty: int = 30, symbol: str = "QUE-BARK-A") -> TradeExecuted:
    return TradeExecuted(seq=seq, ts_ns=ts_ns, trade_id=seq, symbol=symbol, price_vnd=price,
                         qty=qty, aggressor="buy", maker_order_id=1, taker_order_id=2,
                         buyer="B", seller="S", maker_leaves_qty=0, taker_leaves_qty=0,
                         lots=[LotLeg("L1", qty - qty // 3), LotLeg("L2", qty // 3)][:1 + (qty >= 3)])


def utc_ns(*args: int) -> int:
    return int(dt.datetime(*args, tzinfo=dt.UTC).timestamp()) * 10**9


def test_charges_round_half_up_to_the_dong() -> None:
    assert [charge(n, 1000) for n in (4, 5, 14, 15, 25)] == [0, 1, 1, 2, 3]
    assert charge(18_510_000, 30) == 55_530 and charge(0, 30) == 0


def test_the_invoicing_year_turns_at_midnight_in_vietnam() -> None:
    before = trade(1, utc_ns(2026, 12, 31, 16, 59, 59))  # 23:59:59 in Hà Nội
    after = trade(2, utc_ns(2026, 12, 31, 17, 0, 0))  # 00:00:00 on 1 January
    state = LedgerState(last_seq=0, invoice_last={2026: 41})
    batch, nxt = book(state, [(1, [before]), (2, [after])], Schedule([]), lambda _: None)
    assert [t.invoice for t in batch.txns()] == ["HX2026-00000042", "HX2027-00000001"]
    assert batch.invoices == {2026: (42, 42), 2027: (1, 1)}
    assert nxt.invoice_last == {2026: 42, 2027: 1} and state.invoice_last == {2026: 41}


def test_the_most_specific_valid_rate_wins_and_overlaps_are_refused() -> None:
    s = Schedule([rate("fee", 30), rate("fee", 20, "QUE-BARK"),
                  rate("fee", 5, "QUE-BARK-A", end=dt.date(2026, 7, 1))])
    assert s.rate_bps("fee", "QUE-BARK-A", "QUE-BARK", dt.date(2026, 6, 30)) == 5
    assert s.rate_bps("fee", "QUE-BARK-A", "QUE-BARK", dt.date(2026, 7, 1)) == 20
    assert s.rate_bps("fee", "SA-NHAN-A", "SA-NHAN", dt.date(2026, 7, 1)) == 30
    assert s.rate_bps("fee", "X", None, dt.date(2025, 12, 31)) == 0  # before any rate
    with pytest.raises(ValueError, match="overlap"):
        Schedule([rate("levy", 10), rate("levy", 12, start=dt.date(2027, 1, 1))])


def test_the_repository_schedule_loads_and_says_where_its_figures_come_from() -> None:
    s = Schedule.load()
    assert s.rates and all(r.source and (r.illustrative or "illustrative" not in r.source)
                           for r in s.rates)


def settled(seq: int, t: TradeExecuted, to: str, frm: str = "pending") -> TradeSettlementChanged:
    """The engine's event for trade ``t`` moving from ``frm`` to ``to`` at command ``seq``."""
    return TradeSettlementChanged(
        seq=seq, ts_ns=t.ts_ns + seq, trade_id=t.trade_id, symbol=t.symbol, from_state=frm,  # type: ignore[arg-type]
        to_state=to, buyer=t.buyer, seller=t.seller, price_vnd=t.price_vnd, qty=t.qty,  # type: ignore[arg-type]
        value_vnd=t.price_vnd * t.qty, trade_ts_ns=t.ts_ns, lots=list(t.lots))


def test_a_trade_holds_and_its_payment_books_the_charges_and_a_configured_tax() -> None:
    s = Schedule([rate("fee", 30), rate("levy", 10), rate("tax", 150)])
    tr = trade(1, utc_ns(2026, 5, 1))
    batch, _ = book(LedgerState(), [(1, [tr]), (2, [settled(2, tr, "paid")])], s,
                    lambda lot: f"u/{lot}")
    t, paid = batch.txns()
    # the invoice (at the trade) states the charges; nothing changes hands yet
    assert (t.kind, t.invoice) == ("trade", "HX2026-00000001")
    assert (t.notional_vnd, t.fee_vnd, t.levy_vnd, t.tax_vnd) == (1_851_000, 5_553, 1_851, 27_765)
    assert {(p.account, p.unit): p.amount for p in t.postings} == {
        (cash("B"), VND): 1_851_000, (cash_held("B"), VND): -1_851_000,
        (goods("S"), kg("L1")): 20, (goods_held("S"), kg("L1")): -20,
        (goods("S"), kg("L2")): 10, (goods_held("S"), kg("L2")): -10}
    assert [(leg.lot_id, leg.qty, leg.trace_url) for leg in t.legs] == [("L1", 20, "u/L1"), ("L2", 10, "u/L2")]
    # payment: held cash to the seller less the charges, held goods to the buyer
    assert (paid.kind, paid.trade_id, paid.invoice, paid.reverses) == ("payment", 1, None, None)
    assert (paid.fee_vnd, paid.levy_vnd, paid.tax_vnd) == (5_553, 1_851, 27_765)
    assert {(p.account, p.unit): p.amount for p in paid.postings} == {
        (cash_held("B"), VND): 1_851_000, (cash("S"), VND): -(1_851_000 - 5_553 - 1_851 - 27_765),
        (FEES, VND): -5_553, (FUND, VND): -1_851, (TAX, VND): -27_765,
        (goods_held("S"), kg("L1")): 20, (goods("B"), kg("L1")): -20,
        (goods_held("S"), kg("L2")): 10, (goods("B"), kg("L2")): -10}
    assert [(c.trade_id, c.state, c.seq, c.trade_seq, c.trade_n) for c in batch.dvp_changes()] == [
        (1, "pending", 1, 1, 0), (1, "paid", 2, 1, 0)]


def test_a_failure_is_a_reversal_referencing_the_trade_even_in_a_later_batch() -> None:
    tr = trade(5, utc_ns(2026, 5, 1))
    first, state = book(LedgerState(), [(5, [tr])], Schedule([rate("fee", 30)]), lambda _: None)
    assert state.open_trades == {5: (5, 0)}
    later, after = book(state, [(9, [settled(9, tr, "failed")])], Schedule([]), lambda _: None)
    (rev,) = later.txns()
    (original,) = first.txns()
    assert (rev.kind, rev.trade_id, rev.reverses, rev.invoice) == ("reversal", 5, (5, 0), None)
    assert sorted((p.account, p.unit, -p.amount) for p in rev.postings) == sorted(
        (p.account, p.unit, p.amount) for p in original.postings)
    assert [(c.state, c.trade_seq, c.trade_n) for c in later.dvp_changes()] == [("failed", 5, 0)]
    assert after.open_trades == {} and state.open_trades == {5: (5, 0)}  # state not changed


def test_delivered_and_settled_are_state_changes_only() -> None:
    tr = trade(1, utc_ns(2026, 5, 1))
    batch, after = book(LedgerState(), [
        (1, [tr]), (2, [settled(2, tr, "paid")]), (3, [settled(3, tr, "delivered", "paid")]),
        (4, [settled(4, tr, "settled", "delivered")])], Schedule([]), lambda _: None)
    assert [t.kind for t in batch.txns()] == ["trade", "payment"]
    assert [(c.state, c.seq) for c in batch.dvp_changes()] == [
        ("pending", 1), ("paid", 2), ("delivered", 3), ("settled", 4)]
    assert after.open_trades == {}


def test_a_step_of_a_trade_never_booked_is_a_bug() -> None:
    with pytest.raises(ValueError, match="never booked"):
        book(LedgerState(), [(2, [settled(2, trade(1, 0), "paid")])], Schedule([]), lambda _: None)


@given(price=st.integers(1, 10**7), qty=st.integers(1, 10**5), fee=st.integers(0, 500),
       levy=st.integers(0, 500), tax=st.integers(0, 1000),
       path=st.sampled_from([[], ["paid"], ["paid", "delivered"],
                             ["paid", "delivered", "settled"], ["failed"]]))
def test_every_trade_and_dvp_step_balances_to_the_dong_and_the_kg(
        price: int, qty: int, fee: int, levy: int, tax: int, path: list[str]) -> None:
    s = Schedule([rate("fee", fee), rate("levy", levy), rate("tax", tax)])
    tr = trade(1, utc_ns(2026, 5, 1), price, qty)
    steps: list[Any] = [(1, [tr])]
    frm = "pending"
    for i, to in enumerate(path, 2):
        steps.append((i, [settled(i, tr, to, frm)]))
        frm = to
    batch, _ = book(LedgerState(), steps, s, lambda _: None)
    totals: dict[tuple[str, str], int] = {}
    for t in batch.txns():
        by_unit: dict[str, int] = {}
        for p in t.postings:
            by_unit[p.unit] = by_unit.get(p.unit, 0) + p.amount
            totals[p.account, p.unit] = totals.get((p.account, p.unit), 0) + p.amount
            assert p.amount != 0
        assert set(by_unit.values()) == {0}
        assert t.fee_vnd + t.levy_vnd + t.tax_vnd <= t.notional_vnd == price * qty
    # after a failure nothing is left anywhere; while pending, only the holds
    left = {k: v for k, v in totals.items() if v}
    if path == ["failed"]:
        assert left == {}
    elif not path:
        assert set(left) == {(cash("B"), VND), (cash_held("B"), VND)} | {
            (a, kg(leg.lot_id)) for leg in tr.lots for a in (goods("S"), goods_held("S"))}
    else:
        assert (cash_held("B"), VND) not in left and all(a != goods_held("S") for a, _ in left)


async def test_both_stores_book_the_same_ledger(tmp_path: Path) -> None:
    await require_pg()
    m = scenario()
    results: list[Any] = []
    pg = Stores("postgres", tmp_path)
    try:
        for store in (SqliteStore(tmp_path / "l.sqlite3"), await pg.open()):
            if isinstance(store, SqliteStore):
                await store.open()
            booker = Booker(store, Schedule.load(), m.trace())
            for i in range(0, len(m.steps), 4):  # in small batches
                await booker.offer(m.steps[i:i + 4])
            results.append((await store.transactions(), await store.balances(),
                            await store.load_state()))
            if isinstance(store, SqliteStore):
                await store.close()
    finally:
        await pg.drop()
    assert results[0] == results[1]


def test_the_schedule_names_instruments_and_herbs_as_the_market_does() -> None:
    # Rates apply to a symbol (QUE-BARK-A) or a herb code (QUE), the codes instruments carry;
    # a rate keyed on a spec id ("QUE-BARK") matched nothing on the real market.
    import datetime as dt

    from grading.catalogue import load_catalogue
    from grading.instruments import instruments
    from settlement.schedule import Schedule

    schedule = Schedule.load()
    listed = instruments(load_catalogue())
    names = {i.symbol for i in listed} | {i.herb for i in listed} | {"*"}
    assert {r.applies_to for r in schedule.rates} <= names
    day = dt.date(2026, 9, 21)
    assert schedule.rate_bps("fee", "QUE-BARK-A", "QUE", day) == 20
    assert schedule.rate_bps("fee", "ATISO-LEAF-A", "ATISO", day) == 30


def test_the_booked_rows_read_back_and_rebuild_the_same_batch() -> None:
    """The rows `book` writes directly are those of its transactions read back (`txns`) and
    written again by `Batch.of`: postings, legs, DvP steps and balance deltas alike."""
    m = scenario()
    batch, _ = book(LedgerState(), m.steps, Schedule.load(), m.trace())
    again = Batch.of(batch.first_seq, batch.last_seq, batch.txns(), batch.dvp_changes(),
                     batch.invoices, batch.herbs)
    assert again == batch
    sums: dict[tuple[str, str], int] = {}
    for t in batch.txns():
        for p in t.postings:
            sums[p.account, p.unit] = sums.get((p.account, p.unit), 0) - p.amount
    assert {(a, u): d for a, u, d, _ in batch.deltas} == {k: d for k, d in sums.items() if d}
    assert all(nn == (a not in ("market:bank", "market:warehouse"))
               for a, _, _, nn in batch.deltas)
