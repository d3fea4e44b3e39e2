"""RFC 9457 problem details: the one shape of every HTTP error, and the middleware that makes it.

Owns: `Problem` (raise it anywhere in a handler), the translation of aiohttp's HTTP exceptions
and msgspec validation errors into problem+json, and `error_middleware`. Handlers never build
error responses themselves; an unexpected exception becomes a logged 500 without details.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable

import msgspec
from aiohttp import web

log = logging.getLogger("herbx.gateway")

PROBLEM_TYPE = "application/problem+json"
TYPE_BASE = "https://herbx.example/problems/"


class FieldError(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One invalid input field: ``field`` is a JSON path such as ``$.qty`` or ``$.results[0]``."""

    field: str
    message: str


class ProblemBody(msgspec.Struct, kw_only=True, omit_defaults=True):
    type: str
    title: str
    status: int
    detail: str = ""
    code: str = ""
    errors: list[FieldError] = []
    next_step: str = ""  # on a refused lot step: what the lot needs next (gateway.api.lots)


class Problem(Exception):
    """An HTTP error answered as problem+json. ``code`` is a stable machine-readable reason
    (an engine reason code such as ``insufficient_cash`` where there is one)."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str = "",
        *,
        title: str | None = None,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
        next_step: str = "",
    ) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.title = title or code.replace("_", " ").capitalize()
        self.errors = errors or []
        self.headers = headers or {}
        self.next_step = next_step

    def body(self) -> ProblemBody:
        return ProblemBody(type=TYPE_BASE + self.code, title=self.title, status=self.status,
                           detail=self.detail, code=self.code, errors=self.errors,
                           next_step=self.next_step)

    def response(self) -> web.Response:
        return web.Response(status=self.status, body=msgspec.json.encode(self.body()),
                            content_type=PROBLEM_TYPE, headers=self.headers)


_PATH = re.compile(r"at `(\$[^`]*)`")


def from_validation(exc: msgspec.ValidationError | msgspec.DecodeError) -> Problem:
    """Bad JSON → 400; JSON of the wrong shape → 422 naming the field path msgspec reports."""
    text = str(exc)
    if not isinstance(exc, msgspec.ValidationError):
        return Problem(400, "bad_json", text)
    m = _PATH.search(text)
    field = m.group(1) if m else "$"
    message = _PATH.sub("", text).strip(" -")
    return Problem(422, "invalid_field", text, errors=[FieldError(field=field, message=message)])


_HTTP_CODES = {
    404: "not_found", 405: "method_not_allowed", 413: "payload_too_large",
    415: "unsupported_media_type", 400: "bad_request",
}


def from_http(exc: web.HTTPException) -> Problem:
    headers = {k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After")}
    code = _HTTP_CODES.get(exc.status, "http_error")
    return Problem(exc.status, code, exc.text or exc.reason, title=exc.reason, headers=headers)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except Problem as exc:
        return exc.response()
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        return from_validation(exc).response()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return from_http(exc).response()
    except Exception:
        log.exception("unhandled error in %s %s", request.method, request.path)
        return Problem(500, "internal_error", "unexpected server error; see the server log"
                       ).response()
