"""Grading and traceability: herb catalogue, assays to grades, lots, trace codes (issue 3)."""
