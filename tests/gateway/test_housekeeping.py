"""The purge schedule: done orders are forgotten once they are older than the retention."""

from __future__ import annotations

from gateway.link.housekeeping import PurgeSchedule


def test_purges_up_to_the_seq_noted_a_retention_ago() -> None:
    s = PurgeSchedule(retention_s=3600, every_s=60)
    assert s.due(0.0, 100) is None  # notes seq 100 at t=0
    assert s.due(30.0, 150) is None  # not a new note yet
    assert s.due(60.0, 200) is None  # notes seq 200 at t=60
    assert s.due(3599.0, 900) is None
    assert s.due(3600.0, 950) == 100  # the t=0 note is an hour old
    assert s.due(3610.0, 960) is None
    assert s.due(3660.0, 990) == 200


def test_a_long_pause_purges_up_to_the_newest_expired_note() -> None:
    s = PurgeSchedule(retention_s=10, every_s=1)
    for t in range(5):
        s.due(float(t), 10 * (t + 1))
    assert s.due(100.0, 999) == 50


def test_nothing_placed_yet_means_nothing_to_purge() -> None:
    s = PurgeSchedule(retention_s=1, every_s=1)
    s.due(0.0, 0)
    assert s.due(5.0, 0) is None
