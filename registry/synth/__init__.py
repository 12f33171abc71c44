"""Synthetic population for benchmarks (`registry synth`): no real data involved."""
