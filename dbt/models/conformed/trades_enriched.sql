-- Trades enriched with the reference data valid when they were executed: instrument,
-- venue, both parties' LEIs (the counterparty dimension's version valid at execution, so a
-- past date re-runs against the reference data as it was), and the notional in the
-- reporting currency at the day's FX rate (the latest rate on or before the trade date).
--
-- Who bought and who sold (RTS 22 fields 7 and 16): dealing on own account (DEAL) the bank
-- faces its client; executing a client order (AOTC) the client faces the market
-- counterparty. The side is the client's.
with trades as (
  select t.*, cast(t.executed_at as date) as trade_date,
         cast({{ ts('t.updated_at') }} as date) as event_date
  from {{ ref('stg_trades') }} t
),
parties as (
  select t.*,
    cl.lei as client_lei, cp.lei as counterparty_lei
  from trades t
  join {{ ref('stg_counterparties') }} cl
    on cl.counterparty_id = t.client_id and cl.valid_from <= t.executed_at
   and (cl.valid_to is null or t.executed_at < cl.valid_to)
  join {{ ref('stg_counterparties') }} cp
    on cp.counterparty_id = t.counterparty_id and cp.valid_from <= t.executed_at
   and (cp.valid_to is null or t.executed_at < cp.valid_to)
),
fx as (
  select p.trade_version_id, f.day as fx_day, f.usd_per_unit as px_usd, e.usd_per_unit as rc_usd,
         row_number() over (partition by p.trade_version_id order by f.day desc, e.day desc) as rn
  from parties p
  join {{ ref('stg_fx_rates') }} f on f.currency = p.price_currency and f.day <= p.trade_date
  join {{ ref('stg_fx_rates') }} e on e.currency = '{{ var("reporting_currency") }}'
   and e.day = f.day
)
select
  p.trade_version_id, p.trade_id, p.status, p.event_date, p.trade_date,
  p.executed_at, p.executed_at_text, p.capacity, p.side, p.decision_maker,
  p.quantity, p.price, p.price_currency, p.venue_mic,
  i.isin, i.cfi, i.instrument_name, i.asset_class, i.tenor_years,
  '{{ var("bank_lei") }}' as executing_entity_lei,
  case when p.capacity = 'DEAL' then
         case when p.side = 'B' then p.client_lei else '{{ var("bank_lei") }}' end
       else case when p.side = 'B' then p.client_lei else p.counterparty_lei end end as buyer_lei,
  case when p.capacity = 'DEAL' then
         case when p.side = 'S' then p.client_lei else '{{ var("bank_lei") }}' end
       else case when p.side = 'S' then p.client_lei else p.counterparty_lei end end as seller_lei,
  cast(p.quantity as double precision) * cast(p.price as double precision)
    * fx.px_usd / fx.rc_usd as notional_reporting_ccy, fx.fx_day
from parties p
join {{ ref('stg_instruments') }} i on i.instrument_id = p.instrument_id
left join fx on fx.trade_version_id = p.trade_version_id and fx.rn = 1
