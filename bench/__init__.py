"""Benchmarks (not part of the bot; run by hand, see bench/README.md)."""
