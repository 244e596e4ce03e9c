"""Riskstream: real-time, liquidity-adjusted market risk for multi-asset portfolios."""

__version__ = "0.1.0"
