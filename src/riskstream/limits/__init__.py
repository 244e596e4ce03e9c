"""Limits, kill switches and circuit breakers, automatic position reduction, risk budgets and
sizing (exchange margin, which the risk engine needs for funding liquidity, is
:mod:`riskstream.risk.margin`)."""
