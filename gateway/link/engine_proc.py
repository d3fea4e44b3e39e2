"""`herbx engine`: the engine half of multi-process mode (see `gateway.link.redis_link`).

Owns the command's work: logging, the event loop, signals, the engine process's run. Never
parses the command line (`gateway.cli` does) and never serves HTTP.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from pathlib import Path


def main(*, redis_url: str | None, data_dir: str, prefix: str, tick_ms: int, log_level: str,
         order_retention_s: float = 3600.0) -> int:
    if not redis_url:
        print("herbx engine: --redis-url (or HERBX_REDIS_URL) is required", file=sys.stderr)
        return 2
    url = redis_url  # narrowed to str for the coroutine below
    logging.basicConfig(level=log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from engine.tools.runtime import tune_gc
    from gateway.link.redis_link import run_engine

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        print(f"herbx engine: data {data_dir}, streams {prefix}:commands -> {prefix}:journal",
              flush=True)
        await run_engine(url, Path(data_dir), prefix, tick_ms=tick_ms, stop=stop,
                         order_retention_s=order_retention_s)

    tune_gc()
    try:
        asyncio.run(run())
    except OSError as exc:
        print(f"herbx engine: {exc}", file=sys.stderr)
        return 2
    return 0
