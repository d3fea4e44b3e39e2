"""The docs stand alone in a clone: nothing in docs/ or the README points outside the repository
(into a sibling directory or a path of the machine they were written on)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted((ROOT / "docs").rglob("*")) + [ROOT / "README.md"]


@pytest.mark.parametrize("path", [p for p in DOCS if p.is_file()], ids=lambda p: p.name)
def test_a_doc_points_nowhere_outside_the_repository(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for lineno, line in enumerate(text.splitlines(), 1):
        for outside in ("../shared", "/work/"):
            assert outside not in line, f"{path.relative_to(ROOT)}:{lineno} mentions {outside!r}"
