"""The connection guard: a bound on open connections and a deadline for each request head.

aiohttp closes keep-alive connections that stay idle (``keepalive_timeout``, set from
``Settings.keepalive_timeout_s`` in `gateway.app`), but it sets no deadline for a request head
and no bound on connections: a client that sends half a request keeps its socket as long as it
likes, and enough such clients take every file descriptor of the process (slowloris). `Guard` is
the protocol factory of the listening socket in front of aiohttp's: each accepted connection
gets a `GuardedConnection`, which

- refuses the connection (a canned ``503`` and close, nothing parsed, no task started) while
  ``max_connections`` are open, so the process keeps serving the connections it has;
- closes it when a request head has not fully arrived within ``header_timeout_s`` of the
  connection opening or of the first byte of a later request. A request being handled
  (a slow body, a long WebSocket) is not timed by the guard.

Everything else is aiohttp's `RequestHandler`, to which every protocol event is handed on.
Owns no request state; must never read or buffer request bytes itself.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from typing import cast

import msgspec
from aiohttp import web

from gateway.api.problems import Problem

log = logging.getLogger("herbx.connections")

# The guard reads two fields of aiohttp's handler, the ones aiohttp's own keep-alive check uses:
# ``_waiter`` (pending while the handler waits for a request) and ``_request_count`` (heads
# parsed so far). Checked here so that an aiohttp that renames them fails at import, loudly.
assert {"_waiter", "_request_count"} <= set(web.RequestHandler.__slots__)

FD_RESERVE = 256  # descriptors kept for the journal, the databases, logs and the listener
LISTEN_BACKLOG = 4096  # connections the kernel may queue before the loop accepts them


def _refusal() -> bytes:
    body = msgspec.json.encode(Problem(503, "too_many_connections",
                                       "the server has too many open connections; retry").body())
    head = ("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/problem+json\r\n"
            f"Retry-After: 1\r\nConnection: close\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


REFUSAL = _refusal()


def connection_cap(max_connections: int, fd_soft_limit: int | None = None) -> int:
    """``max_connections``, lowered to what the process's descriptor limit leaves after
    `FD_RESERVE` (the cap must bite before the kernel does)."""
    if fd_soft_limit is None:
        fd_soft_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if fd_soft_limit == resource.RLIM_INFINITY or fd_soft_limit <= 0:
        return max_connections
    return max(1, min(max_connections, max(fd_soft_limit - FD_RESERVE, fd_soft_limit // 2)))


class Guard:
    """Protocol factory for ``loop.create_server``; shared by the connections of one listener."""

    def __init__(self, server: web.Server, *, max_connections: int,
                 header_timeout_s: float) -> None:
        assert max_connections >= 1 and header_timeout_s > 0
        self.server = server  # aiohttp's low-level server: makes the real handlers
        self.max_connections = max_connections
        self.header_timeout_s = header_timeout_s
        self.open = 0
        self.refused = 0  # counters, for the log and the tests
        self.timed_out = 0

    def __call__(self) -> asyncio.Protocol:
        return GuardedConnection(self)


class GuardedConnection(asyncio.Protocol):
    __slots__ = ("guard", "inner", "timer", "heads_at_arm")

    def __init__(self, guard: Guard) -> None:
        self.guard = guard
        self.inner: web.RequestHandler | None = None  # None: refused
        self.timer: asyncio.TimerHandle | None = None
        self.heads_at_arm = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        g = self.guard
        if g.open >= g.max_connections:
            g.refused += 1
            if g.refused == 1 or g.refused % 1000 == 0:
                log.warning("%d open connections (the cap): refusing new ones (%d so far)",
                            g.open, g.refused)
            # (uvloop's transports are not asyncio.Transport subclasses: no isinstance here)
            cast(asyncio.Transport, transport).write(REFUSAL)
            transport.close()
            return
        g.open += 1
        self.inner = g.server()
        self.inner.connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        inner = self.inner
        if inner is None:
            return
        before = inner._request_count
        inner.data_received(data)
        if inner._request_count > before:  # a head is complete
            if self.timer is not None:
                self.timer.cancel()
                self.timer = None
        elif self.timer is None and _waiting_for_request(inner):
            self._arm()  # the first bytes of a next request on a kept-alive connection

    def eof_received(self) -> None:  # aiohttp's returns None too: the transport closes
        if self.inner is not None:
            self.inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.inner is None:
            return
        self.guard.open -= 1
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.inner is not None:
            self.inner.resume_writing()

    def _arm(self) -> None:
        assert self.inner is not None
        self.heads_at_arm = self.inner._request_count
        loop = asyncio.get_running_loop()
        self.timer = loop.call_later(self.guard.header_timeout_s, self._expire)

    def _expire(self) -> None:
        self.timer = None
        inner = self.inner
        if inner is not None and inner._request_count == self.heads_at_arm:
            self.guard.timed_out += 1
            inner.force_close()  # no head in time: close (what was read is dropped)


def _waiting_for_request(inner: web.RequestHandler) -> bool:
    waiter = inner._waiter
    return waiter is not None and not waiter.done()


async def listen(server: web.Server, *, host: str, port: int, max_connections: int,
                 header_timeout_s: float) -> tuple[asyncio.Server, Guard]:
    """Listen on ``host:port`` with aiohttp's ``server`` behind a `Guard`."""
    guard = Guard(server, max_connections=connection_cap(max_connections),
                  header_timeout_s=header_timeout_s)
    if guard.max_connections < max_connections:
        log.warning("at most %d connections (not %d): the file descriptor limit is %d",
                    guard.max_connections, max_connections,
                    resource.getrlimit(resource.RLIMIT_NOFILE)[0])
    loop = asyncio.get_running_loop()
    # The accept queue must hold a connection storm (a thousand clients connecting within
    # seconds, each with its HTTP and WebSocket connections) while the loop is busy: a full
    # queue drops SYNs, and the client's kernel retries after 1, 3, 7, 15, 31 s, which is what
    # made the load test's p99s 15-60 s (docs/benchmarks.md). The kernel caps it at somaxconn.
    listener = await loop.create_server(guard, host, port,
                                        backlog=min(guard.max_connections, LISTEN_BACKLOG))
    return listener, guard
