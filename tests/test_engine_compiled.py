"""The mypyc build of the core (`engine.tools.compiled`) behaves exactly as the interpreted one: the
same seeded streams give byte-identical events and state hashes, on both books."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from engine.exchange import Exchange
from engine.naive_book import NaiveBook
from engine.tools.compiled import CompileError
from engine.tools.compiled import build as build_core
from tests.test_engine_properties import build as build_stream
from tests.test_engine_properties import random_stream

ROOT = Path(__file__).resolve().parent.parent
SEEDS = (0, 1, 2)

CHILD = """
import hashlib, json, sys
sys.path.insert(0, sys.argv[1])
sys.path.insert(1, sys.argv[2])
import msgspec
from engine.tools.compiled import is_compiled
from engine.exchange import Exchange
from engine.naive_book import NaiveBook
from tests.test_engine_properties import build, random_stream
out = {"compiled": is_compiled()}
for seed in map(int, sys.argv[3:]):
    for name, factory in (("fast", None), ("naive", NaiveBook)):
        ex = Exchange() if factory is None else Exchange(factory)
        digest = hashlib.sha256()
        for cmd in build(random_stream(seed, 1500)):
            digest.update(msgspec.msgpack.encode(ex.apply(cmd)))
        ex._check()
        out[f"{seed}-{name}"] = [digest.hexdigest(), ex.state_hash()]
print(json.dumps(out))
"""


def interpreted(seed: int, factory: type | None) -> list[str]:
    ex = Exchange() if factory is None else Exchange(factory)
    digest = hashlib.sha256()
    for cmd in build_stream(random_stream(seed, 1500)):
        digest.update(msgspec.msgpack.encode(ex.apply(cmd)))
    return [digest.hexdigest(), ex.state_hash()]


def build() -> Path:
    """The build `make install` made (the same sources give the same directory), else a new
    one. Without a C compiler the tests skip, except in CI (``CI=true``), where they fail."""
    try:
        return build_core()
    except CompileError as exc:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"the compiled core cannot be built here (no C compiler?): {exc}")


def test_compiled_core_gives_identical_events() -> None:
    target = build()
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(target), str(ROOT), *map(str, SEEDS)],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    compiled = json.loads(result.stdout)
    assert compiled.pop("compiled") is True, "the child did not import the compiled modules"
    for seed in SEEDS:
        assert compiled[f"{seed}-fast"] == interpreted(seed, None)
        assert compiled[f"{seed}-naive"] == interpreted(seed, NaiveBook)


ACTIVATE = """
import sys
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from engine.tools.compiled import DEFAULT_ROOT, activate, core_name, core_note
root = DEFAULT_ROOT if sys.argv[2] == "default" else Path(sys.argv[2])
print(activate(root), core_name(), core_note())
"""


def activated(root: str, **env: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", ACTIVATE, str(ROOT), root], capture_output=True, text=True,
        timeout=120, cwd=ROOT, env={**os.environ, **env},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_serve_and_engine_choose_the_compiled_core_when_built(tmp_path: Path) -> None:
    """What `herbx serve` and `herbx engine` do first (`_choose_core`): the build of these
    sources runs when there is one; none, or ``HERBX_CORE=interpreted``, gives the interpreted
    core and a note saying why."""
    build()
    assert activated("default").startswith("True compiled compiled core (mypyc build ")
    empty = activated(str(tmp_path / "none"))
    assert empty.startswith("False interpreted interpreted core: no compiled build")
    forced = activated("default", HERBX_CORE="interpreted")
    assert forced == "False interpreted interpreted core (HERBX_CORE=interpreted)"
