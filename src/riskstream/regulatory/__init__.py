"""Regulatory figures and reports: FRTB, BCBS 239 lineage, transaction reporting."""
