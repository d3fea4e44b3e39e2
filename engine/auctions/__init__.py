"""Lot auctions (English, Dutch clock, sealed bid) and the call auction: the auctions issue.

`AuctionHouse` is the exchange's auction desk. It is part of the sans-I/O core: no clock, no
I/O; time arrives in commands (``tick`` drives clocks and closes). It sees the exchange only as
an `engine.market.Market` (so it never imports the exchange) and moves cash and goods only
through `engine.risk` and `engine.fills`. The exchange owns it and calls it through these only:
- ``create``, ``bid``, ``dutch_buy``, ``cancel``, ``calls.start``, ``calls.end``: the handlers
  of the auction commands, entries of the exchange's one dispatch table;
- ``calls.cancel`` / ``calls.refuse_replace``: a cancel or replace on an instrument in its
  call;
- ``on_tick(cmd)``: events due at ``cmd.ts_ns`` (clock steps, closes), after GTD expiry;
- ``encode_state()`` / ``restore_state(raw)``: its part of the snapshot, as msgpack bytes;
- ``holds()``: the cash and goods its live bids and call orders hold, so the exchange's
  invariant check can prove every hold is accounted for;
- ``calls.place(...)``: an order on an instrument in its call phase (one branch in
  ``Exchange._place``);
- ``purge(upto_id)``: forget closed auctions (the exchange's ``purge_orders``).

Modules: `model` (auction record, lifecycle table), `english`, `dutch`, `sealed` (the rules of
each kind), `house` (commands, custody, settlement, ticks, state), `call` (the call phase),
`increments` (+ ``increments.toml``, read on first use). The benchmark is
`loadtest/bench/auctions.py`.
"""

from engine.auctions.house import AuctionHouse
from engine.instruments import CALL, CONTINUOUS

__all__ = ["CALL", "CONTINUOUS", "AuctionHouse"]
