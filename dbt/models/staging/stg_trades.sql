-- Each trade's versions (a NEWT, later perhaps a CANC), minus quarantined records.
select
  id as trade_version_id,
  {{ json_text('payload', 'id') }} as trade_id,
  {{ json_text('payload', 'account_id') }} as account_id,
  {{ json_text('payload', 'client_id') }} as client_id,
  {{ json_text('payload', 'counterparty_id') }} as counterparty_id,
  {{ json_text('payload', 'instrument_id') }} as instrument_id,
  {{ json_text('payload', 'side') }} as side,
  {{ json_text('payload', 'quantity') }} as quantity,
  {{ json_text('payload', 'price') }} as price,
  {{ json_text('payload', 'price_currency') }} as price_currency,
  {{ json_text('payload', 'venue_mic') }} as venue_mic,
  {{ json_text('payload', 'executed_at') }} as executed_at_text,
  {{ ts(json_text('payload', 'executed_at')) }} as executed_at,
  {{ json_text('payload', 'capacity') }} as capacity,
  {{ json_text('payload', 'decision_maker') }} as decision_maker,
  {{ json_text('payload', 'status') }} as status,
  updated_at
from {{ source('landing', 'raw_trades') }}
where id not in (select record_id from {{ source('landing', 'quarantine') }}
                 where source = 'trades')
