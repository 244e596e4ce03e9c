"""Scenario models: volatility (EWMA, GARCH), correlation (EWMA, DCC), copulas, scenario
generators.
"""
