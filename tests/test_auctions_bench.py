"""`herbx bench auctions` times what it says it times (issue 9.7): bids on the tick, mostly
accepted, with the accepted and refused counts in its JSON figures."""

from __future__ import annotations

import json

from loadtest.bench.auctions import run


def test_the_benchmark_bids_keep_to_the_tick_and_are_mostly_accepted() -> None:
    figures = run(bidders=20, auctions=50, clocks=10, bids=5_000, ticks=5)
    json.dumps(figures)  # the last output line is this object, as JSON
    refused = figures["bids_refused_by_reason"]
    assert "price_off_tick" not in refused
    assert figures["bids_accepted"] + figures["bids_refused"] == figures["bids"] == 5_000
    assert sum(refused.values()) == figures["bids_refused"]
    assert figures["bids_accepted"] > 0.6 * figures["bids"]
