"""Data of the demo market: participants, fair prices, realistic assays. Data, not code.

Assays are in the ranges labs report for lots of each herb (the grading tests use the same
figures, tests/grading/grading_data.py); fair prices are wholesale VND per kg of grade A in
Lào Cai in 2026, rough and for the demo only; grades B and C trade at fixed discounts.
"""

from __future__ import annotations

# spec id -> fair price of grade A, VND per kg (demo figures)
FAIR_A_VND: dict[str, int] = {
    "QUE-BARK": 62_000, "QUE-OIL": 1_050_000, "TAMTHAT-ROOT": 1_600_000,
    "ATISO-LEAF": 85_000, "DUONGQUY-ROOT": 180_000, "SANHAN-FRUIT": 350_000,
    "CATCANH-ROOT": 120_000, "THAOQUA-FRUIT": 230_000,
}
GRADE_DISCOUNT_PCT = {"A": 100, "B": 78, "C": 60}

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
# changes that drop an A lot into band B, and into C
GRADE_CHANGES: dict[str, dict[str, dict[str, str]]] = {
    "B": {
        "QUE-BARK": {"essential_oil_pct": "2.9", "cinnamaldehyde_pct": "2.2"},
        "QUE-OIL": {"cinnamaldehyde_pct": "82.0"},
        "TAMTHAT-ROOT": {"saponins_pct": "7.0"},
        "DUONGQUY-ROOT": {"ferulic_acid_pct": "0.081"},
        "CATCANH-ROOT": {"platycodin_d_pct": "0.18"},
        "SANHAN-FRUIT": {"essential_oil_pct": "3.6", "bornyl_acetate_pct": "1.3"},
        "ATISO-LEAF": {"chlorogenic_acid_pct": "1.2"},
        "THAOQUA-FRUIT": {"essential_oil_pct": "2.2"},
    },
    "C": {
        "QUE-BARK": {"essential_oil_pct": "1.9", "cinnamaldehyde_pct": "1.6"},
        "QUE-OIL": {"cinnamaldehyde_pct": "76.4"},
        "TAMTHAT-ROOT": {"saponins_pct": "5.4"},
        "DUONGQUY-ROOT": {"ferulic_acid_pct": "0.052"},
        "CATCANH-ROOT": {"platycodin_d_pct": "0.11"},
        "SANHAN-FRUIT": {"essential_oil_pct": "3.1", "bornyl_acetate_pct": "0.95"},
        "ATISO-LEAF": {"chlorogenic_acid_pct": "0.85"},
        "THAOQUA-FRUIT": {"essential_oil_pct": "1.5"},
    },
}
CLEAN_PANEL: dict[str, str] = {
    "pb_mg_kg": "0.42", "cd_mg_kg": "0.05", "as_mg_kg": "0.11", "hg_mg_kg": "0.01",
    "cu_mg_kg": "4.8", "aflatoxin_b1_ug_kg": "0.5", "aflatoxin_total_ug_kg": "1.1",
    "so2_mg_kg": "5",
}

# id, name, registration number, commune, growing-area code
COOPERATIVES = [
    ("HTX-VANBAN", "HTX Quế Văn Bàn", 1, "Xã Dương Quỳ", "LC-VB-QUE-0012"),
    ("HTX-BATXAT", "HTX Dược liệu Bát Xát", 2, "Xã Y Tý", "LC-BX-DL-0031"),
    ("HTX-BACHA", "HTX Nông sản Bắc Hà", 3, "Xã Tả Van Chư", "LC-BH-DL-0007"),
    ("HTX-SAPA", "HTX Atisô Sa Pa", 4, "Xã Tả Phìn", "LC-SP-AT-0019"),
    ("HTX-BAOYEN", "HTX Quế Bảo Yên", 5, "Xã Xuân Thượng", "LC-BY-QUE-0044"),
]
TRADERS = [
    ("T01", "Công ty CP Dược phẩm Traphaco"), ("T02", "OPC Pharma"),
    ("T03", "Tuệ Linh JSC"), ("T04", "Hanoi Herbal Export Co."),
    ("T05", "Nam Dược"), ("T06", "Vinacinnamon Export"),
    ("T07", "Saigon Spice Trading"), ("T08", "Bảo Long Đường"),
    ("T09", "Lào Cai Herb Wholesale"), ("T10", "EuroHerb Import GmbH"),
]
MAKER = ("MM-01", "HerbX liquidity provider (demo bot)")
LAB = ("LAB-LC", "Trung tâm Kiểm nghiệm Lào Cai")
ANALYST = ("FUND-01", "Quỹ bảo hiểm giá quế (analyst)")
