"""Sample assays of every herb in the catalogue: what a lab reports for a typical lot of each
grade. Data for the demo market and the tests (values are decimals as strings, as labs send
them); not used for any decision.
"""

from __future__ import annotations

# Grade-A assays, in the ranges labs report for good lots of each herb.
GRADE_A: dict[str, dict[str, str]] = {
    "QUE-BARK": {"essential_oil_pct": "3.8", "cinnamaldehyde_pct": "2.91",
                 "moisture_pct": "12.1", "total_ash_pct": "3.2", "thickness_mm": "3.4"},
    "QUE-OIL": {"cinnamaldehyde_pct": "87.6"},
    "TAMTHAT-ROOT": {"saponins_pct": "9.12", "moisture_pct": "11.8", "total_ash_pct": "4.1",
                     "acid_insoluble_ash_pct": "1.2", "roots_per_500g": "28"},
    "DUONGQUY-ROOT": {"ferulic_acid_pct": "0.118", "essential_oil_pct": "0.7",
                      "moisture_pct": "12.5", "total_ash_pct": "5.1",
                      "acid_insoluble_ash_pct": "0.9"},
    "CATCANH-ROOT": {"platycodin_d_pct": "0.31", "loss_on_drying_pct": "11.4",
                     "total_ash_pct": "4.2"},
    "SANHAN-FRUIT": {"essential_oil_pct": "4.3", "bornyl_acetate_pct": "1.72",
                     "moisture_pct": "12.0"},
    "ATISO-LEAF": {"chlorogenic_acid_pct": "1.8", "loss_on_drying_pct": "9.5",
                   "total_ash_pct": "13.0"},
    "THAOQUA-FRUIT": {"essential_oil_pct": "2.8", "moisture_pct": "11.0",
                      "total_ash_pct": "5.5"},
}
# Changes that drop an A lot into band B, and into the catch-all band C.
GRADE_B: dict[str, dict[str, str]] = {
    "QUE-BARK": {"essential_oil_pct": "2.9", "cinnamaldehyde_pct": "2.2"},
    "QUE-OIL": {"cinnamaldehyde_pct": "82.0"},
    "TAMTHAT-ROOT": {"saponins_pct": "7.0"},
    "DUONGQUY-ROOT": {"ferulic_acid_pct": "0.081"},
    "CATCANH-ROOT": {"platycodin_d_pct": "0.18"},
    "SANHAN-FRUIT": {"essential_oil_pct": "3.6", "bornyl_acetate_pct": "1.3"},
    "ATISO-LEAF": {"chlorogenic_acid_pct": "1.2"},
    "THAOQUA-FRUIT": {"essential_oil_pct": "2.2"},
}
GRADE_C: dict[str, dict[str, str]] = {
    "QUE-BARK": {"essential_oil_pct": "1.9", "cinnamaldehyde_pct": "1.6"},
    "QUE-OIL": {"cinnamaldehyde_pct": "76.4"},
    "TAMTHAT-ROOT": {"saponins_pct": "5.4"},
    "DUONGQUY-ROOT": {"ferulic_acid_pct": "0.052"},
    "CATCANH-ROOT": {"platycodin_d_pct": "0.11"},
    "SANHAN-FRUIT": {"essential_oil_pct": "3.1", "bornyl_acetate_pct": "0.95"},
    "ATISO-LEAF": {"chlorogenic_acid_pct": "0.85"},
    "THAOQUA-FRUIT": {"essential_oil_pct": "1.5"},
}
# A clean heavy-metal, mycotoxin and SO2 panel (passes every destination).
CLEAN: dict[str, str] = {
    "pb_mg_kg": "0.42", "cd_mg_kg": "0.05", "as_mg_kg": "0.11", "hg_mg_kg": "0.01",
    "cu_mg_kg": "4.8", "aflatoxin_b1_ug_kg": "0.5", "aflatoxin_total_ug_kg": "1.1",
    "so2_mg_kg": "5",
}


def sample_results(spec_id: str, grade: str) -> dict[str, str]:
    """The grading parameters of a typical lot that grades ``grade`` ("A", "B" or "C") under
    ``spec_id`` (add the contaminants the spec lists from `CLEAN`)."""
    changes = {"A": {}, "B": GRADE_B, "C": GRADE_C}[grade]
    return {**GRADE_A[spec_id], **changes.get(spec_id, {})}
