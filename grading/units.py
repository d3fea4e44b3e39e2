"""Decimal parsing and unit checking for assay values.

Owns: turning a lab's value string into a `decimal.Decimal` (never a float), the small
vocabulary of units the specs may use, their aliases, exact conversions between mass
fractions (%, mg/kg, µg/kg), and the conversion of a content between the as-is basis (the
sample as received) and the dried basis (its dry matter). Must never accept floats,
exponents, signs, NaN or decimal commas: a lab value that is not a plain non-negative decimal
is an error, not a guess.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Literal

# A plain non-negative decimal: at most 12 integer digits and 9 fraction digits. No exponent,
# so "1e3" cannot sneak in; no sign, since no assay quantity here is negative.
_DECIMAL_RE = re.compile(r"^[0-9]{1,12}(\.[0-9]{1,9})?$")

PERCENT = "%"  # mass fraction, g per 100 g (w/w)
PERCENT_VW = "% v/w"  # volume per mass, ml per 100 g (essential-oil content)
MG_PER_KG = "mg/kg"
UG_PER_KG = "µg/kg"  # MICRO SIGN U+00B5
MM = "mm"
COUNT_PER_500G = "count/500g"

UNITS: tuple[str, ...] = (PERCENT, PERCENT_VW, MG_PER_KG, UG_PER_KG, MM, COUNT_PER_500G)

_ALIASES: dict[str, str] = {
    "% w/w": PERCENT,
    "%w/w": PERCENT,
    "g/100g": PERCENT,
    "g/100 g": PERCENT,
    "%v/w": PERCENT_VW,
    "% (ml/g)": PERCENT_VW,
    "ml/100g": PERCENT_VW,
    "ml/100 g": PERCENT_VW,
    "ppm": MG_PER_KG,
    "ug/kg": UG_PER_KG,
    "\u03bcg/kg": UG_PER_KG,  # GREEK SMALL LETTER MU, which labs type as often as the micro sign
    "ppb": UG_PER_KG,
    "roots/500g": COUNT_PER_500G,
    "heads/500g": COUNT_PER_500G,
}

# Mass fractions convert exactly through mg/kg; other units convert only to themselves.
_MG_PER_KG_FACTOR: dict[str, Decimal] = {
    PERCENT: Decimal(10000),
    MG_PER_KG: Decimal(1),
    UG_PER_KG: Decimal("0.001"),
}


class UnitError(ValueError):
    """A unit that is unknown or cannot be converted to the one a parameter needs."""


class DecimalFormatError(ValueError):
    """A value that is not a plain non-negative decimal string."""


def parse_decimal(text: object) -> Decimal:
    """Parse a lab value given as a string, e.g. ``"0.052"``; anything else is an error."""
    if not isinstance(text, str):
        raise DecimalFormatError(
            f"expected a decimal string such as '0.052', got {type(text).__name__} {text!r}"
        )
    if "," in text:
        raise DecimalFormatError(f"{text!r}: use '.' as the decimal separator, not ','")
    if not _DECIMAL_RE.fullmatch(text):
        raise DecimalFormatError(
            f"{text!r} is not a plain non-negative decimal (digits, optional '.' and up to "
            "9 fraction digits; no sign, exponent or spaces)"
        )
    return Decimal(text)


def canonical_unit(unit: str) -> str:
    """The canonical spelling of a unit, or `UnitError` if it is not one we know."""
    if unit in UNITS:
        return unit
    alias = _ALIASES.get(unit.strip())
    if alias is None:
        raise UnitError(f"unknown unit {unit!r}; known units: {', '.join(UNITS)}")
    return alias


def convert(value: Decimal, from_unit: str, to_unit: str) -> Decimal:
    """Convert ``value`` exactly between compatible units (both given in any known spelling)."""
    src, dst = canonical_unit(from_unit), canonical_unit(to_unit)
    if src == dst:
        return value
    if src in _MG_PER_KG_FACTOR and dst in _MG_PER_KG_FACTOR:
        # Decimal multiplication/division by powers of ten is exact at the default precision
        # for values of the size _DECIMAL_RE admits.
        return value * _MG_PER_KG_FACTOR[src] / _MG_PER_KG_FACTOR[dst]
    raise UnitError(f"cannot convert {src!r} to {dst!r}")


# --- basis: as-is (the sample as the lab received it) or dried (its dry matter) ---------------

Basis = Literal["as_is", "dried"]

# One fixed context for the basis conversion, so that a caller's decimal context can never
# change a grade: 28 significant digits (Python's default), banker's rounding of the one
# inexact step (the division by the dry-matter fraction). No value is rounded to fewer digits
# before it is compared with a limit.
_BASIS_CONTEXT = Context(prec=28, rounding=ROUND_HALF_EVEN)
_HUNDRED = Decimal(100)


class BasisError(ValueError):
    """A moisture content that leaves no dry matter (100 % or more)."""


def convert_basis(value: Decimal, moisture_pct: Decimal, from_basis: Basis,
                  to_basis: Basis) -> Decimal:
    """Convert a content between the as-is and the dried basis, given the sample's water
    content in % (the lab's own moisture result for the same sample):

    dried = as-is × 100 / (100 − moisture);  as-is = dried × (100 − moisture) / 100.
    """
    if from_basis == to_basis:
        return value
    if moisture_pct >= _HUNDRED:
        raise BasisError(f"moisture {moisture_pct} % leaves no dry matter to refer a content to")
    dry_matter = _BASIS_CONTEXT.subtract(_HUNDRED, moisture_pct)
    if to_basis == "dried":
        return _BASIS_CONTEXT.divide(_BASIS_CONTEXT.multiply(value, _HUNDRED), dry_matter)
    return _BASIS_CONTEXT.divide(_BASIS_CONTEXT.multiply(value, dry_matter), _HUNDRED)
