"""Benchmarks of hexcast's hot paths on a synthetic, realistically clustered population.

Run them from the repository root, e.g. `python -m bench.selection --devices 1000000`.
"""
