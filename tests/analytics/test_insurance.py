"""Insurance figures: reference price, the minimum-volume rule, payouts at, above and below
the floor, demo seasons, the CSV report."""

from __future__ import annotations

import csv
import io

import pytest

from engine.insurance import InsuranceTerms
from settlement.ticks.insurance import figures, payout_per_kg, report_csv, window_sums
from tests.analytics.support import DAY_NS, day_ns, tick

START = day_ns("2026-10-01")
END = day_ns("2026-11-01")


def terms(floor: int = 50_000, min_kg: int = 100, demo: bool = False) -> InsuranceTerms:
    return InsuranceTerms(herb="QUE-BARK", season="2026", floor_vnd=floor,
                          window_start_ns=START, window_end_ns=END, min_volume_kg=min_kg,
                          demo=demo, seq=7, ts_ns=START - DAY_NS)


TICKS = [tick("QUE-BARK-A", START + 3600 * 10**9, 52_000, 60, n=1),
         tick("QUE-BARK-B", START + 2 * DAY_NS, 46_000, 40, n=2)]
# VWAP = (52,000·60 + 46,000·40) / 100 = 49,600


@pytest.mark.parametrize(("floor", "payout"), [(49_600, 0), (45_000, 0), (51_000, 1_400)])
def test_payout_at_above_and_below_the_floor(floor: int, payout: int) -> None:
    t = terms(floor=floor)
    f = figures(t, window_sums(TICKS, t), as_of_ns=END)
    assert f.status == "ok" and f.reference_vnd == 49_600
    assert f.payout_per_kg_vnd == payout
    assert f.final


def test_payout_is_floor_minus_reference_never_negative() -> None:
    assert payout_per_kg(50_000, 50_000) == 0
    assert payout_per_kg(50_000, 50_001) == 0
    assert payout_per_kg(50_000, 49_999) == 1


def test_not_enough_data_below_the_minimum_volume() -> None:
    at = terms(min_kg=100)
    assert figures(at, window_sums(TICKS, at), END).status == "ok"  # exactly the minimum
    above = terms(min_kg=101)
    f = figures(above, window_sums(TICKS, above), END)
    assert (f.status, f.reference_vnd, f.payout_per_kg_vnd) == ("not_enough_data", None, None)
    assert f.volume_kg == 100 and f.trades == 2
    empty = figures(terms(), window_sums([], terms()), END)
    assert empty.status == "not_enough_data" and empty.volume_kg == 0


def test_only_the_window_and_the_herb_product_count() -> None:
    outside = [tick("QUE-BARK-A", START - 1, 10_000, 500, n=3),  # before the window
               tick("QUE-BARK-A", END, 10_000, 500, n=4),  # the end is excluded
               tick("QUE-OIL-A", START + 5, 1_000_000, 500, n=5)]  # another product
    t = terms()
    assert window_sums(TICKS + outside, t) == window_sums(TICKS, t)
    edge = tick("QUE-BARK-A", START, 52_000, 1, n=6)  # the start is included
    assert window_sums([edge], t).volume_kg == 1


def test_demo_trades_count_only_in_a_demo_season() -> None:
    demo = [tick("QUE-BARK-A", START + 10, 30_000, 1_000, demo=True, n=7)]
    official = terms()
    assert window_sums(TICKS + demo, official) == window_sums(TICKS, official)
    season = terms(demo=True)
    s = window_sums(TICKS + demo, season)
    assert (s.volume_kg, s.demo_trades) == (1_100, 1)
    f = figures(season, s, END)
    assert f.demo and f.reference_vnd == (52_000 * 60 + 46_000 * 40 + 30_000 * 1_000 + 550) // 1_100


def test_reference_rounds_half_up() -> None:
    t = terms(min_kg=1)
    two = [tick("QUE-BARK-A", START, 10_001, 1, n=8), tick("QUE-BARK-A", START, 10_000, 1, n=9)]
    assert figures(t, window_sums(two, t), END).reference_vnd == 10_001  # 10,000.5 → up
    three = two + [tick("QUE-BARK-A", START, 10_000, 1, n=10)]
    assert figures(t, window_sums(three, t), END).reference_vnd == 10_000  # 10,000.33 → down


def test_figures_before_the_window_closes_are_provisional() -> None:
    t = terms()
    assert not figures(t, window_sums(TICKS, t), END - 1).final


def test_the_csv_report() -> None:
    t1, t2 = terms(floor=51_000), terms(min_kg=10_000, demo=True)
    text = report_csv([figures(t1, window_sums(TICKS, t1), END),
                       figures(t2, window_sums(TICKS, t2), END)])
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[0]["payout_per_kg_vnd"] == "1400" and rows[0]["reference_vnd"] == "49600"
    assert rows[0]["demo"] == "false" and rows[0]["status"] == "ok"
    assert rows[0]["window_start"] == "2026-09-30T17:00:00Z"  # 00:00 in Vietnam
    assert rows[1]["demo"] == "true" and rows[1]["status"] == "not_enough_data"
    assert rows[1]["reference_vnd"] == "" and rows[1]["payout_per_kg_vnd"] == ""
