"""The Dagster code location (``dagster dev -m riskstream.regulatory.reporting.definitions``;
``riskstream pipeline up`` starts it): the pipeline's definitions, built from the
``RISKSTREAM_REPORTING_*`` settings."""

from riskstream.regulatory.reporting.assets import build_definitions

defs = build_definitions()
