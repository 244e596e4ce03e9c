select
  {{ json_text('payload', 'id') }} as instrument_id,
  {{ json_text('payload', 'isin') }} as isin,
  {{ json_text('payload', 'cfi') }} as cfi,
  {{ json_text('payload', 'name') }} as instrument_name,
  {{ json_text('payload', 'currency') }} as currency,
  {{ json_text('payload', 'mic') }} as mic,
  {{ json_text('payload', 'asset_class') }} as asset_class,
  cast({{ json_text('payload', 'tenor_years') }} as integer) as tenor_years,
  updated_at
from {{ source('landing', 'raw_instruments') }}
where id not in (select record_id from {{ source('landing', 'quarantine') }}
                 where source = 'instruments')
