-- The business date's swap events for CFTC Part 43 (public dissemination) and Part 45
-- (regulatory records): the bank is reporting counterparty (counterparty 1).
select
  trade_id, status, executed_at_text as execution_timestamp, trade_date,
  cast(quantity as double precision) as notional, price_currency as notional_currency,
  cast(price as double precision) as fixed_rate_pct, tenor_years, isin, cfi,
  executing_entity_lei as counterparty_1,
  case when buyer_lei = executing_entity_lei then seller_lei else buyer_lei end as counterparty_2,
  side, venue_mic, event_date as business_date
from {{ ref('trades_enriched') }}
where asset_class = 'swap'
  and event_date = cast('{{ var("business_date") }}' as date)
