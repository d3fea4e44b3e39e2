"""Every page at 390 px and 1440 px: no sideways scrolling, no serious or critical axe-core
violation, no console error, no raw code or `null` shown; a screenshot of each under
var/screenshots/."""

from __future__ import annotations

import re

import pytest

from tests.web.conftest import WIDTHS, axe_serious, no_sideways_overflow, screenshot

#: (name, path, who is signed in or None). A new page adds its rows (docs/web.md).
PAGES = [
    ("start", "/", None),
    ("start-signed-in", "/", "demo-web-t1"),
    ("floor", "/floor", "demo-web-t1"),
    ("floor-public", "/floor", None),
    ("auctions", "/auctions", "demo-web-t2"),
    ("trace", "/trace/LC26-W200", None),  # server-rendered, no stream
]
PAGES += [
    ("coop", "/coop", "demo-web-htx"),
    ("coop-public", "/coop", None),
    ("lab", "/lab", "demo-web-lab"),
    ("ops", "/ops", "demo-web-ops"),
    ("analyst", "/analyst", "demo-web-fund"),
    ("trace", "/trace/LC26-W200", None),
]


@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize(("name", "path", "token"), PAGES, ids=[p[0] for p in PAGES])
def test_page(tabs, name: str, path: str, token: str | None, width: str) -> None:
    tab = tabs(width)
    if token:
        tab.sign_in(token)
    page = tab.open(path) if name != "trace" else tab.page
    if name == "trace":
        page.goto(tab.server.base + path)
    else:
        page.wait_for_selector("#conn[data-state=live]")
    assert no_sideways_overflow(page) == 0
    text = page.inner_text("body")
    assert not re.findall(r"\b(?:null|undefined|NaN)\b", text)
    if name != "trace":  # the trace page is server-rendered, its own (docs/web.md)
        # no raw state or reason codes (partly_sold, insufficient_cash): everything translated
        assert not re.findall(r"\b[a-z]+_[a-z_]+\b", page.inner_text("main"))
    assert axe_serious(page) == []
    screenshot(page, f"{name}-{width}")
    assert tab.errors == []


@pytest.mark.parametrize(("name", "path", "token"), PAGES, ids=[p[0] for p in PAGES])
def test_pages_run_under_their_csp(tabs, name: str, path: str, token: str | None) -> None:
    """The pages as served, Content-Security-Policy on: they load, go live and draw (the
    floor's chart included) with no violation or other console error."""
    tab = tabs(csp=True)
    if token:
        tab.sign_in(token)
    if name == "trace":
        tab.page.goto(tab.server.base + path)
    else:
        page = tab.open(path)
        page.wait_for_selector("#conn[data-state=live]")
        if name.startswith("floor"):
            page.wait_for_selector("#chart canvas", state="attached")
    assert tab.errors == []
