"""The layout's import rules, checked by folder (house rule 1 and the issue 10 layout).

- The core (``engine/*.py`` and ``engine/auctions/``) imports nothing that does I/O, reads the
  clock or draws random numbers, and nothing from the durable shell (``engine/durable/``), the
  tools (``engine/tools/``), the gateway or the load tools.
- The durable shell imports nothing from the gateway.
- No module of the repository uses a private name (leading underscore) of another module:
  neither ``from x import _y`` nor ``x._y`` on an imported module.
- The engine's modules import each other without a cycle, imports under ``TYPE_CHECKING`` and
  inside functions included.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENGINE = ROOT / "engine"
SHELL_FOLDERS = ("durable", "tools")
PACKAGES = ("engine", "gateway", "grading", "settlement", "loadtest", "web", "tests")
FORBIDDEN = {
    "asyncio", "aiohttp", "socket", "sqlite3", "asyncpg", "redis", "websockets", "time",
    "random", "uuid", "datetime", "os", "io", "pathlib", "subprocess", "threading",
    "multiprocessing", "secrets", "logging", "shutil", "tempfile", "select", "signal",
}
NOT_FOR_THE_CORE = ("engine.durable", "engine.tools", "gateway", "loadtest")


def core_modules() -> list[Path]:
    """Every module of the core, found by folder: the engine package minus its shell folders."""
    return [
        p for p in sorted(ENGINE.rglob("*.py"))
        if p.relative_to(ENGINE).parts[0] not in SHELL_FOLDERS
    ]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def imported(path: Path) -> set[str]:
    """Every module ``path`` imports, anywhere in the file (``TYPE_CHECKING`` blocks and
    function bodies included); ``from package import module`` counts as that module."""
    names: set[str] = set()
    package = module_name(path)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            names.add(base)
            for alias in node.names:
                if is_module(f"{base}.{alias.name}"):
                    names.add(f"{base}.{alias.name}")
    return names


def repo_modules() -> list[Path]:
    out: list[Path] = []
    for package in PACKAGES:
        if (ROOT / package).is_dir():
            out.extend(sorted((ROOT / package).rglob("*.py")))
    return out


def test_core_modules_exist() -> None:
    names = {module_name(p) for p in core_modules()}
    assert {"engine.exchange", "engine.book", "engine.accounts", "engine.order",
            "engine.messages", "engine.state", "engine.auctions.call"} <= names
    assert not any(n.startswith(("engine.durable", "engine.tools")) for n in names)


def test_core_imports_no_io_clock_or_randomness() -> None:
    for path in core_modules():
        for name in imported(path):
            top = name.split(".")[0]
            where = path.relative_to(ROOT)
            assert top not in FORBIDDEN, f"{where} imports {name}"
            assert not name.startswith(NOT_FOR_THE_CORE), f"{where} imports {name}"


def test_durable_shell_imports_no_gateway() -> None:
    for path in sorted((ENGINE / "durable").rglob("*.py")):
        for name in imported(path):
            assert not name.startswith(("gateway", "loadtest", "engine.tools")), (
                f"{path.relative_to(ROOT)} imports {name}"
            )


def private_uses(source: str, own: str) -> list[str]:
    """``from x import _y`` and ``x._y`` (``x`` a module of this repository bound by an import)
    in ``source``; dunders are not private. ``own`` is the module's own name."""
    tree = ast.parse(source)
    found: list[str] = []
    aliases: dict[str, str] = {}  # local name -> module it is bound to
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in PACKAGES:
                    aliases[alias.asname or alias.name.split(".")[0]] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] not in PACKAGES or node.module == own:
                continue
            for alias in node.names:
                name = alias.name
                if name.startswith("_") and not name.endswith("__"):
                    found.append(f"from {node.module} import {name}")
                elif is_module(f"{node.module}.{name}"):
                    aliases[alias.asname or name] = f"{node.module}.{name}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            if node.attr.endswith("__"):
                continue
            target = node.value
            dotted: list[str] = []
            while isinstance(target, ast.Attribute):
                dotted.insert(0, target.attr)
                target = target.value
            if isinstance(target, ast.Name) and target.id in aliases:
                found.append(".".join([aliases[target.id], *dotted, node.attr]))
    return found


def test_private_use_detector_catches_both_forms() -> None:
    source = (
        "import engine.exchange as ex\nfrom engine import book\n"
        "from engine.order import _hidden\nex._handlers\nbook._secret\nbook.Book\n"
        "ex.__name__\n"
    )
    assert private_uses(source, "tests.sample") == [
        "from engine.order import _hidden", "engine.exchange._handlers", "engine.book._secret",
    ]


def test_no_module_uses_another_modules_private_names() -> None:
    offenders = []
    for path in repo_modules():
        uses = private_uses(path.read_text(encoding="utf-8"), module_name(path))
        offenders.extend(f"{path.relative_to(ROOT)}: {use}" for use in uses)
    assert not offenders, "\n".join(offenders)


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (module -> modules it imports), or None."""
    done: set[str] = set()

    def visit(node: str, stack: list[str]) -> list[str] | None:
        if node in stack:
            return [*stack[stack.index(node):], node]
        if node in done:
            return None
        for dep in sorted(graph.get(node, ())):
            cycle = visit(dep, [*stack, node])
            if cycle:
                return cycle
        done.add(node)
        return None

    for node in sorted(graph):
        cycle = visit(node, [])
        if cycle:
            return cycle
    return None


def test_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_among_engine_modules() -> None:
    graph: dict[str, set[str]] = {}
    for path in sorted(ENGINE.rglob("*.py")):
        name = module_name(path)
        graph[name] = {
            i for i in imported(path) if i.startswith("engine") and i != name and is_module(i)
        }
    # a package's __init__ re-exporting its own modules is not a cycle with them: a module of
    # the package importing a sibling by name does not run through the __init__'s imports
    for name, deps in graph.items():
        graph[name] = {d for d in deps if not name.startswith(d + ".")}
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])
