"""The herb catalogue: every grade specification, loaded and validated at start-up.

Owns: reading ``grading/specs/contaminants.toml`` and ``grading/specs/herbs/*.toml`` (the only
file I/O in `grading`), checking catalogue-wide rules (unique spec ids and GTIN item numbers)
and looking specs up. A broken file stops start-up with a `SpecError` naming file and field;
a market must never open with a spec it only half understood.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path

from grading.spec import HerbSpec, SpecError, validate_contaminants, validate_spec

SPECS_DIR = Path(__file__).parent / "specs"


class Catalogue:
    """Immutable after construction; specs are kept in file-name order (deterministic)."""

    def __init__(self, specs: list[HerbSpec]) -> None:
        self._by_id: dict[str, HerbSpec] = {}
        items: dict[int, str] = {}
        for s in specs:
            if s.id in self._by_id:
                raise SpecError(s.file, "code", f"spec id {s.id} is also defined in "
                                f"{self._by_id[s.id].file}")
            if s.gtin_item in items:
                raise SpecError(s.file, "gtin_item", f"item number {s.gtin_item} is also used "
                                f"by {items[s.gtin_item]}")
            self._by_id[s.id] = s
            items[s.gtin_item] = s.id

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[HerbSpec]:
        return iter(self._by_id.values())

    def __contains__(self, spec_id: object) -> bool:
        return spec_id in self._by_id

    def get(self, spec_id: str) -> HerbSpec:
        """The spec with id ``CODE-PRODUCT`` (e.g. ``QUE-BARK``); `KeyError` if unknown."""
        try:
            return self._by_id[spec_id]
        except KeyError:
            raise KeyError(f"no herb spec {spec_id!r}; known: {', '.join(self._by_id)}") from None

    def by_code(self, code: str) -> list[HerbSpec]:
        """All products of one species code (``QUE`` → bark and oil)."""
        return [s for s in self._by_id.values() if s.code == code]


def _read_toml(path: Path, name: str) -> dict[str, object]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(name, "$", f"not valid TOML: {exc}") from None


def load_catalogue(specs_dir: Path | None = None) -> Catalogue:
    """Load and validate every spec under ``specs_dir`` (default: the packaged specs)."""
    root = SPECS_DIR if specs_dir is None else Path(specs_dir)
    contaminants = validate_contaminants(
        _read_toml(root / "contaminants.toml", "contaminants.toml"), "contaminants.toml"
    )
    files = sorted((root / "herbs").glob("*.toml"))
    if not files:
        raise SpecError(str(root / "herbs"), "$", "no herb specification files")
    specs = [
        validate_spec(_read_toml(p, f"herbs/{p.name}"), f"herbs/{p.name}", contaminants)
        for p in files
    ]
    return Catalogue(specs)
