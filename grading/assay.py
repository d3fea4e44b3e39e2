"""Assay results to a grade: one pure function, `grade_lot`.

Owns: checking a lab's results against a `HerbSpec` for a destination market (every value a
decimal string, every unit known and convertible to the parameter's unit, every required
parameter present, no unknown or duplicate parameter), bringing each value to the basis its
limit is stated on (as-is or dried, with the lab's own moisture result), then the decision:
``REJECT`` with every failed limit, or the best grade band whose conditions hold, the parameter
that decided it, the physical class, the active-ingredient content used for valuation and the
unverified figures the decision rested on. Input errors raise
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
from grading.units import Basis

AssayErrorCode = Literal[
    "unknown_destination", "unknown_parameter", "duplicate_parameter", "missing_parameter",
    "bad_decimal", "bad_unit", "bad_basis",
]


class AssayError(ValueError):
    """Results that cannot be graded; ``code`` is stable, ``parameter`` names the culprit."""

    def __init__(self, code: AssayErrorCode, parameter: str, detail: str) -> None:
        super().__init__(f"{code}: {parameter}: {detail}")
        self.code = code
        self.parameter = parameter
        self.detail = detail


class AssayResult(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One measured value as the lab reports it: ``value`` is a decimal string; ``basis``
    says whether it refers to the sample as received (``"as_is"``, the default: what a lab
    measures) or to its dry matter (``"dried"``)."""

    parameter: Annotated[str, Meta(min_length=1, max_length=48)]
    value: Annotated[str, Meta(min_length=1, max_length=24)]
    unit: Annotated[str, Meta(min_length=1, max_length=16)]
    method: Annotated[str, Meta(max_length=300)] = ""
    basis: Basis = "as_is"


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
    physical_class: str | None  # (active_content is per kg of the lot as traded: as-is basis)
    # every accepted result, converted to the parameter's unit and to the basis of its limit
    values: dict[str, Decimal]
    not_tested: tuple[str, ...]  # optional parameters the lab did not report
    # results reported on the other basis than their limit's, converted with the moisture
    converted: tuple[str, ...] = ()
    # the figures this decision rested on that no checked source confirms (keys as in
    # `HerbSpec.unverified`); defaults keep lots stored before the field decodable
    unverified: tuple[str, ...] = ()

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
) -> tuple[dict[str, Decimal], tuple[str, ...], Decimal]:
    if destination not in spec.contaminants:
        raise AssayError("unknown_destination", destination,
                         f"{spec.id} has limits for {', '.join(spec.destinations)}")
    known = _known(spec, destination)
    values: dict[str, Decimal] = {}
    reported: dict[str, Basis] = {}
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
        reported[r.parameter] = r.basis
    as_is_active = values.get(spec.valuation) if reported.get(spec.valuation) == "as_is" \
        else None
    converted = _to_limit_basis(spec, known, values, reported)
    required = [*spec.parameters.values(), *spec.contaminants[destination].values()]
    for p in required:
        if p.required and p.name not in values:
            raise AssayError("missing_parameter", p.name,
                             f"required for {spec.id} ({destination})")
    return values, converted, _active_as_is(spec, values, as_is_active)


def _active_as_is(spec: HerbSpec, values: dict[str, Decimal],
                  reported_as_is: Decimal | None) -> Decimal:
    """The active-ingredient content per kg of the lot as traded, with its water: valuation
    prices a kg of herb, not a kg of its dry matter, whatever basis the limit is on."""
    if reported_as_is is not None:
        return reported_as_is
    value = values[spec.valuation]
    if spec.parameters[spec.valuation].basis != "dried":
        return value
    if spec.moisture is None or spec.moisture not in values:  # validate_spec needs moisture
        raise AssayError("missing_parameter", spec.moisture or spec.valuation,
                         f"needed to state the {spec.valuation} content of the lot as traded")
    return units.convert_basis(value, values[spec.moisture], "dried", "as_is")


def _to_limit_basis(spec: HerbSpec, known: dict[str, ParamSpec], values: dict[str, Decimal],
                    reported: dict[str, Basis]) -> tuple[str, ...]:
    """Bring every value reported on the other basis than its limit's to the limit's basis,
    in place, with the moisture result of the same assay; returns the converted names.

    A content limit on the dried basis cannot be checked against an as-is result without the
    sample's water content: then the lot cannot be graded and the error names the missing
    moisture result (whether or not the spec requires it otherwise)."""
    converted = []
    moisture = spec.moisture
    if moisture is not None and reported.get(moisture, "as_is") != "as_is":
        raise AssayError("bad_basis", moisture, "a water content is measured on the sample as "
                         "received: report it with basis \"as_is\"")
    for name, basis in reported.items():
        target = known[name].basis
        if target is None:  # physical parameters, contaminants accepted but not limited
            if basis != "as_is":
                raise AssayError("bad_basis", name, f"{name} has no dried basis in {spec.id}; "
                                 "report it as measured (basis \"as_is\")")
            continue
        if basis == target:
            continue
        if moisture is None:
            raise AssayError("bad_basis", name, f"{spec.id} has no water parameter to convert "
                             f"{name} to the {target} basis of its limit; report it on the "
                             f"{target} basis")
        if moisture not in values:
            raise AssayError("missing_parameter", moisture,
                             f"needed to convert {name} (reported {basis}) to the {target} "
                             f"basis its limit is stated on")
        try:
            values[name] = units.convert_basis(values[name], values[moisture], basis, target)
        except units.BasisError as exc:
            raise AssayError("bad_basis", moisture, str(exc)) from None
        converted.append(name)
    return tuple(converted)


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
    values, converted, active_content = _normalise(spec, results, destination)
    limits = {**spec.parameters, **spec.contaminants[destination]}
    failures = _check_limits(limits.values(), values)
    tested = set(values)
    not_tested = tuple(n for n in limits if n not in tested)
    physical_class = _physical_class(spec, values)
    # The unverified figures this decision used: every limit checked against a value, the
    # bands tried (best first, down to the one that held) and the class the lot fell in.
    used = [f"parameters.{n}" if n in spec.parameters else f"contaminants.{destination}.{n}"
            for n in limits if n in tested]
    if physical_class is not None:
        used.append(f"physical.{physical_class}")

    def decision(grade: str, decided_by: str, bands: Iterable[str] = ()) -> GradeDecision:
        unverified = set(spec.unverified)
        return GradeDecision(
            spec_id=spec.id, destination=destination, grade=grade, decided_by=decided_by,
            failures=tuple(failures), active_parameter=spec.valuation,
            active_content=active_content,
            active_unit=spec.parameters[spec.valuation].unit,
            physical_class=physical_class, values=values, not_tested=not_tested,
            converted=converted,
            unverified=tuple(k for k in [*used, *(f"grades.{b}" for b in bands)]
                             if k in unverified),
        )

    if failures:
        return decision(REJECT, failures[0].parameter)
    decided_by = spec.valuation
    tried: list[str] = []
    for band in spec.grades:
        tried.append(band.grade)
        unmet = _first_unmet(band.min, band.max, values)
        if unmet is None:
            return decision(band.grade, decided_by, tried)
        decided_by = unmet
    raise AssertionError(f"{spec.file}: lowest band did not hold")  # validate_spec forbids it
