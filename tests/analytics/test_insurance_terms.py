"""The insurance-terms command: the engine's refusals, replacement until the window starts, and
the round trip through the journal and the snapshot."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from engine.durable.sequencer import Sequencer
from engine.exchange import Exchange
from engine.insurance import MAX_TERMS, InsuranceTerms, herb_key
from engine.messages import (
    AddInstrument,
    CommandRejected,
    InsuranceTermsSet,
    SetInsuranceTerms,
    command_json_decoder,
)

DAY = 86_400 * 10**9


class Feed:
    def __init__(self) -> None:
        self.ex = Exchange()
        self.seq = 0
        self.ex_apply(AddInstrument(symbol="QUE-BARK-A", herb="QUE", grade="A", tick_vnd=100), 1)

    def ex_apply(self, cmd: object, ts: int) -> list[object]:
        self.seq += 1
        cmd.seq, cmd.ts_ns = self.seq, ts  # type: ignore[attr-defined]
        events = self.ex.apply(cmd)  # type: ignore[arg-type]
        self.ex._check()
        return events  # type: ignore[return-value]


def terms(**over: object) -> SetInsuranceTerms:
    fields: dict[str, object] = dict(herb="QUE-BARK", season="2026", floor_vnd=50_000,
                                     window_start_ns=10 * DAY, window_end_ns=40 * DAY,
                                     min_volume_kg=500)
    fields.update(over)
    return SetInsuranceTerms(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(("over", "reason"), [
    ({"herb": "QUE"}, "unknown_herb"),  # a species, not a product: bark and oil differ
    ({"herb": "QUE-OIL"}, "unknown_herb"),  # not listed
    ({"floor_vnd": 0}, "invalid_floor"),
    ({"floor_vnd": -5}, "invalid_floor"),
    ({"window_end_ns": 10 * DAY}, "invalid_window"),
    ({"window_end_ns": 9 * DAY}, "invalid_window"),
    ({"min_volume_kg": 0}, "invalid_qty"),
])
def test_refusals_change_nothing(over: dict[str, object], reason: str) -> None:
    f = Feed()
    [ev] = f.ex_apply(terms(**over), DAY)
    assert type(ev) is CommandRejected and ev.reason == reason, ev
    assert ev.command == "set_insurance_terms"
    assert f.ex.insurance_terms() == []


def test_terms_are_recorded_and_replaceable_until_the_window_starts() -> None:
    f = Feed()
    [ev] = f.ex_apply(terms(), DAY)
    assert type(ev) is InsuranceTermsSet and not ev.replaced and ev.floor_vnd == 50_000
    [ev] = f.ex_apply(terms(floor_vnd=52_000), 10 * DAY - 1)  # the last ns before the window
    assert type(ev) is InsuranceTermsSet and ev.replaced
    [ev] = f.ex_apply(terms(floor_vnd=60_000), 10 * DAY)  # the window has started
    assert type(ev) is CommandRejected and ev.reason == "terms_locked"
    [t] = f.ex.insurance_terms()
    assert (t.floor_vnd, t.seq) == (52_000, 3)
    # another season of the same herb is its own terms
    [ev] = f.ex_apply(terms(season="2027-H1", window_start_ns=400 * DAY,
                            window_end_ns=500 * DAY), 11 * DAY)
    assert type(ev) is InsuranceTermsSet
    assert [(t.herb, t.season) for t in f.ex.insurance_terms()] == [
        ("QUE-BARK", "2026"), ("QUE-BARK", "2027-H1")]


def test_terms_for_a_past_window_may_be_set_once() -> None:
    f = Feed()
    [ev] = f.ex_apply(terms(), 100 * DAY)  # the demo's season over its history
    assert type(ev) is InsuranceTermsSet
    [ev] = f.ex_apply(terms(floor_vnd=1), 100 * DAY)
    assert type(ev) is CommandRejected and ev.reason == "terms_locked"


def test_the_number_of_herb_seasons_is_bounded() -> None:
    f = Feed()
    for i in range(MAX_TERMS):  # filled directly: 4,096 commands would say nothing more
        f.ex.insurance.terms[("QUE-BARK", f"{1000 + i}")] = recorded(i)
    [ev] = f.ex_apply(terms(season="9999"), DAY)
    assert type(ev) is CommandRejected and ev.reason == "too_many_terms"


def recorded(i: int) -> InsuranceTerms:
    return InsuranceTerms(herb="QUE-BARK", season=f"{1000 + i}", floor_vnd=1,
                          window_start_ns=0, window_end_ns=1, min_volume_kg=1, demo=False,
                          seq=1, ts_ns=0)


@pytest.mark.parametrize("bad", [
    {"season": "26"}, {"season": "2026-h1"}, {"season": "2026 "}, {"herb": "que-bark"},
    {"floor_vnd": 10**16}, {"window_start_ns": -1}, {"demo": "yes"},
])
def test_the_command_limits_are_in_its_type(bad: dict[str, object]) -> None:
    doc = {"type": "set_insurance_terms", "herb": "QUE-BARK", "season": "2026",
           "floor_vnd": 50_000, "window_start_ns": 1, "window_end_ns": 2, "min_volume_kg": 1}
    command_json_decoder.decode(msgspec.json.encode(doc))
    with pytest.raises(msgspec.ValidationError):
        command_json_decoder.decode(msgspec.json.encode({**doc, **bad}))


def test_herb_key() -> None:
    assert herb_key("QUE-BARK-A", "A") == "QUE-BARK"
    assert herb_key("TAMTHAT-ROOT-PREMIUM", "PREMIUM") == "TAMTHAT-ROOT"
    assert herb_key("ODD", "A") == "ODD"
    assert herb_key("A", "A") == "A"


def test_journal_and_snapshot_round_trip(tmp_path: Path) -> None:
    clock = iter(range(DAY, 2 * DAY, 10**9))
    with Sequencer(tmp_path, now_ns=lambda: next(clock), sync=False) as seq:
        seq.submit(AddInstrument(symbol="QUE-BARK-A", herb="QUE", grade="A", tick_vnd=100))
        seq.submit(terms(demo=True))
        seq.commit()
        live = seq.exchange.insurance_terms()
        hash_live = seq.exchange.state_hash()
    with Sequencer(tmp_path, now_ns=lambda: next(clock), sync=False) as seq:  # journal replay
        assert seq.exchange.insurance_terms() == live
        assert seq.exchange.state_hash() == hash_live
        seq.snapshot()
        seq.submit(terms(floor_vnd=48_000))  # replaces: the window has not started
        seq.commit()
        after = seq.exchange.insurance_terms()
    with Sequencer(tmp_path, now_ns=lambda: next(clock), sync=False) as seq:  # snapshot + tail
        assert seq.exchange.insurance_terms() == after
        assert after[0].floor_vnd == 48_000 and after[0].demo is False
    restored = Exchange.restore(Exchange().snapshot())
    assert restored.insurance_terms() == []
