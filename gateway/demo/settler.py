"""The demo's operator desk for delivery versus payment: it settles every trade on its own.

A trade waits for payment (`engine.dvp`): until the operator marks it paid, the buyer's cash and
the seller's goods stay held. In the demo nobody would, so the bots' cash and goods would all end
up held and trading would stop. This desk plays the operator through the same pipeline as any
client: a trade is marked paid once it is ``Settings.demo_settle_s`` old, then delivered, then
settled, one step per pass; at most ``MAX_PER_PASS`` commands a pass, so it never floods the
pipeline. A refused step (a trade the operator API moved meanwhile) is skipped.
"""

from __future__ import annotations

import asyncio
import logging

from engine.dvp import NEXT_STEP
from engine.messages import SetTradeSettlement
from gateway.link.pipeline import Overloaded, PipelineFailed
from gateway.state import Gateway

log = logging.getLogger("herbx.demo")

MAX_PER_PASS = 200


async def settle_pass(gw: Gateway) -> int:
    """One pass over the open settlements, oldest first; the number of commands sent."""
    due = gw.now_ns() - int(gw.settings.demo_settle_s * 1e9)
    sent = 0
    for view in gw.exchange.settlement_views():
        if sent == MAX_PER_PASS:
            break
        if view.state == "pending" and view.ts_ns > due:
            continue  # too young to be paid yet (later trades are younger still, mostly)
        await gw.submit(SetTradeSettlement(trade_id=view.trade_id,
                                           state=NEXT_STEP[view.state]))
        sent += 1
    return sent


async def run(gw: Gateway) -> None:
    while True:
        try:
            await settle_pass(gw)
        except (Overloaded, PipelineFailed):
            pass
        except Exception as exc:  # never fatal to the demo; a bug shows in the log
            log.warning("demo settlement step failed: %r", exc)
        await asyncio.sleep(gw.settings.demo_pace_s)
