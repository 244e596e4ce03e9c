-- Every version of every counterparty the source published, minus quarantined records;
-- valid_from/valid_to make it a type-2 dimension (a report for a past date joins the
-- version valid then).
with versions as (
  select
    {{ json_text('payload', 'id') }} as counterparty_id,
    {{ json_text('payload', 'name') }} as name,
    {{ json_text('payload', 'lei') }} as lei,
    {{ json_text('payload', 'country') }} as country,
    {{ json_text('payload', 'investment_firm') }} = 'true' as investment_firm,
    updated_at,
    {{ ts('updated_at') }} as valid_from
  from {{ source('landing', 'raw_counterparties') }}
  where id not in (select record_id from {{ source('landing', 'quarantine') }}
                   where source = 'counterparties')
)
select *,
  lead(valid_from) over (partition by counterparty_id order by valid_from) as valid_to,
  counterparty_id || '@' || updated_at as version_id
from versions
