"""riskstream simulate (being built)."""
