{#- SCD2 history of the counterparty reference data as the warehouse saw it, run by run
    (dbt's timestamp strategy on the source's updated_at): the audit record of which
    version each run had. -#}
{% snapshot counterparties_snapshot %}
{{ config(target_schema=target.schema, unique_key='counterparty_id', strategy='timestamp',
          updated_at='valid_from') }}
select counterparty_id, name, lei, country, investment_firm, valid_from
from {{ ref('stg_counterparties') }} where valid_to is null
{% endsnapshot %}
