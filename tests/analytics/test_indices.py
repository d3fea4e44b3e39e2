"""The daily herb index: chaining, the worked example of docs/analytics.md, both bases."""

from __future__ import annotations

import re
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import msgspec

from settlement.ticks.indices import herb_index, herbs_of, link
from tests.analytics.support import bar

DOC = Path(__file__).resolve().parents[2] / "docs" / "analytics.md"
GRADES = {"QUE-BARK-A": "A", "QUE-BARK-B": "B", "QUE-BARK-C": "C", "QUE-OIL-A": "A"}


def test_a_grade_missing_a_day_does_not_jump_the_index() -> None:
    # A steady at 62,000; cheap C trades on days 1 and 3 only: the plain VWAP swings, the index
    # stays at 100 because no grade's price moved
    bars = [bar("QUE-BARK-A", "2026-10-01", 100, 6_200_000),
            bar("QUE-BARK-C", "2026-10-01", 300, 11_160_000),
            bar("QUE-BARK-A", "2026-10-02", 100, 6_200_000),
            bar("QUE-BARK-A", "2026-10-03", 100, 6_200_000),
            bar("QUE-BARK-C", "2026-10-03", 300, 11_160_000)]
    points = herb_index(bars, GRADES, "QUE-BARK")
    assert [p.vwap_vnd for p in points] == [43_400, 62_000, 43_400]
    assert [p.index for p in points] == [Decimal("100.0000")] * 3
    assert [p.grades_linked for p in points] == [[], ["A"], ["A"]]
    assert [p.linked for p in points] == [False, True, True]


def test_a_price_move_in_one_grade_moves_the_index_by_its_weight() -> None:
    bars = [bar("QUE-BARK-A", "2026-10-01", 100, 6_000_000),  # 60,000
            bar("QUE-BARK-B", "2026-10-01", 100, 4_000_000),  # 40,000
            bar("QUE-BARK-A", "2026-10-02", 300, 19_800_000),  # 66,000: +10 %
            bar("QUE-BARK-B", "2026-10-02", 100, 4_000_000)]
    p = herb_index(bars, GRADES, "QUE-BARK")[1]
    # weights A 100+300, B 100+100: (400·66,000 + 200·40,000) / (400·60,000 + 200·40,000)
    assert Fraction(p.link) == Fraction(34_400_000, 32_000_000)  # 1.075 exactly
    assert p.index == Decimal("107.5000")


def test_no_common_grade_carries_the_level() -> None:
    bars = [bar("QUE-BARK-A", "2026-10-01", 10, 620_000),
            bar("QUE-BARK-B", "2026-10-02", 10, 480_000),
            bar("QUE-BARK-B", "2026-10-05", 10, 528_000)]
    points = herb_index(bars, GRADES, "QUE-BARK")
    assert [(p.day, str(p.index), p.linked, p.link) for p in points] == [
        ("2026-10-01", "100.0000", False, None), ("2026-10-02", "100.0000", False, None),
        ("2026-10-05", "110.0000", True, Decimal("1.10000000"))]


def test_other_products_and_intervals_are_not_mixed_in() -> None:
    oil = bar("QUE-OIL-A", "2026-10-02", 10, 10_500_000)
    hourly = msgspec.structs.replace(bar("QUE-BARK-A", "2026-10-02", 10, 900_000), interval="1h")
    bars = [bar("QUE-BARK-A", "2026-10-01", 10, 620_000), oil, hourly,
            bar("QUE-BARK-A", "2026-10-02", 10, 620_000), bar("NOPE-X-A", "2026-10-02", 1, 1)]
    assert [str(p.index) for p in herb_index(bars, GRADES, "QUE-BARK")] == ["100.0000"] * 2
    assert herbs_of(GRADES) == ["QUE-BARK", "QUE-OIL"]


