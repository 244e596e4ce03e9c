"""Market data: sequencing and validation, order books, microstructure features, market state."""
