"""Regulatory capital and reporting: FRTB (the Basel MAR standard), BCBS 239 lineage,
transaction and regulatory reports."""
