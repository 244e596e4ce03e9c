-- The business date's MiFIR transaction-report rows (RTS 22): a NEWT for each equity trade
-- executed that day, a CANC for each cancellation made that day. Swaps go to the CFTC
-- reports (cftc_swaps). Columns are those of `riskstream report mifir --trades`.
select
  trade_id, status as report_status, executing_entity_lei, buyer_lei, seller_lei,
  executed_at_text as trade_time, isin, quantity, price, price_currency, venue_mic,
  capacity as trading_capacity, cfi, decision_maker as investment_decision,
  event_date as business_date
from {{ ref('trades_enriched') }}
where asset_class = 'equity'
  and event_date = cast('{{ var("business_date") }}' as date)
