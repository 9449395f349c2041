"""Benchmarks: each script prints its figures against a baseline run side by side in the same
process; ``python -m bench`` runs them all and prints one table."""
