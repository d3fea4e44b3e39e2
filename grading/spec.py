"""Grade specifications: the shape of a herb's TOML file and its validation.

Owns: the raw file schema (decoded with msgspec so that a wrong type fails with a path such as
``$.parameters[1].min``), the validated, immutable `HerbSpec` the rest of `grading` uses, and
every consistency rule a spec must satisfy (known units, decimal strings, grade bands stricter
than the pharmacopoeia limits, a catch-all lowest band, ...). Errors are `SpecError`, naming
the file and the field. Must never read files itself: `catalogue` does the I/O and hands the
parsed TOML in.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct

from grading import units

ParamName = Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_]{0,47}\Z")]
Code = Annotated[str, Meta(pattern=r"^[A-Z][A-Z0-9]{1,11}\Z")]
GradeName = Annotated[str, Meta(pattern=r"^[A-Z][A-Z0-9]{0,3}\Z")]
Text = Annotated[str, Meta(min_length=1, max_length=300)]
DecimalText = Annotated[str, Meta(min_length=1, max_length=24)]
ParamKind = Literal["quality", "physical", "contaminant"]

REJECT = "REJECT"  # the grade of a lot that fails a limit; never a band name, never tradable


class SpecError(ValueError):
    """A broken specification file: says which file and which field."""

    def __init__(self, file: str, field: str, message: str) -> None:
        super().__init__(f"{file}: {field}: {message}")
        self.file = file
        self.field = field
        self.message = message


# ---------------------------------------------------------------------------------------------
# Raw file schema (what the TOML must look like)
# ---------------------------------------------------------------------------------------------


class RawParameter(Struct, kw_only=True, forbid_unknown_fields=True):
    name: ParamName
    label: Text
    unit: Text
    method: Text
    min: DecimalText | None = None
    max: DecimalText | None = None
    required: bool = True
    physical: bool = False


class RawBand(Struct, kw_only=True, forbid_unknown_fields=True):
    grade: GradeName
    # Values are checked one by one (`_dec`) so that an error can name the key: msgspec
    # reports dict keys only as "[...]".
    min: dict[str, object] = {}
    max: dict[str, object] = {}


class RawClass(Struct, kw_only=True, forbid_unknown_fields=True):
    name: Annotated[str, Meta(pattern=r"^[A-Za-z0-9_-]{1,16}\Z")]
    min: DecimalText | None = None
    max: DecimalText | None = None


class RawPhysical(Struct, kw_only=True, forbid_unknown_fields=True):
    parameter: ParamName
    classes: list[RawClass]


class RawHerbSpec(Struct, kw_only=True, forbid_unknown_fields=True):
    code: Code
    product: Code
    name_vi: Text
    name_latin: Text
    plant_part: Text
    unit: Literal["kg"] = "kg"
    tick_vnd: Annotated[int, Meta(gt=0)]
    gtin_item: Annotated[int, Meta(ge=1, le=99999)]
    valuation: ParamName
    contaminant_profile: ParamName
    sources: list[Text]
    unsourced: list[Text] = []
    parameters: list[RawParameter]
    grades: list[RawBand]
    physical: RawPhysical | None = None


class RawContaminant(Struct, kw_only=True, forbid_unknown_fields=True):
    label: Text
    unit: Text
    method: Text
    required: bool = True


class RawContaminantFile(Struct, kw_only=True, forbid_unknown_fields=True):
    sources: list[Text]
    contaminants: dict[ParamName, RawContaminant]
    profiles: dict[str, dict[str, dict[str, object]]]  # values checked by `_dec`


# ---------------------------------------------------------------------------------------------
# Validated specification (what the rest of grading uses)
# ---------------------------------------------------------------------------------------------


class ParamSpec(Struct, frozen=True, kw_only=True):
    """One assay parameter: unit, method and the pharmacopoeia limit (None where there is
    none). A lot outside ``min``/``max`` is rejected."""

    name: str
    label: str
    unit: str
    method: str
    kind: ParamKind
    min: Decimal | None = None
    max: Decimal | None = None
    required: bool = True


class GradeBand(Struct, frozen=True, kw_only=True):
    """A commercial grade above the limits: every ``min`` and ``max`` must hold."""

    grade: str
    min: dict[str, Decimal] = {}
    max: dict[str, Decimal] = {}


class PhysicalClass(Struct, frozen=True, kw_only=True):
    name: str
    min: Decimal | None = None
    max: Decimal | None = None


class PhysicalGrading(Struct, frozen=True, kw_only=True):
    """Size classes (cinnamon thickness, tam thất roots per 500 g); first match wins."""

    parameter: str
    classes: tuple[PhysicalClass, ...]


class HerbSpec(Struct, frozen=True, kw_only=True):
    """A herb product's grading specification; ``id`` is ``CODE-PRODUCT`` (``QUE-BARK``)."""

    id: str
    code: str
    product: str
    name_vi: str
    name_latin: str
    plant_part: str
    unit: str
    tick_vnd: int
    gtin_item: int
    valuation: str
    parameters: dict[str, ParamSpec]
    grades: tuple[GradeBand, ...]
    physical: PhysicalGrading | None
    contaminants: dict[str, dict[str, ParamSpec]]  # destination -> parameter -> limit
    known_contaminants: dict[str, ParamSpec]  # every defined contaminant, without limits
    sources: tuple[str, ...]
    unsourced: tuple[str, ...]
    file: str

    @property
    def destinations(self) -> tuple[str, ...]:
        return tuple(self.contaminants)

    @property
    def grade_names(self) -> tuple[str, ...]:
        return tuple(b.grade for b in self.grades)


