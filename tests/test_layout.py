"""The layout's rules, checked by folder (the engine's own rules are in test_engine_imports.py).

- `gateway/api/` and `gateway/stream/` reach the pipeline and the multi-process link
  (`gateway/link/`) only through the Gateway state (`gateway.state.Gateway.submit`), never by
  importing them.
- `web/` reads the engine only through its message and view types.
- Domain code (`grading/`) imports no network.
- Nothing the market runs imports `loadtest/` (benchmarks, the watch client); the command line
  only dispatches to it.
- No module of gateway/ or web/ imports another module's private names.
- Reason code → HTTP status is one table (`gateway.api.refusals`): its keys are codes the engine
  or the lot lifecycle emits, every such code answers 4xx, and no other module keeps a table or
  rewrites a problem's status.
"""

from __future__ import annotations

import ast
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.api.refusals import REASON_STATUS, refusal
from grading.lifecycle import RefusalCode

ROOT = Path(__file__).resolve().parent.parent
FIRST_PARTY = {"engine", "gateway", "grading", "settlement", "web", "loadtest"}
NETWORK = {"aiohttp", "websockets", "redis", "asyncpg", "socket", "ssl", "http.client",
           "urllib.request", "requests"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(source: str, module: str, is_package: bool = False) -> Iterator[tuple[str, str]]:
    """(imported module, imported name or "") of every import, lazy ones inside functions
    included; relative imports are resolved against ``module``."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, ""
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = module.split(".") if is_package else module.split(".")[:-1]
                pkg = pkg[: len(pkg) - (node.level - 1)]
                base = ".".join([*pkg, base] if base else pkg)
            for alias in node.names:
                yield base, alias.name


def private_reaches(source: str) -> list[str]:
    """Private names of other first-party modules this source uses: ``from m import _x`` and
    ``m._x`` on a module it imported."""
    found = []
    modules: set[str] = set()
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in FIRST_PARTY:
                    modules.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in FIRST_PARTY:
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"from {node.module} import {alias.name}")
                modules.add(alias.asname or alias.name)  # maybe a module (from pkg import mod)
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in modules and node.attr.startswith("_")
                and not node.attr.startswith("__")):
            found.append(f"{node.value.id}.{node.attr}")
    return found


def files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def violations(folder: str, forbidden: typing.Callable[[str, str], bool]) -> list[str]:
    out = []
    for path in files(folder):
        mod = module_name(path)
        for imported, name in imports(path.read_text(encoding="utf-8"), mod,
                                      path.name == "__init__.py"):
            if forbidden(imported, name):
                out.append(f"{path.relative_to(ROOT)} imports {imported} {name}".rstrip())
    return out


def under(imported: str, name: str, prefix: str) -> bool:
    full = f"{imported}.{name}" if name else imported
    return any(x == prefix or x.startswith(prefix + ".") for x in (imported, full))


def test_the_folders_exist() -> None:
    for folder in ("gateway/api", "gateway/stream", "gateway/link", "gateway/demo", "web",
                   "loadtest/bench"):
        assert (ROOT / folder / "__init__.py").is_file(), folder
    assert (ROOT / "gateway/api/routes.py").is_file() and (ROOT / "gateway/stream/ws.py").is_file()


@pytest.mark.parametrize("folder", ["gateway/api", "gateway/stream"])
def test_api_and_stream_never_import_the_link(folder: str) -> None:
    assert violations(folder, lambda m, n: under(m, n, "gateway.link")) == []


def test_web_reads_the_engine_only_through_messages_and_views() -> None:
    allowed = ("engine.messages", "engine.views")

    def engine_internal(m: str, n: str) -> bool:
        full = f"{m}.{n}" if n else m
        return m.split(".")[0] == "engine" and not any(
            x == a or x.startswith(a + ".") for x in (m, full) for a in allowed)

    assert violations("web", engine_internal) == []


def test_domain_code_imports_no_network() -> None:
    assert violations("grading", lambda m, n: any(under(m, n, x) for x in NETWORK)) == []


@pytest.mark.parametrize("folder", ["gateway", "web", "grading", "settlement"])
def test_the_market_never_imports_the_tools(folder: str) -> None:
    found = violations(folder, lambda m, n: under(m, n, "loadtest"))
    assert [v for v in found if not v.startswith("gateway/cli.py ")] == []


@pytest.mark.parametrize("folder", ["gateway", "web"])
def test_no_module_reaches_into_private_names(folder: str) -> None:
    found = [f"{p.relative_to(ROOT)}: {x}" for p in files(folder)
             for x in private_reaches(p.read_text(encoding="utf-8"))]
    assert found == []


def test_the_checks_see_what_they_forbid() -> None:
    """The rules above would fail on a planted violation (so an empty list means something)."""
    src = ("def f():\n    from gateway.link.pipeline import Pipeline\n"
           "from engine import exchange\nimport socket\nx = exchange._handlers\n"
           "from gateway.api.http import _guard\nfrom . import pipeline\n")
    found = list(imports(src, "gateway.stream.ws"))
    assert ("gateway.link.pipeline", "Pipeline") in found
    assert ("gateway.stream", "pipeline") in found  # relative, resolved
    assert any(under(m, n, "socket") for m, n in found)
    assert sorted(private_reaches(src)) == ["exchange._handlers",
                                            "from gateway.api.http import _guard"]


# -- reason code → HTTP status ---------------------------------------------------------------

CODE_CALLS = {"_refuse", "_reject", "refuse", "reject"}


def _strings(node: ast.AST) -> Iterator[str]:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
            yield sub.value


def engine_reasons() -> set[str]:
    """Every reason code the engine can put in a refusal event, read from its source: the
    ``reason=`` of an event, a ``reason = "..."`` assignment, a refusal helper's arguments, a
    ``(reason, detail)`` returned by a check, and the typed codes (`engine.reasons.REFUSALS`)."""
    from engine.reasons import REFUSALS

    codes: set[str] = set(REFUSALS)
    for path in files("engine"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if path.stem == "reasons":
            continue
        for node in ast.walk(tree):
            reason_kw = isinstance(node, ast.keyword) and node.arg == "reason"
            reason_var = isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "reason" for t in node.targets)
            if reason_kw or reason_var:
                codes.update(_strings(node.value))
            elif isinstance(node, ast.Call):
                f = node.func
                name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
                if name in CODE_CALLS:
                    for arg in node.args:
                        codes.update(_strings(arg))
            elif isinstance(node, ast.Return) and isinstance(node.value, ast.Tuple):
                codes.update(s for e in node.value.elts for s in _strings(e)
                             if isinstance(e, ast.Constant | ast.IfExp))
    return {c for c in codes if c.replace("_", "").isalpha() and c.islower() and "_" in c}


LIFECYCLE = set(typing.get_args(RefusalCode))


def test_the_engine_reasons_are_found() -> None:
    assert {"insufficient_cash", "price_off_tick", "unknown_auction", "auction_has_bids",
            "duplicate_lot", "instrument_halted", "not_owner", "close_in_past"} <= engine_reasons()
    assert {"illegal_transition", "time_went_back"} <= LIFECYCLE


def test_the_status_table_has_no_unknown_keys() -> None:
    assert sorted(set(REASON_STATUS) - engine_reasons() - LIFECYCLE) == []
    assert all(400 <= status < 500 for status in REASON_STATUS.values())


def test_every_refusal_reason_answers_4xx_with_its_code() -> None:
    for code in sorted(engine_reasons() | LIFECYCLE):
        problem = refusal(code, "")
        assert 400 <= problem.status < 500, code
        assert problem.body().code == code and problem.body().detail


def test_one_table_no_status_rewritten_elsewhere() -> None:
    """No module but refusals.py maps reason codes to statuses or changes a problem's status."""
    reasons = engine_reasons() | LIFECYCLE
    for path in files("gateway") + files("web"):
        if path.name in ("refusals.py", "problems.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Dict):
                keys = {k.value for k in node.keys
                        if isinstance(k, ast.Constant) and isinstance(k.value, str)}
                assert not keys & reasons or not all(
                    isinstance(v, ast.Constant) and isinstance(v.value, int)
                    for v in node.values), f"{path.relative_to(ROOT)}: a reason → status table"
            if isinstance(node, ast.Assign | ast.AugAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                assert not any(isinstance(t, ast.Attribute) and t.attr == "status"
                               for t in targets), f"{path.relative_to(ROOT)} rewrites a status"
