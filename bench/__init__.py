"""Benchmarks (not tests): `make bench`. Numbers go to docs/performance.md."""
