"""Regulatory capital and governance: FRTB (Basel MAR) capital and BCBS 239 lineage.

``riskstream.regulatory.ima`` holds the internal models approach (MAR31-33);
:mod:`~riskstream.regulatory.lineage`, :mod:`~riskstream.regulatory.data_quality` and
:mod:`~riskstream.regulatory.reconciliation` the BCBS 239 parts (lineage of every reported
figure, data-quality KPIs, reconciliation of aggregates against the books).
"""
