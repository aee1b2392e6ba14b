"""Benchmarks for JXC: a deterministic dataset generator and timed runs of the services.

Scripts, not tests: `python -m bench.run_all [--quick]` (or `make bench`) builds the
books it needs under bench/out/ (cached by size) and writes results there as JSON.
Results worth keeping are copied by hand into docs/BENCHMARKS.md.
"""
