"""Issue 15: hostile WebSocket frames (random and truncated JSON, huge numbers, deep nesting,
invalid UTF-8 in text frames, binary frames, unknown channels and ops) against a real server.

Each frame is answered with an error or a clean protocol close (never 1011, never a dropped
connection), the server keeps answering, nothing changes in the market (an unauthenticated
connection can change nothing), and after a SIGKILL it starts again with the same state. The
frames are `loadtest.fuzz.frames`, the ones ``herbx fuzz`` sends at length.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from loadtest.fuzz import Server, seed_market, state, ws_fuzz

pytestmark = pytest.mark.skipif(
    not Path(sys.executable).with_name("herbx").exists() and os.environ.get("CI") != "true",
    reason="herbx is not installed in this environment (make install)")


def test_hostile_frames_are_refused_cleanly_and_change_nothing(tmp_path: Path) -> None:
    server = Server(tmp_path / "market")
    server.start()
    try:
        tokens, _ = seed_market(server)
        before = state(server, tokens)
        result = ws_fuzz(server.base.replace("http", "ws", 1) + "/ws", examples=150, seed=15)
        assert result["failures"] == 0, result["detail"]
        assert result["cases"] == 150
        outcomes = result["outcomes"]
        assert outcomes.get("answered"), outcomes  # error frames, the connection kept
        assert outcomes.get("closed 1007"), outcomes  # invalid UTF-8 reached the server
        assert server.alive()
        assert state(server, tokens) == before
        server.kill()
        server.start()
        assert state(server, tokens) == before
    finally:
        if server.alive():
            server.kill()
