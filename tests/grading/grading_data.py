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
    drop: Iterable[str] = (), destination: str = "domestic", on_limit_basis: bool = False,
) -> list[AssayResult]:
    """A full assay for ``spec_id`` (grade A unless overridden), in each parameter's unit,
    reported as-is as labs do, or with ``on_limit_basis`` each on the basis of its limit (so
    that a value is compared unconverted)."""
    spec = catalogue.get(spec_id)
    values = {**GRADE_A[spec_id], **{k: v for k, v in CLEAN.items()
                                     if k in spec.contaminants[destination]},
              **(overrides or {})}
    units = {**{n: p.unit for n, p in spec.parameters.items()},
             **{n: p.unit for d in spec.contaminants.values() for n, p in d.items()}}
    bases = {n: p.basis for n, p in [*spec.parameters.items(),
                                     *spec.contaminants[destination].items()]}
    dropped = set(drop)
    return [AssayResult(parameter=k, value=v, unit=units[k], method="test",
                        basis=(bases[k] or "as_is") if on_limit_basis else "as_is")
            for k, v in values.items() if k not in dropped]
