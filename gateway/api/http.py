"""HTTP plumbing shared by the handlers: the endpoint table entry, the guard, bodies, replies.

Owns `Endpoint` (method, path, roles, schemas: one row of the endpoint × role table that
`docs/api.md` shows and the tests check exhaustively) and `guard`, which wraps every handler
with authentication, the per-client rate limit and the role check, so no handler can forget
them. Ownership (a trader's own orders, a cooperative's own lots) is checked in the handlers,
which know what is being touched.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec
from aiohttp import web

from gateway.api.problems import Problem
from gateway.auth import Participant
from gateway.state import GATEWAY, Gateway

T = TypeVar("T")
Who = Participant | None
Handler = Callable[[web.Request, Gateway, Any], Awaitable[web.StreamResponse]]

ALL_ROLES = frozenset({"trader", "cooperative", "lab", "analyst", "operator"})
TRADERS = frozenset({"trader", "cooperative"})
OPERATOR = frozenset({"operator"})


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    roles: frozenset[str] | None  # None: public, no token needed
    summary: str
    request: type | None = None
    response: type | None = None
    status: int = 200
    idempotent_key: bool = False  # honours the Idempotency-Key header
    #: answers worth documenting besides ``status`` and the generic 4XX problem: (status,
    #: description, body type or None for a plain problem)
    responses: tuple[tuple[int, str, type | None], ...] = ()


_encoder = msgspec.json.Encoder()


def reply(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=_encoder.encode(body),
                        content_type="application/json", headers=headers)


def bearer(request: web.Request) -> str | None:
    auth = request.headers.get("Authorization")
    if auth is None:
        return None
    scheme, _, token = auth.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(401, "unauthorized", "use Authorization: Bearer <token>",
                      headers={"WWW-Authenticate": 'Bearer realm="herbx"'})
    return token.strip()


def authenticate(gw: Gateway, request: web.Request) -> Participant | None:
    token = bearer(request)
    if token is None:
        return None
    who = gw.registry.authenticate(token)
    if who is None:
        raise Problem(401, "unauthorized", "unknown or revoked token",
                      headers={"WWW-Authenticate": 'Bearer realm="herbx", error="invalid_token"'})
    return who


def rate_limit(gw: Gateway, key: str) -> None:
    wait = gw.limiter.take(key)
    if wait > 0:
        raise Problem(429, "rate_limited", "too many requests",
                      headers={"Retry-After": str(max(1, int(wait + 0.999)))})


def guard(ep: Endpoint) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def guarded(request: web.Request) -> web.StreamResponse:
        gw = request.app[GATEWAY]
        try:
            who = authenticate(gw, request)
        except Problem:
            rate_limit(gw, f"ip:{request.remote}")  # bad tokens are charged too: no free guessing
            raise
        rate_limit(gw, who.id if who is not None else f"ip:{request.remote}")
        if ep.roles is not None:
            if who is None:
                raise Problem(401, "unauthorized", "this endpoint needs a bearer token",
                              headers={"WWW-Authenticate": 'Bearer realm="herbx"'})
            if who.role not in ep.roles:
                raise Problem(403, "forbidden",
                              f"role {who.role} may not {ep.method} {ep.path}")
        key = request.headers.get("Idempotency-Key")
        if ep.idempotent_key and key is not None and who is not None:
            body = await request.read()
            return await gw.idempotency.run(who.id, key, request, body,
                                            lambda: _call(ep, request, gw, who))
        return await ep.handler(request, gw, who)

    guarded.__name__ = getattr(ep.handler, "__name__", "guarded")
    return guarded


async def _call(ep: Endpoint, request: web.Request, gw: Gateway, who: Any) -> web.Response:
    resp = await ep.handler(request, gw, who)
    assert isinstance(resp, web.Response)
    return resp


async def body(request: web.Request, typ: type[T]) -> T:
    """The request body decoded into ``typ``: 400 for bad JSON, 422 naming the bad field,
    413 (from aiohttp) over the size limit."""
    if request.content_type not in ("application/json", "application/octet-stream") and (
        request.content_type != "" and not request.content_type.endswith("+json")
    ):
        raise Problem(415, "unsupported_media_type",
                      f"send JSON (Content-Type: application/json), not {request.content_type}")
    data = await request.read()
    if not data:
        raise Problem(400, "bad_json", "a JSON body is required")
    try:
        value = msgspec.json.decode(data, type=typ)
    except msgspec.ValidationError as exc:
        if "got `float`" not in str(exc):
            raise
        value = _with_integral_floats(data, typ)
    refuse_duplicate_keys(data)
    return value


def _with_integral_floats(data: bytes, typ: type[T]) -> T:
    """JSON has one number type, and JSON Schema (so the OpenAPI document) counts ``65537.0``
    and ``6.5537e4`` as the integer 65537; msgspec's typed decoder does not. Only on that slow
    path: read the body untyped, turn floats without a fraction into ints, and validate again.
    A float with a fraction (or any other error) still fails with the typed decoder's message."""
    try:
        fixed, changed = integral_floats(msgspec.json.decode(data))
    except RecursionError:  # nested deeper than any request type: the typed error stands
        changed = False
    if not changed:
        return msgspec.json.decode(data, type=typ)  # re-raise the original error
    try:
        return msgspec.convert(fixed, typ)
    except msgspec.ValidationError:
        return msgspec.json.decode(data, type=typ)


def integral_floats(value: Any) -> tuple[Any, bool]:
    """``value`` (decoded JSON) with every float that has no fraction turned into an int, and
    whether any was: the JSON Schema reading of integers, for every door that decodes untyped."""
    if type(value) is float:
        if value.is_integer():
            return int(value), True
        return value, False
    if type(value) is dict:
        out, changed = {}, False
        for k, v in value.items():
            out[k], c = integral_floats(v)
            changed = changed or c
        return out, changed
    if type(value) is list:
        items = [integral_floats(v) for v in value]
        return [v for v, _ in items], any(c for _, c in items)
    return value, False


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise Problem(400, "duplicate_key", f"the key {key!r} appears twice in one object")
        seen[key] = value
    return seen


def refuse_duplicate_keys(data: bytes | str) -> None:
    """400 ``duplicate_key`` if any JSON object in ``data`` repeats a key.

    msgspec (like most parsers) keeps the last of two equal keys, so ``{"qty": 1, "qty": 1000}``
    would mean whatever the parser in front of us chose; a market refuses such a request rather
    than guess. Called after the typed decode has succeeded, so ``data`` is known to be a small,
    shallow object of a request type (no deep nesting reaches the standard parser's recursion).
    """
    json.loads(data, object_pairs_hook=_no_duplicates)


def int_query(request: web.Request, name: str, default: int, lo: int, hi: int) -> int:
    text = request.query.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        value = lo - 1
    if not lo <= value <= hi:
        raise Problem(422, "invalid_field", f"{name} must be an integer in {lo}..{hi}",
                      errors=[_field(f"?{name}", f"must be an integer in {lo}..{hi}")])
    return value


def int_path(request: web.Request, name: str) -> int:
    text = request.match_info[name]
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise Problem(404, "not_found", f"no such {name}")
    return int(text)


def _field(path: str, message: str) -> Any:
    from gateway.api.problems import FieldError

    return FieldError(field=path, message=message)
