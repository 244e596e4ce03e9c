"""Market-regime detectors and their ensemble."""
