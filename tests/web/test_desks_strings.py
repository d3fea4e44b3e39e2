"""Every string the desks and the trace page ask for exists in both languages, and so does every
`next_step` code the gateway can send (no browser needed)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from gateway.api.lots import NEXT_STEP

ROOT = Path(__file__).resolve().parents[2]
STRINGS = json.loads((ROOT / "web" / "static" / "i18n.json").read_text(encoding="utf-8"))
MODULES = ["desk", "coop", "lab", "ops", "analyst", "trace"]
# t('key'), 'data-i18n': 'key', { key: 'key' } with a literal key (templates are checked below)
LITERAL = re.compile(r"""(?:\bt\(|'data-i18n':\s*|\{\s*key:\s*|field\()'([a-z_]+\.[a-z0-9_.]+)'""")


def test_every_next_step_code_is_translated() -> None:
    for c in {*NEXT_STEP.values(), "await_auction"}:
        assert set(STRINGS["codes"][c]) == {"vi", "en"}, c
        assert all(STRINGS["codes"][c].values()), c


def test_every_literal_key_of_the_desks_exists_in_both_languages() -> None:
    used: set[str] = set()
    for name in MODULES:
        text = (ROOT / "web" / "static" / "js" / f"{name}.js").read_text(encoding="utf-8")
        used |= set(LITERAL.findall(text))
    assert len(used) > 100  # the pattern finds the desks' keys
    missing = sorted(k for k in used if k not in STRINGS["ui"])
    assert missing == []
    for k in used:
        assert STRINGS["ui"][k]["vi"] and STRINGS["ui"][k]["en"], k


def test_templated_keys_exist() -> None:
    for i in ("1m", "5m", "1h", "1d"):
        assert f"analyst.interval.{i}" in STRINGS["ui"]
    from grading.catalogue import load_catalogue

    for dest in {d for spec in load_catalogue() for d in spec.contaminants}:
        assert f"dest_{dest}" in STRINGS["codes"], dest  # the lab desk's destination list
    assert "nav.coop" in STRINGS["ui"] and "nav.analyst" in STRINGS["ui"]
