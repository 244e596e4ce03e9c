"""AML and trade-surveillance models with threshold tuning."""
