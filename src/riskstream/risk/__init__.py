"""Risk measures: VaR, ES, liquidity-adjusted VaR, Euler allocation and the real-time risk
engine.
"""
