"""Instrument names for graded herbs: one book per herb, product and grade.

Owns: the symbol format ``HERB-PRODUCT-GRADE`` (``QUE-BARK-A``), its parsing, and the list of
every tradable instrument of a catalogue (the demo market lists them all). A ``REJECT`` lot has
no instrument: it can never be sold. Must never invent a symbol the catalogue does not know
when asked through `instrument_for`.
"""

from __future__ import annotations

import re

from msgspec import Struct

from grading.catalogue import Catalogue
from grading.spec import REJECT

_PART = re.compile(r"^[A-Z][A-Z0-9]{0,11}$")


class Instrument(Struct, frozen=True, kw_only=True):
    """Matches the fields of the engine's ``AddInstrument`` command and ``GET /instruments``."""

    symbol: str
    herb: str
    product: str
    grade: str
    unit: str
    tick_vnd: int
    spec_id: str


def instrument_symbol(herb_code: str, product: str, grade: str) -> str:
    """``instrument_symbol("QUE", "BARK", "A") == "QUE-BARK-A"``; the same inputs always give
    the same book. Raises `ValueError` for a reject grade or a malformed part."""
    if grade == REJECT:
        raise ValueError("a rejected lot has no instrument: it cannot be sold")
    for what, part in (("herb code", herb_code), ("product", product), ("grade", grade)):
        if not _PART.fullmatch(part):
            raise ValueError(f"{what} {part!r} must be A-Z/0-9, starting with a letter")
    return f"{herb_code}-{product}-{grade}"


def parse_symbol(symbol: str) -> tuple[str, str, str]:
    """``"QUE-BARK-A"`` → ``("QUE", "BARK", "A")``."""
    parts = symbol.split("-")
    if len(parts) != 3:
        raise ValueError(f"{symbol!r} is not HERB-PRODUCT-GRADE")
    herb, product, grade = parts
    if instrument_symbol(herb, product, grade) != symbol:  # validates each part
        raise AssertionError(symbol)
    return herb, product, grade


def instruments(catalogue: Catalogue) -> list[Instrument]:
    """Every tradable instrument: each spec × each of its grade bands, best grade first."""
    return [
        Instrument(symbol=instrument_symbol(s.code, s.product, g), herb=s.code,
                   product=s.product, grade=g, unit=s.unit, tick_vnd=s.tick_vnd, spec_id=s.id)
        for s in catalogue for g in s.grade_names
    ]


def instrument_for(catalogue: Catalogue, spec_id: str, grade: str) -> Instrument:
    """The instrument of a lot of ``spec_id`` graded ``grade``; `KeyError` if there is none."""
    for i in instruments(catalogue):
        if i.spec_id == spec_id and i.grade == grade:
            return i
    raise KeyError(f"no instrument for {spec_id} grade {grade}")
