"""The pure booking function: the rounding rule, the invoicing year in Vietnam time, the
schedule's look-up, taxes where configured; and the same ledger from both stores."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.messages import LotLeg, TradeExecuted
from settlement.booker import Booker
from settlement.booking import book, charge
from settlement.ledger import FEES, FUND, TAX, VND, LedgerState, cash, goods, kg
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
    assert [t.invoice for t in batch.txns] == ["HX2026-00000042", "HX2027-00000001"]
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


def test_a_configured_tax_is_booked_as_tax_payable() -> None:
    s = Schedule([rate("fee", 30), rate("levy", 10), rate("tax", 150)])
    batch, _ = book(LedgerState(), [(1, [trade(1, utc_ns(2026, 5, 1))])], s, lambda lot: f"u/{lot}")
    (t,) = batch.txns
    assert (t.notional_vnd, t.fee_vnd, t.levy_vnd, t.tax_vnd) == (1_851_000, 5_553, 1_851, 27_765)
    got = {(p.account, p.unit): p.amount for p in t.postings}
    assert got == {(cash("B"), VND): 1_851_000, (cash("S"), VND): -(1_851_000 - 5_553 - 1_851 - 27_765),
                   (FEES, VND): -5_553, (FUND, VND): -1_851, (TAX, VND): -27_765,
                   (goods("S"), kg("L1")): 20, (goods("B"), kg("L1")): -20,
                   (goods("S"), kg("L2")): 10, (goods("B"), kg("L2")): -10}
    assert [(leg.lot_id, leg.qty, leg.trace_url) for leg in t.legs] == [("L1", 20, "u/L1"), ("L2", 10, "u/L2")]


@given(price=st.integers(1, 10**7), qty=st.integers(1, 10**5), fee=st.integers(0, 500),
       levy=st.integers(0, 500), tax=st.integers(0, 1000))
def test_every_trade_balances_to_the_dong_and_the_kg(price: int, qty: int, fee: int, levy: int, tax: int) -> None:
    s = Schedule([rate("fee", fee), rate("levy", levy), rate("tax", tax)])
    batch, _ = book(LedgerState(), [(1, [trade(1, utc_ns(2026, 5, 1), price, qty)])], s, lambda _: None)
    (t,) = batch.txns
    by_unit: dict[str, int] = {}
    for p in t.postings:
        by_unit[p.unit] = by_unit.get(p.unit, 0) + p.amount
        assert p.amount != 0
    assert set(by_unit.values()) == {0}
    assert t.fee_vnd + t.levy_vnd + t.tax_vnd <= t.notional_vnd == price * qty


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
