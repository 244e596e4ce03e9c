"""Portfolio optimisation and hedging."""
