"""Review finding: the analyst desk's tick export of one herb sent a herb *product*
(``herb=QUE-BARK``) where the API's ``herb`` filter takes the herb code (``QUE``), so the
download was an empty CSV with no error: the analyst was told there were no trades."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.web.test_panels import downloaded

SYMBOL = "QUE-BARK-A"


def test_the_export_of_one_herb_holds_its_trades(tabs: Any, server: Any) -> None:
    tab = tabs()
    tab.sign_in("demo-web-fund")
    page = tab.page
    assert page.url.endswith("/analyst")
    options = page.eval_on_selector_all(
        "#export select[name=what] option", "els => els.map(e => [e.value, e.textContent])")
    value, label = next((v, t) for v, t in options
                        if v.startswith("herb:") and SYMBOL.startswith(t))
    page.select_option("#export select[name=what]", value)
    vn = datetime.now(UTC) + timedelta(hours=7)
    page.fill("#export input[name=from]", (vn - timedelta(days=60)).date().isoformat())
    body = downloaded(page, "#export button[type=submit]")
    rows = list(csv.DictReader(io.StringIO(body)))
    assert rows, f"no ticks for {label} ({value})"
    assert any(r["symbol"] == SYMBOL for r in rows)
    assert all(r["symbol"].startswith(label) for r in rows)
    assert tab.errors == []
