"""Lots as the gateway shows them: a read model over the engine's lot records.

Owns nothing of its own. Every lot record, its grade, state, custody and sales live in the
engine (`engine.lots.LotBook`, changed only by journaled commands); this module reads them from
the live exchange, or from the replica a multi-process gateway rebuilds from the journal
stream, so every gateway and every restart (snapshot + replay) shows the same lots. A data
directory holding the old registry file (``gateway/lots.json``) is refused at start-up
(`refuse_legacy_registry`): its records were never journaled, so they cannot be trusted.

Must never change a lot (handlers submit commands), keep a copy, or read the clock.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.lots import grade_symbol
from grading.lot import Lot

LEGACY_REGISTRY = Path("gateway") / "lots.json"


class LegacyLotRegistry(RuntimeError):
    """The data directory holds a lot registry written outside the journal."""


def refuse_legacy_registry(data_dir: Path) -> None:
    path = data_dir / LEGACY_REGISTRY
    if path.exists():
        raise LegacyLotRegistry(
            f"{path} holds lot records kept outside the journal by an older HerbX; lots now "
            "live in the engine's journal only. Re-register those lots through the API (or "
            "the demo), then move the file away; the market will not start while it is there.")


class LotViews:
    """Read-only views of the engine's recorded lots (``exchange_of`` gives the exchange)."""

    def __init__(self, exchange_of: Callable[[], Any]) -> None:
        self._exchange_of = exchange_of

    def _records(self) -> dict[str, Any]:
        records: dict[str, Any] = self._exchange_of().lot_book.records
        return records

    @property
    def lots(self) -> dict[str, Lot]:
        """Every recorded lot by id, in registration order."""
        return {lot_id: r.record for lot_id, r in self._records().items()}

    def get(self, lot_id: str) -> Lot | None:
        rec = self._records().get(lot_id)
        return None if rec is None else rec.record

    def custody(self, lot_id: str) -> Any:
        """The engine's `engine.lots.LotCustody` of the lot (read only)."""
        return self._records()[lot_id]

    def symbol_of(self, lot: Lot) -> str | None:
        """The instrument of the lot's current grade, by the engine's own rule."""
        return grade_symbol(lot)
