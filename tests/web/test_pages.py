"""Every page at 390 px and 1440 px: no sideways scrolling, no serious or critical axe-core
violation, no console error; a screenshot of each under var/screenshots/."""

from __future__ import annotations

import pytest

from tests.web.conftest import WIDTHS, axe_serious, no_sideways_overflow, screenshot

#: (name, path, who is signed in or None). A new page adds its rows (docs/web.md).
PAGES = [
    ("start", "/", None),
    ("start-signed-in", "/", "demo-web-t1"),
    ("floor", "/floor", "demo-web-t1"),
    ("floor-public", "/floor", None),
    ("auctions", "/auctions", "demo-web-t2"),
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
    page = tab.open(path)
    page.wait_for_selector("#conn[data-state=live]")
    assert no_sideways_overflow(page) == 0
    assert axe_serious(page) == []
    screenshot(page, f"{name}-{width}")
    assert tab.errors == []
