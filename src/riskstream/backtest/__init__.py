"""VaR and ES backtests, rolling model validation, P&L attribution and drift monitoring."""
