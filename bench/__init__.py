"""Benchmarks of the CSMS: `python bench/station_load.py --help` (see bench/README.md)."""
