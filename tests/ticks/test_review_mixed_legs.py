"""Review finding: a trade whose legs are partly of assayed lots (a content) and partly of
goods received without a record must count, on the active-ingredient side of its bars (and so
of the `active` index), only what was paid for the assayed legs, as its tick does."""

from __future__ import annotations

from typing import Any

from engine.messages import LotLeg, LotValue, TradeExecuted
from settlement.ticks.bars import bars_of
from settlement.ticks.export import bar_json
from settlement.ticks.store import TickQuery
from settlement.ticks.tape import ticks_of
from tests.ticks.conftest import T0

QUE = {"QUE-BARK-A": ("QUE-BARK", "A")}


def mixed_trade(seq: int) -> TradeExecuted:
    # 100 kg of a lot at 2.5 % (2.5 kg of active ingredient) and 200 kg with no record
    return TradeExecuted(
        seq=seq, ts_ns=T0 + seq, trade_id=seq, symbol="QUE-BARK-A", price_vnd=60_000,
        qty=300, aggressor="buy", maker_order_id=1, taker_order_id=2, buyer="T1",
        seller="C1", maker_leaves_qty=0, taker_leaves_qty=0,
        lots=[LotLeg("L1", 100), LotLeg("L2", 200)],
        lot_values=[LotValue("2.5", 2_400_000, False), LotValue(None, None, False)])


def test_a_mixed_trade_counts_only_its_assayed_legs_as_active_value() -> None:
    [t] = ticks_of([(5, [mixed_trade(5)])], QUE).ticks
    assert (t.active_mg, t.price_per_kg_active_vnd) == (2_500_000, 2_400_000)
    for _key, (bar, _, _) in bars_of([t]).items():
        assert bar.active_notional_vnd == 60_000 * 100  # not the 300 kg's 18,000,000
        assert bar_json(bar)["price_per_kg_active"] == 2_400_000


async def test_the_stores_bars_agree_incrementally_and_rebuilt(store: Any) -> None:
    tape = ticks_of([(5, [mixed_trade(5)])], QUE)
    await store.write(5, 5, tape.ticks, QUE)
    [tick] = await store.ticks(TickQuery(), 10)
    assert tick == tape.ticks[0]  # the stored tick reads back whole
    for rebuilt in (False, True):
        if rebuilt:
            await store.rebuild_bars()
        [bar] = await store.bars("QUE-BARK-A", "1d", None, None)
        assert bar_json(bar)["price_per_kg_active"] == 2_400_000, rebuilt
