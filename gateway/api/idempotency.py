"""The ``Idempotency-Key`` store: a retried request gets the first response, byte for byte.

Keys are scoped by participant; the request's method, path and body hash are remembered with
the response, so the same key with a different request is refused (422) rather than answered with
an unrelated result. A request still in flight makes its retry wait for the same response.
Bounded: the least recently used keys are forgotten. (Client order ids give idempotency in the
engine itself, across restarts; this store is in memory and covers every POST, PATCH and DELETE.)

Never stores a response without its request's hash, nor grows past its bound.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from aiohttp import web

from gateway.api.problems import Problem


class _Entry:
    __slots__ = ("fingerprint", "done")

    def __init__(self, fingerprint: str, done: asyncio.Future[tuple[int, bytes, str]]) -> None:
        self.fingerprint = fingerprint
        self.done = done


class IdempotencyStore:
    def __init__(self, max_keys: int) -> None:
        self._max = max_keys
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()

    async def run(
        self, owner: str, key: str, request: web.Request, body: bytes,
        handler: Callable[[], Awaitable[web.Response]],
    ) -> web.Response:
        if not 1 <= len(key) <= 128 or not key.isprintable():
            raise Problem(400, "bad_idempotency_key", "Idempotency-Key must be 1-128 printable "
                          "characters")
        fp = hashlib.sha256(f"{request.method} {request.path}\n".encode() + body).hexdigest()
        entry = self._entries.get((owner, key))
        if entry is not None:
            self._entries.move_to_end((owner, key))
            if entry.fingerprint != fp:
                raise Problem(422, "idempotency_key_reused",
                              "this Idempotency-Key was used for a different request")
            status, data, ctype = await asyncio.shield(entry.done)
            return web.Response(status=status, body=data, content_type=ctype,
                                headers={"Idempotent-Replayed": "true"})
        done: asyncio.Future[tuple[int, bytes, str]] = asyncio.get_running_loop().create_future()
        self._entries[(owner, key)] = _Entry(fp, done)
        if len(self._entries) > self._max:
            self._entries.popitem(last=False)
        try:
            resp = await handler()
        except Problem as exc:
            if exc.status >= 500:  # nothing was done: let a retry try again
                self._forget(owner, key, done)
                raise
            resp = exc.response()
        except BaseException:
            self._forget(owner, key, done)
            raise
        assert isinstance(resp.body, bytes)
        assert resp.content_type is not None
        done.set_result((resp.status, resp.body, resp.content_type))
        return resp

    def _forget(self, owner: str, key: str, done: asyncio.Future[tuple[int, bytes, str]]) -> None:
        self._entries.pop((owner, key), None)
        done.set_exception(Problem(409, "retry", "the first request with this Idempotency-Key "
                                   "failed before it was done; send it again"))
        done.exception()  # retrieved: nobody may be waiting
