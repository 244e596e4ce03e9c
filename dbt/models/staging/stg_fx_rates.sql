-- FX rates landed from the market stream (the FX aggregation's fx_rates table): USD per
-- unit of each currency, per day.
select day, currency, usd_per_unit from {{ source('landing', 'raw_fx_rates') }}