def test_per_kg_active_weighs_by_active_content() -> None:
    # the same kg prices, but B's second lot is richer (2.5 % instead of 2.0 %): per kg of
    # active ingredient B got cheaper, per kg of herb nothing changed
    bars = [bar("QUE-BARK-B", "2026-10-01", 100, 4_800_000, active_mg=2_000_000),
            bar("QUE-BARK-B", "2026-10-02", 100, 4_800_000, active_mg=2_500_000)]
    kg = herb_index(bars, GRADES, "QUE-BARK", "kg")
    active = herb_index(bars, GRADES, "QUE-BARK", "active")
    assert kg[1].index == Decimal("100.0000")
    assert [p.vwap_vnd for p in active] == [2_400_000, 1_920_000]  # VND per kg of active
    assert active[1].index == Decimal("80.0000")
    assert [p.volume for p in active] == [2_000_000, 2_500_000]  # mg


def test_a_day_without_assayed_trades_has_no_active_point() -> None:
    bars = [bar("QUE-BARK-A", "2026-10-01", 10, 620_000, active_mg=250_000),
            bar("QUE-BARK-A", "2026-10-02", 10, 630_000, active_mg=0, active_notional=0),
            bar("QUE-BARK-A", "2026-10-03", 10, 640_000, active_mg=250_000)]
    assert [p.day for p in herb_index(bars, GRADES, "QUE-BARK", "active")] == [
        "2026-10-01", "2026-10-03"]
    assert len(herb_index(bars, GRADES, "QUE-BARK", "kg")) == 3


def test_the_level_rounds_half_to_even_and_chains_from_the_published_value() -> None:
    assert link({}, {}, "kg") is None
    # day 2: 100 × 1.0000005 = 100.00005, a tie: half to even gives 100.0000 (half up would
    # give 100.0001); day 3 chains from the published 100.0000
    bars = [bar("QUE-BARK-A", "2026-10-01", 1, 80_000_000),
            bar("QUE-BARK-A", "2026-10-02", 1, 80_000_040),  # link 1.0000005: 100.00005
            bar("QUE-BARK-A", "2026-10-03", 1, 80_000_120)]  # chains from 100.0000
    points = herb_index(bars, GRADES, "QUE-BARK")
    assert [str(p.index) for p in points] == ["100.0000", "100.0000", "100.0001"]


def test_demo_days_are_marked() -> None:
    bars = [bar("QUE-BARK-A", "2026-10-01", 10, 620_000, demo_trades=1),
            bar("QUE-BARK-A", "2026-10-02", 10, 620_000)]
    assert [p.demo_trades for p in herb_index(bars, GRADES, "QUE-BARK")] == [1, 0]


# -- the worked example of docs/analytics.md ----------------------------------------------------


def table(marker: str) -> list[list[str]]:
    text = DOC.read_text(encoding="utf-8")
    block = text.split(f"<!-- worked-example:{marker} -->", 1)[1].strip().splitlines()
    rows = []
    for line in block:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip("|").split("|")])
    return rows[2:]  # header and rule


def number(text: str) -> int:
    return int(text.replace(",", ""))


def test_the_worked_example_recomputes() -> None:
    bars = [bar(f"QUE-BARK-{g}", day, number(v), number(n), active_mg=number(a),
                active_notional=number(an))
            for day, g, v, n, a, an in table("bars")]
    assert len(bars) == 7
    kg = herb_index(bars, GRADES, "QUE-BARK", "kg")
    active = herb_index(bars, GRADES, "QUE-BARK", "active")
    expected = table("index")
    assert len(expected) == len(kg) == len(active) == 4
    for row, k, a in zip(expected, kg, active, strict=True):
        day, linked, link_kg, index_kg, vwap_kg, link_active, index_active, vwap_active = row
        assert k.day == a.day == day
        assert (", ".join(k.grades_linked) or "–") == linked
        assert (str(k.link) if k.link is not None else "–") == link_kg
        assert str(k.index) == index_kg and k.vwap_vnd == number(vwap_kg)
        assert (str(a.link) if a.link is not None else "–") == link_active
        assert str(a.index) == index_active and a.vwap_vnd == number(vwap_active)
    assert re.search(r"102\.0415", DOC.read_text(encoding="utf-8"))
