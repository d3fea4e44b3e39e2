"""Small read endpoints the web UI needs: who a token belongs to, the demo people a visitor may
sign in as, and a lot's card (its public trace record with each assay result set against the
specification's limits).

Never changes anything and never reveals a token outside a demo market (whose tokens are
public by design, printed at start-up).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from aiohttp import web

from gateway.api.http import reply
from gateway.api.lots import public_lot, public_trace
from gateway.demo.data import WEB_PEOPLE
from gateway.state import Gateway


async def me(request: web.Request, gw: Gateway, who: Any) -> web.Response:
    return reply({"participant": who.id, "name": who.name, "role": who.role})


async def demo_people(request: web.Request, gw: Gateway, who: Any) -> web.Response:
    """The demo people of the web UI (never used by the bots), one per role, with their
    tokens; an empty list on a market that is not a demo."""
    people = []
    for pid, _name, _role in WEB_PEOPLE:
        token = gw.demo_tokens.get(pid)
        p = gw.registry.participants.get(pid)
        if token is not None and p is not None:
            people.append({"participant": pid, "name": p.name, "role": p.role, "token": token})
    return reply({"people": people})


def _within(value: Decimal, lo: Decimal | None, hi: Decimal | None) -> bool:
    return (lo is None or value >= lo) and (hi is None or value <= hi)


def shown(value: Decimal) -> str:
    """A result as a person reads it: at most three decimals (a value converted between
    bases carries many more; the exact one stays in ``value``)."""
    exp = value.as_tuple().exponent
    if isinstance(exp, int) and exp < -3:
        value = value.quantize(Decimal("0.001"))
    return str(value)


def assay_rows(gw: Gateway, spec_id: str, values: dict[str, str]) -> list[dict[str, Any]]:
    """Each graded value beside its pharmacopoeia limit (quality minimums, contaminant maxima
    for the domestic market), in the specification's order."""
    spec = gw.catalogue.get(spec_id)
    limits = {**spec.parameters, **spec.contaminants.get("domestic", {})}
    rows = []
    for name, p in limits.items():
        if name not in values:
            continue
        v = Decimal(values[name])
        rows.append({"parameter": name, "label": p.label, "unit": p.unit, "kind": p.kind,
                     "value": values[name], "shown": shown(v),
                     "min": None if p.min is None else str(p.min),
                     "max": None if p.max is None else str(p.max),
                     "within": _within(v, p.min, p.max)})
    return rows


async def lot_card(request: web.Request, gw: Gateway, who: Any) -> web.Response:
    lot = public_lot(gw, request.match_info["lot_id"])
    doc = await public_trace(gw, lot)  # with the ledger's invoice numbers, never a buyer
    g = doc["grade"]
    doc["assays"] = [] if g is None else assay_rows(gw, lot.spec_id, g["values"])
    return reply(doc)
