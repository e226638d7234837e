"""Analyses over the IR: cost and memory, folded into a per-layer summary."""
