"""Grading and traceability: herb catalogue, assays to grades, lots, trace codes.

Pure domain code that the engine and the gateway call; see docs/grading.md. The stable API:

- `grading.catalogue.load_catalogue()` → `Catalogue` (validated specs, `SpecError` if broken)
- `grading.assay.grade_lot(spec, results, destination)` → `GradeDecision`
- `grading.valuation.price_per_kg_active` / `price_per_kg_herb`
- `grading.instruments.instrument_symbol(herb, product, grade)`, `instruments(catalogue)`
- `grading.lifecycle.register_lot(...)`, `apply(lot, command)` → `Accepted | Refused`
- `grading.trace.trace_url(config, gtin, lot)`, `lot_trace_url`, `parse_trace_url`
- `grading.epcis.epcis_document(lot, lot_uri, creation_date)` / `epcis_json`
- `grading.qr.qr_svg`, `qr_png`, `label_svg`, `label_info`

Only `catalogue` reads files; nothing here reads the clock.
"""
