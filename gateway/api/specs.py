"""The herb specifications as public reference data: what a lab measures for each herb
product (parameters with unit, basis and pharmacopoeia limit, contaminant limits per
destination) and the grade bands. The lab desk builds its assay form from it and the
cooperative desk its herb list.

Reads the catalogue the gateway grades with (`grading.catalogue`); never changes anything and
never grades (the lot endpoints do).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.api.http import reply
from gateway.state import Gateway
from grading.spec import HerbSpec, ParamSpec


def _param(p: ParamSpec) -> dict[str, Any]:
    return {"name": p.name, "label": p.label, "unit": p.unit, "kind": p.kind,
            "min": None if p.min is None else str(p.min),
            "max": None if p.max is None else str(p.max),
            "basis": p.basis, "required": p.required}


def spec_doc(spec: HerbSpec) -> dict[str, Any]:
    return {
        "spec_id": spec.id, "herb": spec.code, "product": spec.product,
        "name_vi": spec.name_vi, "name_latin": spec.name_latin, "unit": spec.unit,
        "valuation": spec.valuation, "moisture": spec.moisture,
        "parameters": [_param(p) for p in spec.parameters.values()],
        "contaminants": {dest: [_param(p) for p in limits.values()]
                         for dest, limits in spec.contaminants.items()},
        "grades": [{"grade": b.grade, "min": {k: str(v) for k, v in b.min.items()},
                    "max": {k: str(v) for k, v in b.max.items()}} for b in spec.grades],
    }


async def list_specs(request: web.Request, gw: Gateway, who: Any) -> web.Response:
    return reply({"specs": [spec_doc(s) for s in gw.catalogue]})
