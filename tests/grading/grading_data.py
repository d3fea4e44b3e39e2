"""Realistic assays of every herb for the grading tests (a uniquely named helper module, so
that no other directory's conftest can shadow it)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from grading.assay import AssayResult
from grading.catalogue import Catalogue
from grading.samples import CLEAN, GRADE_A, GRADE_B, GRADE_C

__all__ = ["ALL_SPECS", "CLEAN", "GRADE_A", "GRADE_B", "GRADE_C"]

ALL_SPECS = sorted(GRADE_A)


def make_assay(
    catalogue: Catalogue, spec_id: str, overrides: Mapping[str, str] | None = None,
    drop: Iterable[str] = (), destination: str = "domestic",
) -> list[AssayResult]:
    """A full assay for ``spec_id`` (grade A unless overridden), in each parameter's unit."""
    spec = catalogue.get(spec_id)
    values = {**GRADE_A[spec_id], **{k: v for k, v in CLEAN.items()
                                     if k in spec.contaminants[destination]},
              **(overrides or {})}
    units = {**{n: p.unit for n, p in spec.parameters.items()},
             **{n: p.unit for d in spec.contaminants.values() for n, p in d.items()}}
    dropped = set(drop)
    return [AssayResult(parameter=k, value=v, unit=units[k], method="test")
            for k, v in values.items() if k not in dropped]
