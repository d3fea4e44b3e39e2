"""The benchmarks (`herbx bench <part>`): seeded workloads that print figures, the last line one
JSON object. Results, with the machine they ran on, go to docs/benchmarks.md."""