def _dec(file: str, field: str, text: object) -> Decimal:
    try:
        return units.parse_decimal(text)
    except units.DecimalFormatError as exc:
        raise SpecError(file, field, str(exc)) from None


def _unit(file: str, field: str, text: str) -> str:
    try:
        return units.canonical_unit(text)
    except units.UnitError as exc:
        raise SpecError(file, field, str(exc)) from None


def _convert(raw: object, typ: type, file: str) -> object:
    try:
        return msgspec.convert(raw, typ)
    except msgspec.ValidationError as exc:
        # msgspec says "Expected `str`, got `float` - at `$.parameters[0].min`"
        text = str(exc)
        msg, _, path = text.partition(" - at ")
        path = path.strip("`").removeprefix("$.") or "$"
        raise SpecError(file, path, msg) from None


Profiles = dict[str, dict[str, dict[str, ParamSpec]]]


def validate_contaminants(raw: object, file: str) -> Profiles:
    """Validate the contaminant file; returns profile -> destination -> parameter -> limit.
    The profile ``"*"`` holds every defined contaminant without a limit (accepted, not
    checked, where a product's own profile does not list it)."""
    data = _convert(raw, RawContaminantFile, file)
    assert isinstance(data, RawContaminantFile)
    defs = {}
    for name, c in data.contaminants.items():
        defs[name] = (c, _unit(file, f"contaminants.{name}.unit", c.unit))
    profiles: dict[str, dict[str, dict[str, ParamSpec]]] = {}
    for pname, dests in data.profiles.items():
        if not dests:
            raise SpecError(file, f"profiles.{pname}", "a profile needs at least one destination")
        profiles[pname] = {}
        for dest, limits in dests.items():
            out: dict[str, ParamSpec] = {}
            for cname, text in limits.items():
                field = f"profiles.{pname}.{dest}.{cname}"
                if cname not in defs:
                    raise SpecError(file, field, f"unknown contaminant {cname!r}")
                c, unit = defs[cname]
                out[cname] = ParamSpec(
                    name=cname, label=c.label, unit=unit, method=c.method, kind="contaminant",
                    max=_dec(file, field, text), required=c.required,
                )
            profiles[pname][dest] = out
    if "*" in profiles:
        raise SpecError(file, "profiles.*", "'*' is reserved")
    profiles["*"] = {"*": {
        name: ParamSpec(name=name, label=c.label, unit=unit, method=c.method,
                        kind="contaminant", required=False)
        for name, (c, unit) in defs.items()
    }}
    return profiles


