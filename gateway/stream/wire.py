"""Public JSON forms of engine events and values: the API's names, not the engine's.

The public contract names prices ``price`` (integer VND per unit) and times ISO 8601 UTC with
milliseconds (``ts``); the engine's names carry units (``price_vnd``, ``ts_ns``). This module is
the one place that maps one to the other. It must never change a value, only names and formats.
"""

from __future__ import annotations

import datetime
import re
import time
from typing import Any

import msgspec

from engine.messages import Event

_RENAME = {"price_vnd": "price", "max_price_vnd": "max_price", "min_next_bid_vnd": "min_next_bid"}
_TIMES = {"ts_ns": "ts", "expire_at_ns": "expire_at", "close_ns": "close_at",
          "start_ns": "start_at", "end_ns": "end_at", "next_step_ns": "next_step_at",
          "close_at_ns": "close_at"}


_last_second: tuple[int, str] = (-1, "")  # a whole second and its text (one tuple: thread-safe)


def iso_ts(ts_ns: int) -> str:
    """``2026-11-29T09:00:00.123Z`` (UTC, milliseconds). The date and time of the last second
    asked for is kept: every message of a commit group, and of most groups in a second, has
    the same one (this runs once per published trade, fill and book update)."""
    global _last_second
    secs, ns = divmod(ts_ns, 1_000_000_000)
    cached = _last_second
    if cached[0] != secs:
        cached = _last_second = (secs, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)))
    return f"{cached[1]}.{ns // 1_000_000:03d}Z"


_FRACTION = re.compile(r"(.{10}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2})(?:\.([0-9]{1,9}))?"
                       r"([Zz]|[+-][0-9]{2}:[0-9]{2})")
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_SECOND = datetime.timedelta(seconds=1)


def parse_iso_ns(text: str) -> int:
    """The inverse of `iso_ts` for any RFC 3339 timestamp with a zone, exact to the nanosecond
    (datetime keeps microseconds, so the fraction is read apart) and within the int64 ns of the
    stores (1970 to 2262); anything else is a ValueError."""
    m = _FRACTION.fullmatch(text)
    if m is None:
        raise ValueError("an RFC 3339 timestamp with a zone and at most 9 decimals")
    when = msgspec.convert(m[1] + m[3], datetime.datetime)
    ns = (when - _EPOCH) // _SECOND * 1_000_000_000 + int((m[2] or "0").ljust(9, "0"))
    if not 0 <= ns < 2**63:
        raise ValueError("outside 1970-01-01 .. 2262-04-11")
    return ns


def public(event: Event) -> dict[str, Any]:
    """An event as a public dict: ``type`` kept, prices and times renamed, ``ts`` in ISO."""
    raw: dict[str, Any] = msgspec.to_builtins(event)
    out: dict[str, Any] = {}
    for k, v in raw.items():
        if k in _TIMES:
            out[_TIMES[k]] = iso_ts(v) if isinstance(v, int) and v else v
        else:
            out[_RENAME.get(k, k)] = v
    return out


def now_iso() -> str:
    return iso_ts(time.time_ns())
