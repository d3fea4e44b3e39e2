"""Price-insurance terms: the operator's insured floor and reference window per herb and season.

Owns the record of terms (`InsuranceTerms`, keyed by ``(herb, season)``) and the one command
that sets them (`SetInsuranceTerms`): it checks them and records them, nothing more. The
reference price, the minimum-volume rule and the payouts are read models computed from the
tick data (`settlement.ticks.insurance`); the fund's money is the ledger's. Terms are market
configuration, so they are journaled like any command and kept in the snapshot.

Rules: the herb is a herb product that is listed (an instrument symbol without its grade,
`herb_key`); ``0 < floor_vnd <= MAX_VND``; the window is not empty; the minimum volume is
positive; terms may be replaced until their window starts (after that they are what growers
were insured on), and at most `MAX_TERMS` herb-seasons are kept. Never does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec
from msgspec import Struct

from engine.instruments import Instrument
from engine.messages import (
    MAX_QTY,
    MAX_VND,
    Event,
    InsuranceTermsSet,
    SetInsuranceTerms,
    command_rejected,
)

#: The most herb-season terms the market keeps (a bound, house rule 9): decades of seasons for
#: every herb product of the catalogue.
MAX_TERMS = 4096


def herb_key(symbol: str, grade: str) -> str:
    """The herb product an instrument trades: its symbol without the ``-GRADE`` suffix
    (``QUE-BARK-A`` → ``QUE-BARK``); the whole symbol when it does not end in its grade.
    Indices and insurance are per herb product: cinnamon bark and cinnamon oil are different
    goods even though both are ``QUE``."""
    suffix = f"-{grade}"
    return symbol[: -len(suffix)] if symbol.endswith(suffix) and len(symbol) > len(suffix) \
        else symbol


class InsuranceTerms(Struct, kw_only=True, frozen=True):
    """One herb-season's terms as recorded; ``seq``/``ts_ns``: the command that set them."""

    herb: str
    season: str
    floor_vnd: int
    window_start_ns: int
    window_end_ns: int
    min_volume_kg: int
    demo: bool
    seq: int
    ts_ns: int


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(list[InsuranceTerms])


class InsuranceBook:
    """Every herb-season's current terms, in the order they were first set."""

    def __init__(self, instruments: Mapping[str, Instrument]) -> None:
        self.instruments = instruments
        self.terms: dict[tuple[str, str], InsuranceTerms] = {}

    def set_terms(self, cmd: SetInsuranceTerms) -> list[Event]:
        if not any(herb_key(i.symbol, i.grade) == cmd.herb for i in self.instruments.values()):
            return command_rejected(cmd, "unknown_herb", f"no instrument trades {cmd.herb}")
        if cmd.floor_vnd <= 0 or cmd.floor_vnd > MAX_VND:
            return command_rejected(cmd, "invalid_floor", f"floor_vnd must be 1..{MAX_VND}")
        if cmd.window_end_ns <= cmd.window_start_ns:
            return command_rejected(cmd, "invalid_window",
                                    "window_end_ns must be after window_start_ns")
        if cmd.min_volume_kg <= 0 or cmd.min_volume_kg > MAX_QTY:
            return command_rejected(cmd, "invalid_qty", f"min_volume_kg must be 1..{MAX_QTY}")
        key = (cmd.herb, cmd.season)
        old = self.terms.get(key)
        if old is not None and cmd.ts_ns >= old.window_start_ns:
            return command_rejected(
                cmd, "terms_locked",
                f"the {cmd.season} window of {cmd.herb} has started: its terms stand")
        if old is None and len(self.terms) >= MAX_TERMS:
            return command_rejected(cmd, "too_many_terms", f"at most {MAX_TERMS} herb-seasons")
        self.terms[key] = InsuranceTerms(
            herb=cmd.herb, season=cmd.season, floor_vnd=cmd.floor_vnd,
            window_start_ns=cmd.window_start_ns, window_end_ns=cmd.window_end_ns,
            min_volume_kg=cmd.min_volume_kg, demo=cmd.demo, seq=cmd.seq, ts_ns=cmd.ts_ns)
        return [InsuranceTermsSet(
            seq=cmd.seq, ts_ns=cmd.ts_ns, herb=cmd.herb, season=cmd.season,
            floor_vnd=cmd.floor_vnd, window_start_ns=cmd.window_start_ns,
            window_end_ns=cmd.window_end_ns, min_volume_kg=cmd.min_volume_kg, demo=cmd.demo,
            replaced=old is not None)]

    def views(self) -> list[InsuranceTerms]:
        """Every herb-season's terms, in the order they were first set."""
        return list(self.terms.values())

    def encode_state(self) -> bytes:
        return _encoder.encode(list(self.terms.values())) if self.terms else b""

    def restore_state(self, data: bytes) -> None:
        self.terms.clear()
        if data:
            for t in _decoder.decode(data):
                self.terms[(t.herb, t.season)] = t

    def _check(self) -> None:
        assert len(self.terms) <= MAX_TERMS
        for (herb, season), t in self.terms.items():
            assert (t.herb, t.season) == (herb, season)
            assert 0 < t.floor_vnd <= MAX_VND and t.window_start_ns < t.window_end_ns, t
            assert 0 < t.min_volume_kg <= MAX_QTY, t
