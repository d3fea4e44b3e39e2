"""`herbx serve` and `herbx gateway`: run the market (or, in multi-process mode, its gateway)
until SIGINT or SIGTERM (uvloop if present).

Owns the commands' work: their options become `Settings` (`command`), the demo guard runs, the
event loop starts. The listening socket is opened here, behind the connection guard
(`gateway.connections`: connection cap, request-head deadline); `start` is also what the tests of
the guard use. Never parses the command line (`gateway.cli` does) and never wires the app
(`gateway.app` does).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from gateway.app import create_app
from gateway.config import Settings
from gateway.connections import Guard, listen
from gateway.state import GATEWAY, Gateway


def banner(app: web.Application, s: Settings) -> str:
    gw = app[GATEWAY]
    lines = [f"HerbX market on http://{s.host}:{s.port}/  (data {s.data_dir}, "
             f"seq {gw.exchange.last_seq}, {len(gw.market.books)} books"
             f"{', demo' if s.demo else ''})",
             f"  OpenAPI  http://{s.host}:{s.port}/api/v1/openapi.json   WebSocket "
             f"ws://{s.host}:{s.port}/ws"]
    if s.database_url:
        lines.append(f"  ledger   PostgreSQL {s.database_url.split('@')[-1]}"
                     f"{' (read only: the engine books)' if s.mode == 'gateway' else ''}")
    elif s.mode != "gateway":
        lines.append(f"  ledger   SQLite {Path(s.data_dir) / 'ledger.sqlite'}")
    if s.redis_url and s.mode == "gateway":
        lines.append(f"  gateway of {s.redis_url.split('@')[-1]} (streams {s.redis_prefix}:*)")
    elif s.redis_url:
        lines.append("  --redis-url is for `herbx engine` / `herbx gateway`; "
                     "`serve` runs everything in this process")
    if gw.demo_tokens:
        lines.append("  tokens (Authorization: Bearer <token>):")
        for pid, token in gw.demo_tokens.items():
            p = gw.registry.participants[pid]
            lines.append(f"    {pid:<12} {p.role:<12} {token}")
        lines += web_people_lines(gw, f"http://{s.host}:{s.port}/")
    return "\n".join(lines)


def web_people_lines(gw: Gateway, url: str) -> list[str]:
    """The end of a demo's banner: what to open in a browser and who to sign in as (the web
    UI's demo people, whom the bots never use)."""
    from gateway.demo.data import WEB_PEOPLE

    people = [(pid, role) for pid, _, role in WEB_PEOPLE if pid in gw.demo_tokens]
    if not people:
        return []
    lines = [f"  Open {url} in a browser; on the start page sign in with one click as:"]
    lines += [f"    {pid:<12} {role:<12} {gw.demo_tokens[pid]}" for pid, role in people]
    lines.append(f"  Trading floor {url}floor   Auction room {url}auctions")
    return lines


@dataclass
class Running:
    """A started market: the app's runner, the guarded listening socket and its guard."""

    runner: web.AppRunner
    listener: asyncio.Server
    guard: Guard

    @property
    def port(self) -> int:
        return int(self.listener.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        self.listener.close()  # no new connections; the runner then closes the open ones
        try:
            await self.runner.cleanup()
        finally:
            await self.listener.wait_closed()


async def start(app: web.Application, s: Settings) -> Running:
    """Start ``app`` on ``s.host:s.port`` behind the connection guard (port 0: any free one)."""
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=5.0)
    await runner.setup()
    try:
        assert runner.server is not None
        listener, guard = await listen(runner.server, host=s.host, port=s.port,
                                       max_connections=s.max_connections,
                                       header_timeout_s=s.header_timeout_s)
    except BaseException:
        await runner.cleanup()
        raise
    return Running(runner, listener, guard)


def log_core() -> None:
    """The one line that says which engine core runs (`engine.tools.compiled.activate`), once
    the market has started; a warning when it is the interpreted fallback."""
    from engine.tools.compiled import core_note, is_compiled

    logging.getLogger("herbx.core").log(logging.INFO if is_compiled() else logging.WARNING,
                                        core_note())


async def serve(s: Settings) -> None:
    app = create_app(s)
    running = await start(app, s)
    try:
        log_core()
        print(banner(app, s), flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        print("herbx serve: shutting down (draining, committing, closing streams)", flush=True)
    finally:
        await running.stop()


def settings(args: argparse.Namespace, mode: str = "single") -> Settings:
    """The options of `herbx serve` / `herbx gateway` as `Settings` (``mode`` gateway: the
    gateway of an engine reached through Redis)."""
    return Settings(host=args.host, port=args.port, data_dir=Path(args.data_dir),
                    database_url=args.database_url, redis_url=args.redis_url,
                    database_schema=args.database_schema,
                    demo=getattr(args, "demo", False),
                    log_level=args.log_level, tick_ms=args.tick_ms, public_url=args.public_url,
                    rate_per_s=args.rate_per_s, rate_burst=args.rate_burst,
                    conflate_ms=args.conflate_ms, redis_prefix=args.redis_prefix,
                    mode=mode,
                    order_retention_s=args.order_retention_s,
                    max_connections=args.max_connections,
                    header_timeout_s=args.header_timeout_s,
                    keepalive_timeout_s=args.keepalive_timeout_s,
                    demo_pace_s=getattr(args, "demo_pace_s", 1.0),
                    settlement_cycle_days=args.settlement_cycle_days,
                    consumers=not getattr(args, "no_consumers", False))


def command(args: argparse.Namespace, mode: str = "single") -> int:
    """`herbx serve` (``mode`` single) and `herbx gateway` (``mode`` gateway)."""
    if mode == "gateway" and not args.redis_url:
        print("herbx gateway: --redis-url (or HERBX_REDIS_URL) is required", file=sys.stderr)
        return 2
    return main(settings(args, mode))


def main(s: Settings) -> int:
    from engine.durable.journal import JournalCorrupt
    from gateway.demo.market import demo_refusal

    refusal = demo_refusal(s.data_dir, s.demo)
    if refusal is not None:
        print(f"herbx {'gateway' if s.mode == 'gateway' else 'serve'}: {refusal}",
              file=sys.stderr)
        return 2
    logging.basicConfig(level=s.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from engine.tools.runtime import tune_gc

    loop_factory = None
    try:
        import uvloop

        loop_factory = uvloop.new_event_loop
    except ImportError:
        pass
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            tune_gc()
            runner.run(serve(s))
    except (OSError, JournalCorrupt) as exc:  # a held, unreadable or older-rules data directory
        print(f"herbx {'gateway' if s.mode == 'gateway' else 'serve'}: {exc}", file=sys.stderr)
        return 2
    return 0
