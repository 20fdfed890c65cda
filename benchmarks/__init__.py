"""Benchmarks of billing-reports: fetch efficiency, build time and memory, a DuckDB yardstick.

Run ``python -m benchmarks run --quick`` (or without ``--quick`` for 100k, 1M and 5M events);
see the README's "Benchmarks" section. Not installed with the package: a development tool.
"""
