"""Benchmarks of Musrec: scripts, not tests. See docs/benchmarks.md for how to run them and their results."""
