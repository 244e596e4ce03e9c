"""Limits, kill switches, automatic position reduction, risk budgets, sizing and margin."""
