"""Settings of a gateway process: every bound and interval in one frozen record.

Built from the command line (each flag has an environment variable, see `gateway.cli`) or by
tests, which shrink the bounds to provoke 413, 429, 503 and slow-consumer disconnects.

Never reads the environment or the command line itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("./var")
    database_url: str | None = None  # the ledger in PostgreSQL; None: <data_dir>/ledger.sqlite
    redis_url: str | None = None  # multi-process mode (`herbx engine` / `herbx gateway`)
    redis_prefix: str = "herbx"  # stream names <prefix>:commands and <prefix>:journal
    mode: str = "single"  # "single" (herbx serve) or "gateway" (herbx gateway, with Redis)
    demo: bool = False
    log_level: str = "info"
    # pipeline
    queue_size: int = 4096  # commands waiting for the sequencer; full -> 503
    batch_size: int = 512  # commands per group commit
    tick_ms: int = 250  # clock tick interval; 0 turns the clock off (tests)
    order_retention_s: float = 3600.0  # done orders are forgotten after this (0: never)
    purge_every_s: float = 60.0  # how often the clock looks for orders to forget
    journal_sync: bool = True  # fdatasync each group (False only for tests of the CPU path)
    retry_after_s: int = 1
    # HTTP
    max_body_bytes: int = 64 * 1024
    rate_per_s: float = 200.0  # per token (or per peer address without one)
    rate_burst: int = 400
    idempotency_keys: int = 10_000  # remembered Idempotency-Key responses (LRU)
    page_max: int = 1000  # the largest ?limit=
    # connections (HTTP and WebSocket alike; see gateway.connections)
    max_connections: int = 12_000  # open connections in this process; over it: 503 and close
    header_timeout_s: float = 10.0  # to send a whole request head; then the socket is closed
    keepalive_timeout_s: float = 75.0  # an idle keep-alive connection is closed after this
    # WebSocket
    ws_max_msg_bytes: int = 16 * 1024
    ws_send_buffer_bytes: int = 1 << 20  # unsent bytes per connection before it is cut off
    ws_close_timeout_s: float = 10.0  # a closed client that does not answer is aborted after
    ws_max_subscriptions: int = 64
    ws_max_connections: int = 10_000  # open WebSockets in this process; over it: 503
    ws_max_per_peer: int = 2_000  # open WebSockets from one address; over it: 429
    ws_max_inflight: int = 256  # engine requests of one connection awaiting their answers
    heartbeat_s: float = 1.0
    conflate_ms: int = 50  # book updates per instrument at most this often (0: every one)
    # market data memory
    trades_kept: int = 1000  # recent trades kept per instrument
    fills_kept: int = 1000  # recent fills kept per account
    # delivery versus payment: T+N calendar days in Vietnam time (gateway/api/dvp.py)
    settlement_cycle_days: int = 1
    demo_settle_s: float = 2.0  # the demo operator marks a trade paid after about this long
    # demo
    demo_pace_s: float = 1.0  # market-maker / trader bot step
    public_url: str = ""  # where trace URLs point; default http://host:port
    # downstream consumers (the settlement ledger; gateway.link.feed)
    database_schema: str | None = None  # PostgreSQL schema of the ledger (None: search_path)
    feed_buffer_commands: int = 100_000  # per consumer; over it, it catches up from the journal
    feed_chunk_commands: int = 1_000  # commands per consumer write
    feed_retry_max_s: float = 5.0  # longest backoff of a failing consumer
    feed_drain_timeout_s: float = 10.0  # at shutdown, time for the consumers to catch up
    # False: `herbx consume` books in its own process; this one books nothing, prunes nothing
    consumers: bool = True
