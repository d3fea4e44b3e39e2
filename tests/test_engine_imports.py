"""House rule 1: the engine's core imports nothing that does I/O or reads the time.

The shell modules (sequencer, journal, snapshot files, scenario runner, demo, benchmarks) are
allowed I/O, and the core must never import them.
"""

from __future__ import annotations

import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parent.parent / "engine"
SHELL = {
    "journal", "snapshot", "sequencer", "scenario", "bench", "demo", "cli", "runtime", "compiled",
}
FORBIDDEN = {
    "asyncio", "aiohttp", "socket", "sqlite3", "asyncpg", "redis", "websockets", "time",
    "random", "uuid", "datetime", "os", "io", "pathlib", "subprocess", "threading",
    "multiprocessing", "secrets", "logging", "shutil", "tempfile", "select", "signal",
}


def core_modules() -> list[Path]:
    return [p for p in sorted(ENGINE.rglob("*.py")) if p.stem not in SHELL]


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_core_modules_exist() -> None:
    stems = {p.stem for p in core_modules()}
    assert {"exchange", "book", "accounts", "order", "messages", "state"} <= stems


def test_core_imports_no_io_clock_or_randomness() -> None:
    for path in core_modules():
        for name in imported(path):
            top = name.split(".")[0]
            assert top not in FORBIDDEN, f"{path.relative_to(ENGINE.parent)} imports {name}"
            if top == "engine":
                leaf = name.split(".")[-1]
                assert leaf not in SHELL, f"{path.name} imports the shell module {name}"
