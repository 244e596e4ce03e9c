select
  {{ json_text('payload', 'id') }} as account_id,
  {{ json_text('payload', 'counterparty_id') }} as counterparty_id,
  {{ json_text('payload', 'currency') }} as currency,
  updated_at
from {{ source('landing', 'raw_accounts') }}
where id not in (select record_id from {{ source('landing', 'quarantine') }}
                 where source = 'accounts')
