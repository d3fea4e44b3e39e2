"""The typed application state: one `Gateway` record under one `web.AppKey`.

Handlers reach every shared part through ``request.app[GATEWAY]``; nothing is global. `submit`
is the handlers' only way to change the market (through the pipeline); it turns a full queue
into 503 with Retry-After.

Never holds logic of a part; it only gathers them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from engine.durable.journal import RecordInvalid, RecordRefused, RecordTooLarge
from engine.durable.sequencer import Sequencer
from engine.messages import Command, Event
from gateway.api.idempotency import IdempotencyStore
from gateway.api.problems import FieldError, Problem
from gateway.api.ratelimit import RateLimiter
from gateway.auth import Registry
from gateway.config import Settings
from gateway.link.feed import Feed
from gateway.link.pipeline import Overloaded, Pipeline, PipelineFailed
from gateway.lots import LotViews
from gateway.stream.auction_board import AuctionBoard
from gateway.stream.fanout import Hub
from gateway.stream.marketdata import MarketData
from grading.catalogue import Catalogue
from grading.trace import TraceConfig
from settlement.store import Store


@dataclass(eq=False)
class Gateway:
    settings: Settings
    sequencer: Sequencer | None  # None in a multi-process gateway (it has a replica instead)
    pipeline: Pipeline | Any  # or gateway.link.redis_link.RedisPipeline
    market: MarketData
    hub: Hub
    registry: Registry
    lots: LotViews
    catalogue: Catalogue
    idempotency: IdempotencyStore
    limiter: RateLimiter
    auctions: AuctionBoard
    trace: TraceConfig = field(default_factory=TraceConfig)
    now_ns: Callable[[], int] = time.time_ns  # the sequencer's clock (tests inject one)
    replica: Any = None  # multi-process gateway: the exchange rebuilt from the journal stream
    clients: dict[Any, None] = field(default_factory=dict)  # open WebSocket clients
    demo_tokens: dict[str, str] = field(default_factory=dict)  # participant -> token (demo only)
    closing: bool = False
    # the settlement ledger (read it for REST; only the feed's booker writes it) and the feed
    # that drives it; None in a multi-process gateway without --database-url
    ledger: Store | None = None
    feed: Feed | None = None
    # the tick store (settlement.ticks: SqliteTickStore or PgTickStore) that the REST tick
    # endpoints read; only the tick writer writes it; None where this process keeps none
    ticks: Any = None

    @property
    def exchange(self) -> Any:
        """The live exchange (or the replica), for read-only queries."""
        if self.replica is not None:
            return self.replica
        assert self.sequencer is not None
        return self.sequencer.exchange

    async def submit(self, cmd: Command) -> list[Event]:
        try:
            return await self.pipeline.submit(cmd)
        except Overloaded as exc:
            raise Problem(503, "overloaded", str(exc),
                          headers={"Retry-After": str(self.settings.retry_after_s)}) from None
        except PipelineFailed:
            raise Problem(503, "engine_unavailable", "the engine stopped; an operator must "
                          "restart it") from None
        except RecordTooLarge as exc:
            raise Problem(413, "command_too_large", str(exc)) from None
        except RecordInvalid as exc:
            # The request types share the commands' limits, so this is a value a handler
            # derived (a start time from seconds) or a field no request type bounds yet: the
            # journal's own check, the last fence.
            raise Problem(422, "invalid_field", str(exc),
                          errors=[FieldError(field=exc.field, message=str(exc))]) from None
        except RecordRefused as exc:
            raise Problem(422, "invalid_number", str(exc)) from None


GATEWAY = web.AppKey("gateway", Gateway)
