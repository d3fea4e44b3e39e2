"""The trading floor's first load stays small: under 300 KB of JavaScript and CSS as the
browser decodes it (the chart library included), gzip on the wire. Bytes, not time: how fast
it becomes interactive is `herbx bench web`'s to measure."""

from __future__ import annotations

from loadtest.bench.web import floor_load


def test_floor_first_load_is_small(browser, server) -> None:
    w = floor_load(browser, server.base, "demo-web-t1")
    assert "/vendor/lightweight-charts.mjs" in w["files"]
    assert "/static/app.css" in w["files"]
    assert w["decoded"] < 300 * 1024, w
    assert w["transferred"] < w["decoded"] / 2, w  # served compressed
