"""Regulatory figures and reports: FRTB capital, BCBS 239 lineage, transaction reports."""
