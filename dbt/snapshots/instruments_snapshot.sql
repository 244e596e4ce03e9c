{% snapshot instruments_snapshot %}
{{ config(target_schema=target.schema, unique_key='instrument_id', strategy='check',
          check_cols=['isin', 'cfi', 'instrument_name', 'currency', 'mic']) }}
select instrument_id, isin, cfi, instrument_name, currency, mic from {{ ref('stg_instruments') }}
{% endsnapshot %}
