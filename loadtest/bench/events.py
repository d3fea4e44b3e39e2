"""`python -m loadtest.bench.events`: what building the hot path's events costs, by keywords and
positionally (issue 16: the engine builds `OrderAccepted`, `TradeExecuted`, `BookUpdated` and
`OrderCancelled` positionally).

An I/O shell module (it reads the clock); the core never imports it. Each construction is timed
with `timeit`, the cases interleaved round by round so that a busy neighbour slows them alike;
the best round of each is reported, in nanoseconds per event, as one JSON object.
"""

from __future__ import annotations

import json
import sys
import timeit

from engine.messages import BookUpdated, LotLeg, OrderAccepted, OrderCancelled, TradeExecuted

CASES = {
    "order_accepted_kw": 'OrderAccepted(seq=1, ts_ns=2, order_id=1, account="B", '
                         'client_order_id="c", symbol="S", side="buy", order_type="limit", '
                         'price_vnd=5, qty=3, tif="gtc", post_only=False, expire_at_ns=None)',
    "order_accepted_pos": 'OrderAccepted(1, 2, 1, "B", "c", "S", "buy", "limit", 5, 3, "gtc", '
                          "False, None)",
    "trade_executed_kw": 'TradeExecuted(seq=1, ts_ns=2, trade_id=3, symbol="S", price_vnd=5, '
                         'qty=3, aggressor="buy", maker_order_id=1, taker_order_id=2, buyer="B", '
                         'seller="S", maker_leaves_qty=0, taker_leaves_qty=0, lots=legs)',
    "trade_executed_pos": 'TradeExecuted(1, 2, 3, "S", 5, 3, "buy", 1, 2, "B", "S", 0, 0, legs)',
    "order_cancelled_kw": 'OrderCancelled(seq=1, ts_ns=2, order_id=1, account="B", symbol="S", '
                          'side="buy", reason="user", filled_qty=0, leaves_qty=3)',
    "order_cancelled_pos": 'OrderCancelled(1, 2, 1, "B", "S", "buy", "user", 0, 3)',
    "book_updated_kw": 'BookUpdated(seq=1, ts_ns=2, symbol="S", book_seq=3, bids=bids, '
                       "asks=asks)",
    "book_updated_pos": 'BookUpdated(1, 2, "S", 3, bids, asks)',
}
ROUNDS = 15
NUMBER = 100_000


def main() -> int:
    names = {
        "OrderAccepted": OrderAccepted, "TradeExecuted": TradeExecuted,
        "OrderCancelled": OrderCancelled, "BookUpdated": BookUpdated,
        "legs": [LotLeg("L1", 3)], "bids": [(5, 3)], "asks": [],
    }
    best = dict.fromkeys(CASES, float("inf"))
    for _ in range(ROUNDS):
        for case, stmt in CASES.items():
            ns = timeit.timeit(stmt, globals=names, number=NUMBER) / NUMBER * 1e9
            best[case] = min(best[case], ns)
    print(json.dumps({case: round(ns) for case, ns in best.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
