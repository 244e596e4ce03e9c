"""Stress tests: historical, reverse, sensitivity, liquidity and climate scenarios."""
