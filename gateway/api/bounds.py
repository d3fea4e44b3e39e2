"""Bounds on numbers from outside that are not command fields themselves.

Every number that becomes a command field is typed with the command's own alias
(`engine.messages`: ``Vnd``, ``Qty``, ``Id``, …), so its limit is declared once. What is left
here are the API's own units that a handler turns into command fields (seconds and milliseconds
from now, which become nanosecond times) and numbers that never reach the engine (a WebSocket
``req_id``, echoed back). Their bounds keep every derived time inside what the journal holds
(nanoseconds since 1970 in 63 bits, until 2262): now + ``MAX_SECONDS`` is far inside it.
"""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta

LIMIT = 10**15
Int = Annotated[int, Meta(ge=-LIMIT, le=LIMIT)]
#: About three years: longer than any auction's schedule.
MAX_SECONDS = 100_000_000
Seconds = Annotated[int, Meta(ge=0, le=MAX_SECONDS)]
Millis = Annotated[int, Meta(ge=0, le=MAX_SECONDS * 1000)]
