from decimal import Decimal

import pytest

from grading.instruments import (
    instrument_for,
    instrument_symbol,
    instruments,
    parse_symbol,
)
from grading.valuation import price_per_kg_active, price_per_kg_herb


@pytest.mark.parametrize("price,content,expected", [
    (61_500, Decimal("2.5"), 2_460_000),        # exact
    (61_500, Decimal("2.91"), 2_113_402),       # 2 113 402.06... → nearest
    (100, Decimal("3"), 3_333),                 # 3333.33... → down
    (200, Decimal("3"), 6_667),                 # 6666.66... → up
    (1, Decimal("8"), 12),                      # 12.5 → half to even: 12
    (3, Decimal("8"), 38),                      # 37.5 → half to even: 38
    (850_000, Decimal("87.6"), 970_320),        # cassia oil: per kg of cinnamaldehyde
    (0, Decimal("5"), 0),
])
def test_price_per_kg_active(price, content, expected):
    assert price_per_kg_active(price, content) == expected


@pytest.mark.parametrize("active_price,content,expected", [
    (2_460_000, Decimal("2.5"), 61_500),
    (2_000_000, Decimal("0.118"), 2_360),
    (25, Decimal("10"), 2),                      # 2.5 → half to even: 2
    (35, Decimal("10"), 4),                      # 3.5 → half to even: 4
    (1_000_000, Decimal("9.12"), 91_200),
])
def test_price_per_kg_herb(active_price, content, expected):
    assert price_per_kg_herb(active_price, content) == expected


def test_round_trip_stays_within_one_dong_per_kg():
    for price in (12_345, 61_500, 987_654, 2_500_000):
        for content in ("0.052", "1.2", "2.91", "9.12", "87.6"):
            c = Decimal(content)
            back = price_per_kg_herb(price_per_kg_active(price, c), c)
            assert abs(back - price) <= 1, (price, content)


def test_stronger_lot_is_cheaper_per_kg_of_active():
    assert price_per_kg_active(70_000, Decimal("3.2")) < price_per_kg_active(60_000, Decimal("2.1"))


@pytest.mark.parametrize("price,content", [
    (61_500, Decimal("0")), (61_500, Decimal("100.1")), (-1, Decimal("2")),
    (61_500.0, Decimal("2")), (True, Decimal("2")), (61_500, 2.5), (61_500, Decimal("NaN")),
])
def test_bad_inputs(price, content):
    with pytest.raises(ValueError):
        price_per_kg_active(price, content)
    with pytest.raises(ValueError):
        price_per_kg_herb(price, content)


def test_results_are_int():
    assert type(price_per_kg_active(61_500, Decimal("2.91"))) is int
    assert type(price_per_kg_herb(61_500, Decimal("2.91"))) is int


# --- instruments --------------------------------------------------------------------------------


def test_instrument_symbol():
    assert instrument_symbol("QUE", "BARK", "A") == "QUE-BARK-A"
    assert instrument_symbol("TAMTHAT", "ROOT", "B") == "TAMTHAT-ROOT-B"
    assert parse_symbol("QUE-OIL-C") == ("QUE", "OIL", "C")


@pytest.mark.parametrize("args", [
    ("QUE", "BARK", "REJECT"), ("que", "BARK", "A"), ("QUE", "BARK-X", "A"), ("QUE", "", "A"),
])
def test_bad_instrument_parts(args):
    with pytest.raises(ValueError):
        instrument_symbol(*args)


@pytest.mark.parametrize("symbol", ["QUE-BARK", "QUE-BARK-A-B", "que-bark-a"])
def test_bad_symbols(symbol):
    with pytest.raises(ValueError):
        parse_symbol(symbol)


def test_demo_market_instruments(catalogue):
    insts = instruments(catalogue)
    symbols = [i.symbol for i in insts]
    assert len(symbols) == len(set(symbols)) == sum(len(s.grades) for s in catalogue)
    assert {"QUE-BARK-A", "QUE-BARK-B", "QUE-BARK-C", "QUE-OIL-A", "TAMTHAT-ROOT-A",
            "DUONGQUY-ROOT-A", "CATCANH-ROOT-A", "SANHAN-FRUIT-A", "ATISO-LEAF-A",
            "THAOQUA-FRUIT-A"} <= set(symbols)
    que_a = insts[symbols.index("QUE-BARK-A")]
    assert (que_a.herb, que_a.grade, que_a.unit, que_a.tick_vnd) == ("QUE", "A", "kg", 100)
    assert instrument_for(catalogue, "QUE-BARK", "A") == que_a
    with pytest.raises(KeyError):
        instrument_for(catalogue, "QUE-BARK", "REJECT")


def test_same_herb_and_grade_always_same_book(catalogue, assay):
    from grading.assay import grade_lot

    spec = catalogue.get("SANHAN-FRUIT")
    a1 = grade_lot(spec, assay(catalogue, spec.id), "domestic")
    a2 = grade_lot(spec, assay(catalogue, spec.id, {"essential_oil_pct": "4.9"}), "eu")
    assert instrument_symbol(spec.code, spec.product, a1.grade) == \
        instrument_symbol(spec.code, spec.product, a2.grade) == "SANHAN-FRUIT-A"
