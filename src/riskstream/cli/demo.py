"""riskstream demo (being built)."""
