"""Measuring generators: Table 1 (evaluate; `python -m catgan.eval`), FID, KID, near-copies and
cat-rates (metrics), the FID Inception (inception), and the results table's schema (results)."""
