"""An optional compiled build of the engine core with mypyc, for speed.

An I/O-shell module (it copies files and runs the compiler); the core never imports it.

The core modules are strictly typed, so mypyc (part of mypy, a dev dependency) can compile
them to C extensions without any change to the source: the same code, about 1.4 times faster
(`herbx bench engine` against `herbx bench engine --compiled`).
The build never touches the source tree: `build` copies `engine/` into
``build/mypyc/<hash of the engine sources>/engine/``, compiles `COMPILED` there, and returns
the directory to put first on ``sys.path``. A later build with unchanged sources reuses it;
any change to the sources gives a new directory, so a stale compiled module can never shadow
an edited one.

`make install` builds it (``python -m engine.tools.compiled``; about half a minute, skipped with
one line when there is no C compiler), never the first request. `herbx serve` and `herbx
engine` call `activate` before anything imports the core: the build of the current sources
runs when there is one, otherwise the interpreted core does, and `core_note` is the one log
line that says which and why (``HERBX_CORE=interpreted`` asks for the interpreted one).
`tests/test_engine_compiled.py` proves the build gives byte-identical events and state hashes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ENGINE = Path(__file__).resolve().parent.parent  # the engine package, tools included
# not `dvp`: compiled, its settlements snapshot differently (the state hash of
# tests/test_engine_compiled.py differs, the events do not), and it measured no faster
COMPILED = ("order", "book", "naive_book", "accounts", "instruments", "risk", "fills", "exchange")
DEFAULT_ROOT = ENGINE.parent / "build" / "mypyc"


class CompileError(RuntimeError):
    """mypyc failed; the message carries its output."""


def source_hash() -> str:
    digest = hashlib.sha256()
    for path in sorted(ENGINE.rglob("*.py")) + sorted(ENGINE.rglob("*.toml")):
        digest.update(str(path.relative_to(ENGINE)).encode())
        digest.update(path.read_bytes())
    digest.update(sys.version.encode())
    return digest.hexdigest()[:16]


def build(root: Path = DEFAULT_ROOT) -> Path:
    """Compile the core (or reuse an earlier build of the same sources); return the directory
    to put first on ``sys.path``."""
    target = root / source_hash()
    if (target / ".built").exists():
        return target
    work = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(ENGINE, work / "engine",
                    ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.c"))
    result = subprocess.run(
        [sys.executable, "-m", "mypyc", *(f"engine/{m}.py" for m in COMPILED)],
        cwd=work, capture_output=True, text=True, timeout=900,
    )
    if result.returncode != 0:
        shutil.rmtree(work, ignore_errors=True)
        raise CompileError(f"mypyc failed:\n{result.stdout}\n{result.stderr}")
    shutil.rmtree(work / "build", ignore_errors=True)
    shutil.rmtree(work / ".mypy_cache", ignore_errors=True)
    (work / ".built").write_text("\n".join(COMPILED) + "\n")
    try:
        work.rename(target)
    except OSError:  # another process built the same sources first
        shutil.rmtree(work, ignore_errors=True)
    for old in root.iterdir():  # builds of earlier sources are of no further use
        if old != target and not old.name.endswith(".tmp"):
            shutil.rmtree(old, ignore_errors=True)
    return target


_NOTE = "interpreted core (activate was not called)"


def activate(root: Path = DEFAULT_ROOT) -> bool:
    """Run the compiled core of the current sources in this process, if it was built; True
    when it runs. Call it before anything imports the core (the command line does)."""
    global _NOTE
    if os.environ.get("HERBX_CORE", "").lower() == "interpreted":
        _NOTE = "interpreted core (HERBX_CORE=interpreted)"
        return False
    if "engine.exchange" in sys.modules:  # a bug of the caller: too late to choose
        _NOTE = "interpreted core (it was imported before the compiled one could be chosen)"
        return is_compiled()
    target = root / source_hash()
    if not (target / ".built").exists():
        _NOTE = (f"interpreted core: no compiled build of these sources in {root} (make install "
                 "builds it when a C compiler is present)")
        return False
    import engine

    sys.path.insert(0, str(target))  # the shared library of the compiled modules
    engine.__path__.insert(0, str(target / "engine"))  # the package is already imported
    try:
        import engine.exchange  # noqa: F401
    except ImportError as exc:  # e.g. a build for another platform copied in: fall back
        sys.path.remove(str(target))
        engine.__path__.remove(str(target / "engine"))
        for name in [m for m in sys.modules if m.startswith("engine.")]:
            if not name.startswith("engine.tools"):
                del sys.modules[name]
        _NOTE = f"interpreted core: the compiled build in {target} did not load ({exc})"
        return False
    _NOTE = f"compiled core (mypyc build {target.name})"
    return True


def core_note() -> str:
    """One line for the log: which core this process runs, and why not the compiled one."""
    return _NOTE


def core_name() -> str:
    """``compiled`` or ``interpreted``: what this process runs (the health endpoint's
    ``core``)."""
    return "compiled" if is_compiled() else "interpreted"


def is_compiled() -> bool:
    """True when this process runs the compiled core."""
    import engine.exchange

    return not str(engine.exchange.__file__).endswith(".py")


def main() -> int:
    """``python -m engine.tools.compiled``: build the core for `make install`. No C compiler, or
    a failed build, is one line and exit status 0: the interpreted core then runs."""
    try:
        target = build()
    except (CompileError, OSError, subprocess.SubprocessError) as exc:
        first = str(exc).strip().splitlines()
        print(f"compiled core not built, the interpreted core will run: "
              f"{first[0] if first else type(exc).__name__}", file=sys.stderr)
        print(str(exc), file=sys.stderr)
        return 0
    print(f"compiled core: {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
