"""riskstream universe (being built)."""