def validate_spec(raw: object, file: str, profiles: Profiles) -> HerbSpec:
    """Validate one herb file's parsed TOML against the schema and the consistency rules."""
    data = _convert(raw, RawHerbSpec, file)
    assert isinstance(data, RawHerbSpec)
    params: dict[str, ParamSpec] = {}
    for i, p in enumerate(data.parameters):
        f = f"parameters[{i}]"
        if p.name in params:
            raise SpecError(file, f"{f}.name", f"duplicate parameter {p.name!r}")
        lo = None if p.min is None else _dec(file, f"{f}.min", p.min)
        hi = None if p.max is None else _dec(file, f"{f}.max", p.max)
        if lo is not None and hi is not None and lo > hi:
            raise SpecError(file, f"{f}.min", f"min {lo} is above max {hi}")
        params[p.name] = ParamSpec(
            name=p.name, label=p.label, unit=_unit(file, f"{f}.unit", p.unit), method=p.method,
            kind="physical" if p.physical else "quality", min=lo, max=hi, required=p.required,
        )
    if not params:
        raise SpecError(file, "parameters", "a spec needs at least one parameter")

    val = params.get(data.valuation)
    if val is None or val.kind != "quality":
        raise SpecError(file, "valuation", f"{data.valuation!r} is not a quality parameter")
    if val.unit not in (units.PERCENT, units.PERCENT_VW) or not val.required or val.min is None:
        raise SpecError(file, "valuation", "the valuation parameter must be a required content "
                        "(% or % v/w) with a min limit")

    grades = _validate_bands(data, params, file)
    physical = _validate_physical(data, params, file)

    if data.contaminant_profile not in profiles or data.contaminant_profile == "*":
        raise SpecError(file, "contaminant_profile",
                        f"unknown profile {data.contaminant_profile!r}")
    contaminants = profiles[data.contaminant_profile]
    for i, name in enumerate(params):
        if name in profiles["*"]["*"]:
            raise SpecError(file, f"parameters[{i}].name", f"{name!r} is a contaminant")
    return HerbSpec(
        id=f"{data.code}-{data.product}", code=data.code, product=data.product,
        name_vi=data.name_vi, name_latin=data.name_latin, plant_part=data.plant_part,
        unit=data.unit, tick_vnd=data.tick_vnd, gtin_item=data.gtin_item,
        valuation=data.valuation, parameters=params, grades=grades, physical=physical,
        contaminants=contaminants, known_contaminants=profiles["*"]["*"],
        sources=tuple(data.sources),
        unsourced=tuple(data.unsourced), file=file,
    )


def _validate_bands(
    data: RawHerbSpec, params: dict[str, ParamSpec], file: str
) -> tuple[GradeBand, ...]:
    if not data.grades:
        raise SpecError(file, "grades", "a spec needs at least one grade band")
    seen: set[str] = set()
    bands = []
    for i, b in enumerate(data.grades):
        f = f"grades[{i}]"
        if b.grade in seen or b.grade == REJECT:
            raise SpecError(file, f"{f}.grade", f"duplicate or reserved grade {b.grade!r}")
        seen.add(b.grade)
        lows: dict[str, Decimal] = {}
        highs: dict[str, Decimal] = {}
        for side, table, out in (("min", b.min, lows), ("max", b.max, highs)):
            for name, text in table.items():
                ff = f"{f}.{side}.{name}"
                p = params.get(name)
                if p is None or p.kind != "quality":
                    raise SpecError(file, ff, f"{name!r} is not a quality parameter of this spec")
                v = _dec(file, ff, text)
                # A band is "above the minimum": it may only be stricter than the limit.
                if side == "min" and p.min is not None and v < p.min:
                    raise SpecError(file, ff, f"band min {v} is below the limit min {p.min}")
                if side == "max" and p.max is not None and v > p.max:
                    raise SpecError(file, ff, f"band max {v} is above the limit max {p.max}")
                out[name] = v
        bands.append(GradeBand(grade=b.grade, min=lows, max=highs))
    if bands[-1].min or bands[-1].max:
        raise SpecError(file, f"grades[{len(bands) - 1}]",
                        "the lowest band must have no conditions, so that every lot passing "
                        "the limits gets a grade")
    return tuple(bands)


def _validate_physical(
    data: RawHerbSpec, params: dict[str, ParamSpec], file: str
) -> PhysicalGrading | None:
    if data.physical is None:
        return None
    p = params.get(data.physical.parameter)
    if p is None or p.kind != "physical":
        raise SpecError(file, "physical.parameter",
                        f"{data.physical.parameter!r} is not a physical parameter")
    if not data.physical.classes:
        raise SpecError(file, "physical.classes", "at least one class is needed")
    classes = []
    for i, c in enumerate(data.physical.classes):
        f = f"physical.classes[{i}]"
        lo = None if c.min is None else _dec(file, f"{f}.min", c.min)
        hi = None if c.max is None else _dec(file, f"{f}.max", c.max)
        classes.append(PhysicalClass(name=c.name, min=lo, max=hi))
    return PhysicalGrading(parameter=p.name, classes=tuple(classes))
