"""The auditable reporting pipeline: core-banking extraction, dbt transforms, Dagster assets,
and the transaction reports regulators receive (MiFIR RTS 22, CFTC Parts 43/45)."""
