"""The raw shape of the grading TOML files, as msgspec Structs.

Owns: the schema a herb file and the contaminant file must match, decoded with msgspec so that
a wrong type fails with a path such as ``$.parameters[1].min``. Only shapes and field formats
live here; every consistency rule between fields is `spec`'s. Must never read files.
"""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta, Struct

from grading.units import Basis

ParamName = Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_]{0,47}\Z")]
Code = Annotated[str, Meta(pattern=r"^[A-Z][A-Z0-9]{1,11}\Z")]
GradeName = Annotated[str, Meta(pattern=r"^[A-Z][A-Z0-9]{0,3}\Z")]
Text = Annotated[str, Meta(min_length=1, max_length=300)]
SourceKey = Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_]{0,47}\Z")]
Citation = Annotated[str, Meta(min_length=1, max_length=600)]
DecimalText = Annotated[str, Meta(min_length=1, max_length=24)]


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
    basis: Basis | None = None  # required for quality parameters, refused for physical ones
    source: SourceKey | None = None  # a key of the file's [sources]
    verified: bool | None = None  # required where there is a figure (min or max)
    note: Text | None = None
    required: bool = True
    physical: bool = False


class RawBand(Struct, kw_only=True, forbid_unknown_fields=True):
    grade: GradeName
    # Values are checked one by one (`_dec`) so that an error can name the key: msgspec
    # reports dict keys only as "[...]".
    min: dict[str, object] = {}
    max: dict[str, object] = {}
    source: SourceKey | None = None
    verified: bool | None = None  # required where the band has conditions
    note: Text | None = None


class RawClass(Struct, kw_only=True, forbid_unknown_fields=True):
    name: Annotated[str, Meta(pattern=r"^[A-Za-z0-9_-]{1,16}\Z")]
    min: DecimalText | None = None
    max: DecimalText | None = None
    source: SourceKey | None = None
    verified: bool | None = None  # required where the class has an edge (min or max)
    note: Text | None = None


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
    # The parameter that holds the sample's water content: the lab's moisture result converts
    # a content between the as-is and the dried basis.
    moisture: ParamName | None = None
    sources: dict[SourceKey, Citation]
    parameters: list[RawParameter]
    grades: list[RawBand]
    physical: RawPhysical | None = None


class RawContaminant(Struct, kw_only=True, forbid_unknown_fields=True):
    label: Text
    unit: Text
    method: Text
    required: bool = True


class RawLimit(Struct, kw_only=True, forbid_unknown_fields=True):
    """One contaminant limit of a profile: ``{ max = "5", basis = "as_is", source = "...",
    verified = true }``."""

    max: object  # checked by `_dec`, so that a float names the field
    basis: Basis
    source: SourceKey | None = None
    verified: bool
    note: Text | None = None


class RawContaminantFile(Struct, kw_only=True, forbid_unknown_fields=True):
    sources: dict[SourceKey, Citation]
    contaminants: dict[ParamName, RawContaminant]
    profiles: dict[str, dict[str, dict[str, object]]]  # each limit converted to `RawLimit`
