"""Bounds on numbers from outside: every integer a client sends is decoded as `Int`.

Money and quantities have domain bounds in the engine (`engine.messages.MAX_VND`, `MAX_QTY`);
this is the outer fence that keeps any client integer (ids, seconds, counts, prices) inside
what the journal's msgpack can encode, so a number can only ever earn its sender a 422, never
reach the sequencer as something it cannot write.
"""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta

LIMIT = 10**15
Int = Annotated[int, Meta(ge=-LIMIT, le=LIMIT)]
