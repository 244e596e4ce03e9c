{#- Custom generic tests: each returns the failing rows (dbt fails the test when any). -#}
{% test valid_lei(model, column_name) %}
select {{ column_name }} from {{ model }}
where {{ column_name }} is not null and not rs_lei_valid({{ column_name }})
{% endtest %}

{% test valid_isin(model, column_name) %}
select {{ column_name }} from {{ model }}
where {{ column_name }} is not null and not rs_isin_valid({{ column_name }})
{% endtest %}

{% test valid_mic(model, column_name) %}
select {{ column_name }} from {{ model }}
where {{ column_name }} is not null and not rs_mic_valid({{ column_name }})
{% endtest %}

{% test valid_cfi(model, column_name) %}
select {{ column_name }} from {{ model }}
where {{ column_name }} is not null and not rs_cfi_valid({{ column_name }})
{% endtest %}
