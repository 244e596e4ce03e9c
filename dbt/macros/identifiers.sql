{#- The identifier checks of the custom tests, as SQL functions created at the start of
    every run, one implementation per warehouse:
    * ISO 17442 LEI: 18 alphanumerics + 2 digits; letters → 10..35; the number mod 97 = 1
      (ISO/IEC 7064 MOD 97-10), folded digit by digit so no big integers are needed.
    * ISO 6166 ISIN: 2 letters, 9 alphanumerics, 1 digit; letters → 10..35; Luhn mod 10.
    * ISO 10383 MIC: four upper-case alphanumerics. ISO 10962 CFI: category and group. -#}
{% macro create_identifier_functions() %}
  {{ return(adapter.dispatch('create_identifier_functions')()) }}
{% endmacro %}

{% macro duckdb__create_identifier_functions() %}
CREATE OR REPLACE MACRO rs_digits(s) AS array_to_string(list_transform(string_split(s, ''),
  lambda ch: CASE WHEN ch BETWEEN '0' AND '9' THEN ch ELSE CAST(ascii(ch) - 55 AS VARCHAR) END), '');
CREATE OR REPLACE MACRO rs_lei_valid(s) AS regexp_full_match(s, '[A-Z0-9]{18}[0-9]{2}')
  AND list_reduce(list_transform(string_split(rs_digits(s), ''), lambda ch: CAST(ch AS INTEGER)),
                  lambda acc, x: (acc * 10 + x) % 97) = 1;
CREATE OR REPLACE MACRO rs_isin_valid(s) AS regexp_full_match(s, '[A-Z]{2}[A-Z0-9]{9}[0-9]')
  AND list_sum(list_transform(list_reverse(list_transform(string_split(rs_digits(s), ''),
        lambda ch: CAST(ch AS INTEGER))),
      lambda x, i: CASE WHEN i % 2 = 0 THEN (CASE WHEN x * 2 > 9 THEN x * 2 - 9 ELSE x * 2 END)
                   ELSE x END)) % 10 = 0;
CREATE OR REPLACE MACRO rs_mic_valid(s) AS regexp_full_match(s, '[A-Z0-9]{4}');
CREATE OR REPLACE MACRO rs_cfi_valid(s) AS regexp_full_match(s, '[A-Z]{6}')
  AND position(substr(s, 2, 1) IN CASE substr(s, 1, 1) WHEN 'E' THEN 'SPCFLDYM' WHEN 'C' THEN 'IHBESFPM'
    WHEN 'D' THEN 'BCWTYSEGANDM' WHEN 'R' THEN 'ASPWFDM' WHEN 'O' THEN 'CPM' WHEN 'F' THEN 'FC'
    WHEN 'S' THEN 'RTECFM' WHEN 'H' THEN 'RTECFM' WHEN 'K' THEN 'RTECFM' WHEN 'I' THEN 'FTROM'
    WHEN 'J' THEN 'EFCRT' WHEN 'L' THEN 'LRS' WHEN 'T' THEN 'CTRIBDM' WHEN 'M' THEN 'CM'
    ELSE '' END) > 0;
{% endmacro %}

{% macro postgres__create_identifier_functions() %}
CREATE OR REPLACE FUNCTION rs_digits(s text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT string_agg(CASE WHEN c BETWEEN '0' AND '9' THEN c ELSE (ascii(c) - 55)::text END, ''
                    ORDER BY n)
  FROM unnest(string_to_array(s, NULL)) WITH ORDINALITY AS t(c, n) $$;
CREATE OR REPLACE FUNCTION rs_lei_valid(s text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
  SELECT s ~ '^[A-Z0-9]{18}[0-9]{2}$' AND (rs_digits(s)::numeric % 97) = 1 $$;
CREATE OR REPLACE FUNCTION rs_isin_valid(s text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
  SELECT s ~ '^[A-Z]{2}[A-Z0-9]{9}[0-9]$' AND (
    SELECT sum(CASE WHEN n % 2 = 0 THEN (CASE WHEN d * 2 > 9 THEN d * 2 - 9 ELSE d * 2 END)
                    ELSE d END) % 10 = 0
    FROM unnest(string_to_array(reverse(rs_digits(s)), NULL)::int[]) WITH ORDINALITY AS t(d, n)) $$;
CREATE OR REPLACE FUNCTION rs_mic_valid(s text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
  SELECT s ~ '^[A-Z0-9]{4}$' $$;
CREATE OR REPLACE FUNCTION rs_cfi_valid(s text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
  SELECT s ~ '^[A-Z]{6}$' AND position(substr(s, 2, 1) IN CASE substr(s, 1, 1) WHEN 'E' THEN 'SPCFLDYM' WHEN 'C' THEN 'IHBESFPM'
    WHEN 'D' THEN 'BCWTYSEGANDM' WHEN 'R' THEN 'ASPWFDM' WHEN 'O' THEN 'CPM' WHEN 'F' THEN 'FC'
    WHEN 'S' THEN 'RTECFM' WHEN 'H' THEN 'RTECFM' WHEN 'K' THEN 'RTECFM' WHEN 'I' THEN 'FTROM'
    WHEN 'J' THEN 'EFCRT' WHEN 'L' THEN 'LRS' WHEN 'T' THEN 'CTRIBDM' WHEN 'M' THEN 'CM'
    ELSE '' END) > 0 $$;
{% endmacro %}

{#- One JSON field of a landed payload as text. -#}
{% macro json_text(column, key) %}
  {{ return(adapter.dispatch('json_text')(column, key)) }}
{% endmacro %}
{% macro duckdb__json_text(column, key) %}json_extract_string({{ column }}, '$.{{ key }}'){% endmacro %}
{% macro postgres__json_text(column, key) %}({{ column }}::json ->> '{{ key }}'){% endmacro %}

{% macro ts(expr) %}
  {{ return(adapter.dispatch('ts')(expr)) }}
{% endmacro %}
{% macro duckdb__ts(expr) %}CAST(strptime({{ expr }}, '%Y-%m-%dT%H:%M:%S.%fZ') AS TIMESTAMP){% endmacro %}
{% macro postgres__ts(expr) %}CAST(REPLACE({{ expr }}, 'Z', '') AS TIMESTAMP){% endmacro %}
