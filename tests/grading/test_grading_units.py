from decimal import Decimal

import pytest

from grading import units


@pytest.mark.parametrize("text,expected", [
    ("0.052", Decimal("0.052")), ("15", Decimal("15")), ("0", Decimal("0")),
    ("87.600", Decimal("87.600")), ("123456789012.123456789", Decimal("123456789012.123456789")),
])
def test_parse_decimal_accepts_plain_decimals(text, expected):
    v = units.parse_decimal(text)
    assert v == expected and isinstance(v, Decimal)
    assert str(v) == text  # no binary rounding, trailing zeros kept


@pytest.mark.parametrize("bad", [
    "0,052", "-1", "+1", "1e3", "1E-2", "NaN", "Infinity", "", " 1", "1 ", ".5", "5.",
    "1.0000000001", "1_000", "١٢",
])
def test_parse_decimal_rejects_everything_else(bad):
    with pytest.raises(units.DecimalFormatError):
        units.parse_decimal(bad)


@pytest.mark.parametrize("not_a_string", [0.1, 1, Decimal("0.1"), None, b"0.1"])
def test_parse_decimal_refuses_non_strings_including_floats(not_a_string):
    with pytest.raises(units.DecimalFormatError, match="expected a decimal string"):
        units.parse_decimal(not_a_string)


def test_decimal_comma_gets_a_helpful_message():
    with pytest.raises(units.DecimalFormatError, match="decimal separator"):
        units.parse_decimal("0,05")


@pytest.mark.parametrize("alias,canonical", [
    ("ppm", "mg/kg"), ("ug/kg", "µg/kg"), ("\u03bcg/kg", "µg/kg"), ("ppb", "µg/kg"),
    ("% w/w", "%"), ("ml/100g", "% v/w"), ("heads/500g", "count/500g"), ("%", "%"),
])
def test_unit_aliases(alias, canonical):
    assert units.canonical_unit(alias) == canonical


def test_unknown_unit():
    with pytest.raises(units.UnitError, match="unknown unit 'mg/L'"):
        units.canonical_unit("mg/L")


@pytest.mark.parametrize("value,src,dst,expected", [
    ("0.05", "%", "mg/kg", "500"), ("500", "mg/kg", "%", "0.05"), ("2", "µg/kg", "mg/kg", "0.002"),
    ("0.2", "mg/kg", "µg/kg", "200"), ("1.5", "%", "%", "1.5"), ("3", "ppm", "mg/kg", "3"),
])
def test_exact_mass_fraction_conversion(value, src, dst, expected):
    assert units.convert(Decimal(value), src, dst) == Decimal(expected)


@pytest.mark.parametrize("src,dst", [("% v/w", "%"), ("mm", "%"), ("count/500g", "mg/kg")])
def test_incompatible_units(src, dst):
    with pytest.raises(units.UnitError, match="cannot convert"):
        units.convert(Decimal(1), src, dst)
