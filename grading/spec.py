"""Grade specifications: the validated specification and its consistency rules.

Owns: the validated, immutable `HerbSpec` the rest of `grading` uses (the raw file schema it
decodes with is in `spec_schema`), and every consistency rule a spec must satisfy (known
units, decimal strings, grade bands stricter than the pharmacopoeia limits, a catch-all lowest
band, the basis of every content limit, a citation for every figure and an explicit
``verified`` flag on it, ...). Errors are `SpecError`, naming the file and the field. Must
never read files itself: `catalogue` does the I/O and hands the parsed TOML in.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

import msgspec
from msgspec import Struct

from grading import units
from grading.spec_schema import (
    RawContaminantFile,
    RawHerbSpec,
    RawLimit,
)
from grading.units import Basis

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
# Validated specification (what the rest of grading uses)
# ---------------------------------------------------------------------------------------------


class ParamSpec(Struct, frozen=True, kw_only=True):
    """One assay parameter: unit, method and the pharmacopoeia limit (None where there is
    none). A lot outside ``min``/``max`` is rejected. ``basis`` says whether the limit (and
    any band condition on this parameter) refers to the sample as received (``"as_is"``) or
    to its dry matter (``"dried"``); None for physical parameters. ``source`` names the
    document the figure comes from (a key of `HerbSpec.sources`); ``verified`` is False for
    a figure that no checked source confirms."""

    name: str
    label: str
    unit: str
    method: str
    kind: ParamKind
    min: Decimal | None = None
    max: Decimal | None = None
    required: bool = True
    basis: Basis | None = None
    source: str | None = None  # a key of `HerbSpec.sources`
    verified: bool = True
    note: str | None = None


class GradeBand(Struct, frozen=True, kw_only=True):
    """A commercial grade above the limits: every ``min`` and ``max`` must hold (each in
    its parameter's unit and basis)."""

    grade: str
    min: dict[str, Decimal] = {}
    max: dict[str, Decimal] = {}
    source: str | None = None
    verified: bool = True
    note: str | None = None


class PhysicalClass(Struct, frozen=True, kw_only=True):
    name: str
    min: Decimal | None = None
    max: Decimal | None = None
    source: str | None = None
    verified: bool = True
    note: str | None = None


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
    contaminant_profile: str
    parameters: dict[str, ParamSpec]
    grades: tuple[GradeBand, ...]
    physical: PhysicalGrading | None
    contaminants: dict[str, dict[str, ParamSpec]]  # destination -> parameter -> limit
    known_contaminants: dict[str, ParamSpec]  # every defined contaminant, without limits
    moisture: str | None  # the water parameter used to convert between as-is and dried
    # key -> citation of a document a quality officer can open: the herb file's own and those
    # its contaminant limits cite
    sources: dict[str, str]
    # Every figure no checked source confirms: "parameters.<name>", "grades.<grade>",
    # "physical.<class>", "contaminants.<destination>.<name>".
    unverified: tuple[str, ...]
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


def _convert(raw: object, typ: type, file: str, prefix: str = "") -> object:
    try:
        return msgspec.convert(raw, typ)
    except msgspec.ValidationError as exc:
        # msgspec says "Expected `str`, got `float` - at `$.parameters[0].min`"
        text = str(exc)
        msg, _, path = text.partition(" - at ")
        path = path.strip("`").removeprefix("$").removeprefix(".")
        field = ".".join(p for p in (prefix, path) if p) or "$"
        raise SpecError(file, field, msg) from None


def _figure(file: str, field: str, sources: dict[str, str], source: str | None,
            verified: bool | None) -> tuple[str | None, bool]:
    """The citation and verification of one figure (a limit, a band, a class edge): every
    figure says explicitly whether a checked source confirms it, and a confirmed one names
    the document."""
    if source is not None and source not in sources:
        raise SpecError(file, f"{field}.source", f"unknown source {source!r}; this file cites "
                        f"{', '.join(sources) or 'nothing'}")
    if verified is None:
        raise SpecError(file, f"{field}.verified", "say whether a checked source confirms "
                        "this figure: verified = true or verified = false")
    if verified and source is None:
        raise SpecError(file, f"{field}.source", "a verified figure must name its source")
    return source, verified


Profiles = dict[str, dict[str, dict[str, ParamSpec]]]


class Contaminants(Struct, frozen=True, kw_only=True):
    """The validated contaminant file: ``profiles`` is profile -> destination -> parameter ->
    limit; the profile ``"*"`` holds every defined contaminant without a limit (accepted, not
    checked, where a product's own profile does not list it). ``sources`` are the citations
    the limits name."""

    profiles: Profiles
    sources: dict[str, str]


def validate_contaminants(raw: object, file: str) -> Contaminants:
    """Validate the contaminant file (see `Contaminants`)."""
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
            for cname, table in limits.items():
                field = f"profiles.{pname}.{dest}.{cname}"
                if cname not in defs:
                    raise SpecError(file, field, f"unknown contaminant {cname!r}")
                if not isinstance(table, dict):
                    raise SpecError(file, field, "expected a table such as { max = \"5\", "
                                    "basis = \"as_is\", source = \"...\", verified = true }")
                lim = _convert(table, RawLimit, file, field)
                assert isinstance(lim, RawLimit)
                citation, verified = _figure(file, field, data.sources, lim.source,
                                             lim.verified)
                c, unit = defs[cname]
                out[cname] = ParamSpec(
                    name=cname, label=c.label, unit=unit, method=c.method, kind="contaminant",
                    max=_dec(file, f"{field}.max", lim.max), required=c.required,
                    basis=lim.basis, source=citation, verified=verified, note=lim.note,
                )
            profiles[pname][dest] = out
    if "*" in profiles:
        raise SpecError(file, "profiles.*", "'*' is reserved")
    profiles["*"] = {"*": {
        name: ParamSpec(name=name, label=c.label, unit=unit, method=c.method,
                        kind="contaminant", required=False)
        for name, (c, unit) in defs.items()
    }}
    return Contaminants(profiles=profiles, sources=dict(data.sources))


def validate_spec(raw: object, file: str, contaminant_file: Contaminants) -> HerbSpec:
    """Validate one herb file's parsed TOML against the schema and the consistency rules."""
    profiles = contaminant_file.profiles
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
        if p.physical and p.basis is not None:
            raise SpecError(file, f"{f}.basis", "a physical parameter has no as-is/dried basis")
        if not p.physical and p.basis is None:
            raise SpecError(file, f"{f}.basis", "say which basis the limit is stated on: "
                            "basis = \"as_is\" or basis = \"dried\"")
        citation, verified = (None, True)
        if lo is not None or hi is not None or p.source is not None or p.verified is not None:
            citation, verified = _figure(file, f, data.sources, p.source, p.verified)
        params[p.name] = ParamSpec(
            name=p.name, label=p.label, unit=_unit(file, f"{f}.unit", p.unit), method=p.method,
            kind="physical" if p.physical else "quality", min=lo, max=hi, required=p.required,
            basis=p.basis, source=citation, verified=verified, note=p.note,
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
    _validate_moisture(data, params, contaminants, file)
    sources = dict(data.sources)
    for key in (c.source for lims in contaminants.values() for c in lims.values()):
        if key is not None and sources.setdefault(key, contaminant_file.sources[key]) != \
                contaminant_file.sources[key]:
            raise SpecError(file, f"sources.{key}", "this key cites another document in "
                            "contaminants.toml; use another key")
    unverified = (
        *(f"parameters.{n}" for n, p in params.items() if not p.verified),
        *(f"grades.{b.grade}" for b in grades if not b.verified),
        *(f"physical.{c.name}" for c in (physical.classes if physical else ()) if not c.verified),
        *(f"contaminants.{d}.{n}" for d, lims in contaminants.items()
          for n, p in lims.items() if not p.verified),
    )
    return HerbSpec(
        id=f"{data.code}-{data.product}", code=data.code, product=data.product,
        name_vi=data.name_vi, name_latin=data.name_latin, plant_part=data.plant_part,
        unit=data.unit, tick_vnd=data.tick_vnd, gtin_item=data.gtin_item,
        valuation=data.valuation, contaminant_profile=data.contaminant_profile,
        parameters=params, grades=grades, physical=physical,
        contaminants=contaminants, known_contaminants=profiles["*"]["*"],
        moisture=data.moisture, sources=sources, unverified=unverified, file=file,
    )


def _validate_moisture(data: RawHerbSpec, params: dict[str, ParamSpec],
                       contaminants: dict[str, dict[str, ParamSpec]], file: str) -> None:
    """A limit on the dried basis needs the lab's water content to be comparable with an
    as-is result, so such a spec must name its water parameter (an as-is mass fraction)."""
    if data.moisture is not None:
        m = params.get(data.moisture)
        if m is None or m.kind != "quality" or m.unit != units.PERCENT or m.basis != "as_is":
            raise SpecError(file, "moisture", f"{data.moisture!r} is not a water content of "
                            "this spec (a quality parameter in % on the as-is basis)")
        return
    dried = [n for n, p in params.items() if p.basis == "dried"]
    dried += [f"{d}.{n}" for d, lims in contaminants.items()
              for n, p in lims.items() if p.basis == "dried"]
    if dried:
        raise SpecError(file, "moisture", f"limits on the dried basis ({', '.join(dried)}) "
                        "need the water parameter named: moisture = \"<parameter>\"")


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
        if i == len(data.grades) - 1 and (lows or highs):
            raise SpecError(file, f, "the lowest band must have no conditions, so that every "
                            "lot passing the limits gets a grade")
        citation, verified = (None, True)
        if lows or highs or b.source is not None or b.verified is not None:
            citation, verified = _figure(file, f, data.sources, b.source, b.verified)
        bands.append(GradeBand(grade=b.grade, min=lows, max=highs, source=citation,
                               verified=verified, note=b.note))
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
        citation, verified = (None, True)
        if lo is not None or hi is not None or c.source is not None or c.verified is not None:
            citation, verified = _figure(file, f, data.sources, c.source, c.verified)
        classes.append(PhysicalClass(name=c.name, min=lo, max=hi, source=citation,
                                     verified=verified, note=c.note))
    return PhysicalGrading(parameter=p.name, classes=tuple(classes))
