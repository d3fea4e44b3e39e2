"""The OpenAPI 3.1 document, generated from the endpoint table and the schema Structs.

Never declares a shape of its own: everything comes from `gateway.api.routes.ENDPOINTS` and
the Structs, so the document cannot drift from what is served.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from aiohttp import web

from gateway.api.problems import ProblemBody

_PARAM = re.compile(r"{(\w+)}")
IDEMPOTENCY_RULES = (
    "Optional; 1-128 printable characters, scoped to the caller. A retry with the same key gets "
    "the first response byte for byte (header `Idempotent-Replayed: true`); while the first "
    "request is still running, the retry waits for its answer. The same key with a different "
    "method, path or body is refused: 422 `idempotency_key_reused`. Keys are remembered in "
    "memory (the most recent ones, per process); an order sent with a key and no "
    "`client_order_id` gets one derived from the key, so its retry never places a second "
    "order, even after a restart.")


def build() -> dict[str, Any]:
    from gateway.api.routes import ENDPOINTS

    types: list[Any] = [ProblemBody]
    for ep in ENDPOINTS:
        types += [t for t in (ep.request, ep.response) if t is not None]
        types += [t for _, _, t in ep.responses if t is not None]
    (schemas, components) = msgspec.json.schema_components(
        list(dict.fromkeys(types)), ref_template="#/components/schemas/{name}")
    refs = {t: s for t, s in zip(dict.fromkeys(types), schemas, strict=True)}
    problem = {"description": "Problem (RFC 9457)",
               "content": {"application/problem+json": {"schema": refs[ProblemBody]}}}
    paths: dict[str, dict[str, Any]] = {}
    for ep in ENDPOINTS:
        op: dict[str, Any] = {"summary": ep.summary, "operationId": ep.handler.__name__}
        params = [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
                  for n in _PARAM.findall(ep.path)]
        if ep.idempotent_key:
            params.append({"name": "Idempotency-Key", "in": "header", "required": False,
                           "description": IDEMPOTENCY_RULES,
                           "schema": {"type": "string", "minLength": 1, "maxLength": 128}})
        if params:
            op["parameters"] = params
        if ep.request is not None:
            op["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": refs[ep.request]}}}
        ok: dict[str, Any] = {"description": "OK"}
        if ep.response is not None:
            ok["content"] = {"application/json": {"schema": refs[ep.response]}}
        op["responses"] = {str(ep.status): ok}
        for status, text, typ in ep.responses:
            media = "application/json" if status < 400 else "application/problem+json"
            op["responses"][str(status)] = {"description": text, "content": {
                media: {"schema": refs[typ if typ is not None else ProblemBody]}}}
        op["responses"].update({"4XX": problem, "503": problem})
        if ep.roles is not None:
            op["security"] = [{"bearer": []}]
            op["x-roles"] = sorted(ep.roles)
        paths.setdefault(ep.path, {})[ep.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "HerbX API", "version": "1",
                 "description": "The Lào Cai medicinal-herb market. Money is integer VND, "
                                "quantities integers of the instrument's unit (kg)."},
        "paths": paths,
        "components": {"schemas": components, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"}}},
    }


_cached: bytes | None = None


async def openapi_handler(request: web.Request) -> web.Response:
    global _cached
    if _cached is None:
        _cached = msgspec.json.encode(build())
    return web.Response(body=_cached, content_type="application/json")
