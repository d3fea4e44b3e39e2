"""Quality-adjusted value: price per kg of active ingredient, and back.

Owns: the two conversions that let books and indices compare lots of different strength.
Prices are integer VND; content is a `Decimal` percentage (``"2.84"`` means 2.84 %).

    price_per_kg_active = price_per_kg_herb / (content / 100)
    price_per_kg_herb   = price_per_kg_active * (content / 100)

Rounding (documented in docs/grading.md): the exact quotient or product is rounded to whole
đồng, half to even (banker's rounding), so repeated conversions do not drift upward. For a
``% v/w`` content (essential oil) the "active" amount is litres of oil: 1 % v/w = 10 ml/kg,
so the same formula gives VND per litre of oil. Must never use floats.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal

# 40 significant digits hold any product of a 15-digit VND price and a 21-digit content.
_CTX = Context(prec=40, rounding=ROUND_HALF_EVEN)
_HUNDRED = Decimal(100)


def _check(price_vnd: int, content_pct: Decimal) -> None:
    if isinstance(price_vnd, bool) or not isinstance(price_vnd, int) or price_vnd < 0:
        raise ValueError(f"price must be a non-negative integer VND, got {price_vnd!r}")
    if not isinstance(content_pct, Decimal) or not content_pct.is_finite():
        raise ValueError(f"content must be a finite Decimal percentage, got {content_pct!r}")
    if not Decimal(0) < content_pct <= _HUNDRED:
        raise ValueError(f"content must be in (0, 100] %, got {content_pct}")


def _to_vnd(x: Decimal) -> int:
    return int(x.quantize(Decimal(1), rounding=ROUND_HALF_EVEN, context=_CTX))


def price_per_kg_active(price_vnd_per_kg: int, content_pct: Decimal) -> int:
    """VND per kg of active ingredient for a herb priced ``price_vnd_per_kg`` per kg."""
    _check(price_vnd_per_kg, content_pct)
    return _to_vnd(_CTX.divide(_CTX.multiply(Decimal(price_vnd_per_kg), _HUNDRED), content_pct))


def price_per_kg_herb(price_vnd_per_kg_active: int, content_pct: Decimal) -> int:
    """VND per kg of herb for a buyer's price per kg of active ingredient."""
    _check(price_vnd_per_kg_active, content_pct)
    return _to_vnd(_CTX.divide(_CTX.multiply(Decimal(price_vnd_per_kg_active), content_pct),
                               _HUNDRED))
