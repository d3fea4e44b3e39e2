"""The UI's one translation table (`web/static/i18n.json`) covers every code a person can meet:
the engine's reason codes, the lot, order and auction states, the roles and the gateway's
problem codes; and every string key the pages use. Both languages, never empty. No browser."""

from __future__ import annotations

import json
import re
import typing
from pathlib import Path

import engine.reasons as reasons
from engine.messages import AuctionClosed, AuctionKind, SettlementState
from engine.order import TRANSITIONS as ORDER_STATES
from gateway.auth import Role
from grading.lifecycle import TRANSITIONS as LOT_TRANSITIONS
from grading.lifecycle import RefusalCode
from grading.lot import LotState

ROOT = Path(__file__).resolve().parents[2]
TABLE = json.loads((ROOT / "web/static/i18n.json").read_text(encoding="utf-8"))


def literal_codes() -> set[str]:
    found: set[str] = set()
    for name in dir(reasons):
        value = getattr(reasons, name)
        if typing.get_origin(value) is typing.Literal:
            found |= {a for a in typing.get_args(value) if a}
    return found


def problem_codes() -> set[str]:
    """Every code a gateway module raises as a problem (`Problem(status, "code", ...)`)."""
    pattern = re.compile(r'Problem\(\s*\d+,\s*"([a-z_]+)"')
    return {m for path in (ROOT / "gateway").rglob("*.py")
            for m in pattern.findall(path.read_text(encoding="utf-8"))}


def test_every_code_is_translated() -> None:
    codes = (literal_codes() | set(typing.get_args(LotState)) | set(typing.get_args(RefusalCode))
             | set(ORDER_STATES) | set(typing.get_args(AuctionKind))
             | set(typing.get_args(AuctionClosed.__annotations__["outcome"]))
             | {"scheduled", "open", "closed", "halted"} | set(typing.get_args(Role))
             | {action for _, action in LOT_TRANSITIONS} | problem_codes()
             | set(typing.get_args(SettlementState)))
    assert len(codes) > 150
    missing = sorted(c for c in codes if c not in TABLE["codes"])
    assert missing == []
    for c, langs in TABLE["codes"].items():
        assert langs["vi"].strip() and langs["en"].strip(), c


def test_every_string_the_pages_use_exists() -> None:
    used: set[str] = set()
    sources = [*(ROOT / "web/static/js").glob("*.js"), ROOT / "web/pages.py"]
    for path in sources:
        text = path.read_text(encoding="utf-8")
        used |= set(re.findall(r"""data-i18n(?:-label|-ph)?['"]?\s*[:=]\s*['"]([a-z0-9_.]+)['"]""", text))
        used |= set(re.findall(r"""\bt\(\s*['"]([a-z0-9_.]+)['"]""", text))
    used |= {f"nav.{name}" for name in ("start", "floor", "auctions")}
    assert len(used) > 50
    missing = sorted(k for k in used if k not in TABLE["ui"])
    assert missing == []
    for k, langs in TABLE["ui"].items():
        assert langs["vi"].strip() and langs["en"].strip(), k
