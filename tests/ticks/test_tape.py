"""The engine's events to ticks: venue, active content, instruments, no identities."""

from __future__ import annotations

from decimal import Decimal

from engine.messages import TradeExecuted
from settlement.ticks.model import Tick
from settlement.ticks.tape import active_mg_of, ticks_of
from tests.settlement.conftest import scenario


def test_every_trade_becomes_one_tick_keyed_by_seq_and_its_index() -> None:
    m = scenario()
    trades = [e for _, evs in m.steps for e in evs if isinstance(e, TradeExecuted)]
    tape = ticks_of(m.steps, {})
    assert [(t.seq, t.trade_id) for t in tape.ticks] == [(e.seq, e.trade_id) for e in trades]
    assert all(t.n == 0 for t in tape.ticks)  # one trade per command in this scenario
    assert tape.instruments["QUE-BARK-B"] == ("QUE-BARK", "B")
    for t, e in zip(tape.ticks, trades, strict=True):
        assert (t.price_vnd, t.qty, t.notional_vnd) == (e.price_vnd, e.qty, e.price_vnd * e.qty)
        assert (t.herb, t.grade) == tape.instruments[e.symbol]


def test_book_and_auction_trades_are_told_apart() -> None:
    tape = ticks_of(scenario().steps, {})
    assert [t.venue for t in tape.ticks] == ["book", "book", "book", "auction"]


def test_active_content_comes_from_the_lots_and_the_engine_price_per_kg_active() -> None:
    m = scenario()
    tape = ticks_of(m.steps, {})
    first, resale, bare, _ = tape.ticks
    # 300 kg at 2.91 % is 8.73 kg = 8,730,000 mg of active ingredient
    assert first.active_mg == 8_730_000
    assert first.price_per_kg_active_vnd == 2_120_275  # the engine's: 61,700 / 0.0291
    assert resale.active_mg == 2_910_000 and resale.price_per_kg_active_vnd == 2_233_677
    assert bare.active_mg is None and bare.price_per_kg_active_vnd is None


def test_a_tick_names_no_buyer_or_seller() -> None:
    assert not {"buyer", "seller", "account"} & set(Tick.__struct_fields__)


def test_active_mg_is_exact_decimal_arithmetic() -> None:
    assert active_mg_of("2.9137", 7) == 203_959  # 7 kg × 2.9137 % = 203.959 g
    assert active_mg_of("0.0001", 1) == 1
    assert Decimal("12.5") * 3 * 10_000 == active_mg_of("12.5", 3)


def test_instruments_known_before_the_steps_are_used() -> None:
    m = scenario()
    later = [s for s in m.steps if s[0] > 10]
    known = {"QUE-BARK-A": ("QUE-BARK", "A"), "QUE-BARK-B": ("QUE-BARK", "B")}
    tape = ticks_of(later, known)
    assert len(tape.ticks) == 4 and tape.instruments == {}


def test_an_english_auction_sale_of_a_recorded_lot_is_an_auction_tick_with_its_content() -> None:
    from engine.messages import CreateAuction, ListLotOnBook, PlaceBid
    from engine.messages import Tick as ClockTick
    from tests.settlement.conftest import Recorder

    m = Recorder()
    m.received("L1")
    ev = m.step(CreateAuction(kind="english", seller="C1", lot_id="L1", qty=300, start_ns=m.ts,
                              end_ns=m.ts + 60 * 10**9, start_price_vnd=50_000))
    aid = ev[0].auction_id
    m.step(PlaceBid(auction_id=aid, account="T1", price_vnd=55_000))
    m.do(ClockTick(), ts=m.ts + 61 * 10**9)
    m.step(ListLotOnBook(lot_id="L1", account="C1"))
    m.order("C1", "sell", 10, 61_700, symbol="QUE-BARK-A")  # a book trade after it:
    m.order("T2", "buy", 10, 61_700, symbol="QUE-BARK-A")  # the maker id is an order's
    (sale, book) = ticks_of(m.steps, {}).ticks
    assert (sale.venue, sale.qty, sale.price_vnd) == ("auction", 300, 50_000)
    assert sale.active_mg == 300 * 291 * 100  # 2.91 %
    assert book.venue == "book"
