"""A specification as a quality officer reads it: Markdown tables of every figure.

Owns: rendering a `HerbSpec` (limits with unit, basis, source and verification; grade bands;
physical classes; the documents cited) and a contaminant profile as Markdown. docs/grading.md
carries these tables verbatim and a test keeps them equal, so the documentation can never show
a figure, basis or verification the TOML does not hold. Every figure that no checked source
confirms is marked **unverified** wherever a spec is shown. Pure: returns text, prints nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from grading.spec import HerbSpec, ParamSpec

UNVERIFIED = "**unverified**"
VERIFIED = "verified"
_BASIS = {"as_is": "as is", "dried": "dried"}


def _status(verified: bool) -> str:
    return VERIFIED if verified else UNVERIFIED


def _src(key: str | None) -> str:
    return "—" if key is None else f"`{key}`"


def _bounds(lo: Decimal | None, hi: Decimal | None, unit: str) -> str:
    parts = []
    if lo is not None:
        parts.append(f"≥ {lo} {unit}")
    if hi is not None:
        parts.append(f"≤ {hi} {unit}")
    return ", ".join(parts) or "—"


def _limit_rows(params: Iterable[ParamSpec]) -> list[str]:
    rows = []
    for p in params:
        if p.kind == "physical" and p.min is None and p.max is None:
            continue
        basis = "—" if p.basis is None else _BASIS[p.basis]
        note = f" ({p.note})" if p.note else ""
        rows.append(f"| `{p.name}` {p.label} | {_bounds(p.min, p.max, p.unit)} | {basis} | "
                    f"{_src(p.source)} | {_status(p.verified)}{note} |")
    return rows


def spec_markdown(spec: HerbSpec) -> str:
    """The spec's own figures (limits, bands, physical classes) and the documents cited."""
    params = spec.parameters
    out = [
        f"#### {spec.id} — {spec.name_vi} (*{spec.name_latin}*)",
        "",
        "| parameter | limit | basis | source | status |",
        "|---|---|---|---|---|",
        *_limit_rows(params.values()),
        "",
        "| grade | conditions (each on its parameter's basis) | source | status |",
        "|---|---|---|---|",
    ]
    for b in spec.grades:
        conds = [f"`{n}` ≥ {v} {params[n].unit}" for n, v in b.min.items()]
        conds += [f"`{n}` ≤ {v} {params[n].unit}" for n, v in b.max.items()]
        if not conds:
            out.append(f"| {b.grade} | passes every limit | — | — |")
            continue
        note = f" ({b.note})" if b.note else ""
        out.append(f"| {b.grade} | {', '.join(conds)} | {_src(b.source)} | "
                   f"{_status(b.verified)}{note} |")
    if spec.physical is not None:
        unit = params[spec.physical.parameter].unit
        out += ["", f"| class (`{spec.physical.parameter}`, first match) | range | source | "
                "status |", "|---|---|---|---|"]
        for c in spec.physical.classes:
            note = f" ({c.note})" if c.note else ""
            edges = "rest" if c.min is None and c.max is None else _bounds(c.min, c.max, unit)
            out.append(f"| {c.name} | {edges} | {_src(c.source)} | "
                       f"{_status(c.verified)}{note} |")
    own = [k for k in spec.sources if not any(
        p.source == k for lims in spec.contaminants.values() for p in lims.values())]
    out += ["", f"Water content for the basis conversion: "
            f"{'—' if spec.moisture is None else f'`{spec.moisture}`'}.", "", "Sources:", ""]
    out += [f"- `{k}`: {spec.sources[k]}" for k in own]
    return "\n".join(out) + "\n"


def contaminants_markdown(spec: HerbSpec) -> str:
    """The contaminant limits of ``spec``'s profile, one row per contaminant and
    destination, with the documents they cite."""
    out = [
        f"#### Contaminant profile `{spec.contaminant_profile}`",
        "",
        "| contaminant | destination | limit | basis | source | status |",
        "|---|---|---|---|---|---|",
    ]
    cited: list[str] = []
    for dest, lims in spec.contaminants.items():
        for p in lims.values():
            note = f" ({p.note})" if p.note else ""
            out.append(f"| `{p.name}` {p.label} | {dest} | {_bounds(None, p.max, p.unit)} | "
                       f"{_BASIS[p.basis or 'as_is']} | {_src(p.source)} | "
                       f"{_status(p.verified)}{note} |")
            if p.source is not None and p.source not in cited:
                cited.append(p.source)
    out += ["", "Sources:", ""]
    out += [f"- `{k}`: {spec.sources[k]}" for k in cited] or ["- none: every figure is "
                                                            "chosen by analogy"]
    return "\n".join(out) + "\n"
