"""Assay results to a grade: one pure function, `grade_lot`.

Owns: checking a lab's results against a `HerbSpec` for a destination market (every value a
decimal string, every unit known and convertible to the parameter's unit, every required
parameter present, no unknown or duplicate parameter), then the decision: ``REJECT`` with every
failed limit, or the best grade band whose conditions hold, the parameter that decided it, the
physical class and the active-ingredient content used for valuation. Input errors raise
`AssayError` (the caller sent something we cannot grade); a failed limit is a result, not an
error. Must never do I/O or read the clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Annotated, Literal

from msgspec import Meta, Struct

from grading import units
from grading.spec import REJECT, HerbSpec, ParamSpec

AssayErrorCode = Literal[
    "unknown_destination", "unknown_parameter", "duplicate_parameter", "missing_parameter",
    "bad_decimal", "bad_unit",
]


class AssayError(ValueError):
    """Results that cannot be graded; ``code`` is stable, ``parameter`` names the culprit."""

    def __init__(self, code: AssayErrorCode, parameter: str, detail: str) -> None:
        super().__init__(f"{code}: {parameter}: {detail}")
        self.code = code
        self.parameter = parameter
        self.detail = detail


class AssayResult(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One measured value as the lab reports it: ``value`` is a decimal string."""

    parameter: Annotated[str, Meta(min_length=1, max_length=48)]
    value: Annotated[str, Meta(min_length=1, max_length=24)]
    unit: Annotated[str, Meta(min_length=1, max_length=16)]
    method: Annotated[str, Meta(max_length=300)] = ""


class LimitFailure(Struct, frozen=True, kw_only=True):
    """A limit the lot failed: measured vs allowed, in the parameter's unit."""

    parameter: str
    kind: str  # "quality" or "contaminant"
    bound: Literal["min", "max"]
    measured: Decimal
    allowed: Decimal
    unit: str


class GradeDecision(Struct, frozen=True, kw_only=True):
    """The outcome of grading; ``grade`` is a band name or ``REJECT``."""

    spec_id: str
    destination: str
    grade: str
    decided_by: str
    failures: tuple[LimitFailure, ...]
    active_parameter: str
    active_content: Decimal
    active_unit: str
    physical_class: str | None
    values: dict[str, Decimal]  # every accepted result, converted to the parameter's unit
    not_tested: tuple[str, ...]  # optional parameters the lab did not report

    @property
    def passed(self) -> bool:
        return self.grade != REJECT


def _known(spec: HerbSpec, destination: str) -> dict[str, ParamSpec]:
    """Parameters accepted for ``destination``: the spec's own and its contaminant limits.
    Other defined contaminants are accepted too (converted, not checked), so a lab's full
    panel never fails as "unknown"; a name nobody defined does."""
    return {**spec.known_contaminants, **spec.contaminants[destination], **spec.parameters}


def _normalise(
    spec: HerbSpec, results: Iterable[AssayResult], destination: str
) -> dict[str, Decimal]:
    if destination not in spec.contaminants:
        raise AssayError("unknown_destination", destination,
                         f"{spec.id} has limits for {', '.join(spec.destinations)}")
    known = _known(spec, destination)
    values: dict[str, Decimal] = {}
    for r in results:
        p = known.get(r.parameter)
        if p is None:
            raise AssayError("unknown_parameter", r.parameter,
                             f"not a parameter of {spec.id}; known: {', '.join(known)}")
        if r.parameter in values:
            raise AssayError("duplicate_parameter", r.parameter, "reported twice")
        try:
            v = units.parse_decimal(r.value)
        except units.DecimalFormatError as exc:
            raise AssayError("bad_decimal", r.parameter, str(exc)) from None
        try:
            values[r.parameter] = units.convert(v, r.unit, p.unit)
        except units.UnitError as exc:
            raise AssayError("bad_unit", r.parameter,
                             f"{exc} (parameter is measured in {p.unit!r})") from None
    required = [*spec.parameters.values(), *spec.contaminants[destination].values()]
    for p in required:
        if p.required and p.name not in values:
            raise AssayError("missing_parameter", p.name,
                             f"required for {spec.id} ({destination})")
    return values


def _check_limits(
    params: Iterable[ParamSpec], values: dict[str, Decimal]
) -> list[LimitFailure]:
    failures = []
    for p in params:
        v = values.get(p.name)
        if v is None:
            continue
        if p.min is not None and v < p.min:
            failures.append(LimitFailure(parameter=p.name, kind=p.kind, bound="min",
                                         measured=v, allowed=p.min, unit=p.unit))
        if p.max is not None and v > p.max:
            failures.append(LimitFailure(parameter=p.name, kind=p.kind, bound="max",
                                         measured=v, allowed=p.max, unit=p.unit))
    return failures


def _first_unmet(band_min: dict[str, Decimal], band_max: dict[str, Decimal],
                 values: dict[str, Decimal]) -> str | None:
    for name, lo in band_min.items():
        if values[name] < lo:
            return name
    for name, hi in band_max.items():
        if values[name] > hi:
            return name
    return None


def _physical_class(spec: HerbSpec, values: dict[str, Decimal]) -> str | None:
    if spec.physical is None or spec.physical.parameter not in values:
        return None
    v = values[spec.physical.parameter]
    for c in spec.physical.classes:
        if (c.min is None or v >= c.min) and (c.max is None or v <= c.max):
            return c.name
    return None


def grade_lot(spec: HerbSpec, results: Iterable[AssayResult], destination: str) -> GradeDecision:
    """Grade one lot's assay ``results`` against ``spec`` for a ``destination`` market.

    ``decided_by`` is the first failed limit for a reject; otherwise the first condition of
    the next better band that the lot missed, or, for the top band, the valuation parameter.
    Bands are tried best first (file order); the spec guarantees the last one always holds.
    """
    values = _normalise(spec, results, destination)
    failures = _check_limits(
        [*spec.parameters.values(), *spec.contaminants[destination].values()], values
    )
    tested = set(values)
    not_tested = tuple(
        n for n in [*spec.parameters, *spec.contaminants[destination]] if n not in tested
    )
    def decision(grade: str, decided_by: str) -> GradeDecision:
        return GradeDecision(
            spec_id=spec.id, destination=destination, grade=grade, decided_by=decided_by,
            failures=tuple(failures), active_parameter=spec.valuation,
            active_content=values[spec.valuation],
            active_unit=spec.parameters[spec.valuation].unit,
            physical_class=_physical_class(spec, values), values=values, not_tested=not_tested,
        )

    if failures:
        return decision(REJECT, failures[0].parameter)
    decided_by = spec.valuation
    for band in spec.grades:
        unmet = _first_unmet(band.min, band.max, values)
        if unmet is None:
            return decision(band.grade, decided_by)
        decided_by = unmet
    raise AssertionError(f"{spec.file}: lowest band did not hold")  # validate_spec forbids it
