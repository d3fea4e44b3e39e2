"""Issues 8 and 15: a fuzz run against the served OpenAPI document (schemathesis, every phase,
stateful on the links it infers) as a trader and as the operator never gets a 5xx and every
response matches its documented schema; hostile WebSocket frames are refused cleanly; then the
market is killed (SIGKILL, no clean shutdown) and started again, and it comes back with every
order it acknowledged, in the same state.

This is the outside view of the journal rule "whatever is appended, recovery can read": before
the fix, one such run left a market that would not start again. The campaign is
`loadtest.fuzz.campaign`; ``make fuzz`` runs it at length for every role.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from loadtest.fuzz import campaign

ST = Path(sys.executable).with_name("st")

pytestmark = pytest.mark.skipif(
    not ST.exists() and os.environ.get("CI") != "true", reason="schemathesis is not installed")


def test_schemathesis_run_then_kill_and_restart_keeps_every_acknowledged_order(
    tmp_path: Path,
) -> None:
    result = campaign(tmp_path, examples=12, ws_examples=40, seed=8,
                      roles=("trader", "operator"))
    assert result["failures"] == 0, result
    assert result["openapi_cases"]["trader"] > 100, result
    # the seed's order and at least one the fuzzer placed: the fuzz reached the engine
    assert result["acknowledged_orders"] > 1, "the trader run placed no order"
    assert result["lost_orders"] == [] and result["state_same_after_restart"], result
