"""The fee, levy and tax schedule: basis points per herb or instrument, with validity dates.

Owns reading `schedule.toml` (or another file of the same shape), checking it (bps in range,
dates valid, no two rates of one kind and target valid on the same day) and the look-up of the
rate that applies to a trade. Must never compute money: `settlement.booking` does that.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path
from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct

RateKind = Literal["fee", "levy", "tax"]
DEFAULT_PATH = Path(__file__).with_name("schedule.toml")


class Rate(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    kind: RateKind
    applies_to: Annotated[str, Meta(min_length=1, max_length=32)]  # symbol, herb code or "*"
    bps: Annotated[int, Meta(ge=0, le=10_000)]
    valid_from: dt.date
    valid_to: dt.date | None = None  # exclusive; None = open-ended
    source: Annotated[str, Meta(min_length=1)]
    illustrative: bool = False

    def valid_on(self, day: dt.date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day < self.valid_to)


class _File(Struct, frozen=True, forbid_unknown_fields=True):
    rate: list[Rate] = []


class Schedule:
    """The rates, checked. `rate_bps` is O(rates of the kind); schedules hold a handful."""

    def __init__(self, rates: list[Rate]) -> None:
        for i, a in enumerate(rates):
            if a.valid_to is not None and a.valid_to <= a.valid_from:
                raise ValueError(f"rate {a.kind}/{a.applies_to}: valid_to not after valid_from")
            for b in rates[i + 1:]:
                if (a.kind, a.applies_to) == (b.kind, b.applies_to) and _overlap(a, b):
                    raise ValueError(f"rates {a.kind}/{a.applies_to} overlap in time")
        self.rates = rates

    @classmethod
    def load(cls, path: Path = DEFAULT_PATH) -> Schedule:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        for r in raw.get("rate", []):
            if r.get("valid_to") == "":
                del r["valid_to"]
        return cls(msgspec.convert(raw, _File).rate)

    def rate_bps(self, kind: RateKind, symbol: str, herb: str | None, day: dt.date) -> int:
        """The most specific rate valid on ``day``: the symbol's, else the herb's, else ``*``'s;
        0 when none applies."""
        best: tuple[int, int] = (-1, 0)
        for r in self.rates:
            if r.kind != kind or not r.valid_on(day):
                continue
            rank = 2 if r.applies_to == symbol else 1 if r.applies_to == herb else (
                0 if r.applies_to == "*" else -1)
            if rank > best[0]:
                best = (rank, r.bps)
        return best[1]


def _overlap(a: Rate, b: Rate) -> bool:
    a_end = a.valid_to or dt.date.max
    b_end = b.valid_to or dt.date.max
    return a.valid_from < b_end and b.valid_from < a_end
