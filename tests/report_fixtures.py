"""Small but realistic `marts.*` tables (and `staging.zvw_lines`) for the report tests.

Two municipalities: 0363 has every kind of flag (a compensated peak, real overshoots, under-used
allocations, a budget overrun, late lines); 0599 has none of them. Two insurers: 3311 has every
alert; 7029 has none. A recognisable client id (CLIENT_ID) sits in extra client_id columns, and
formula-like values (FORMULA_VALUES) in an allocation number and a provider code: the tests
assert the first never reaches a report and the second stays text in the workbook.
"""

from __future__ import annotations

import datetime as dt

import duckdb

AS_OF = dt.date(2026, 10, 31)
CLIENT_ID = "CLIENTSECRET7f3a9e"
FORMULA_ALLOCATION = "=HYPERLINK(\"http://x\",\"1\")"
FORMULA_PROVIDER = "+31201234567"
FORMULA_VALUES = (FORMULA_ALLOCATION, FORMULA_PROVIDER)
MUNICIPALITIES = ("0363", "0599")
INSURERS = ("3311", "7029")

MART_TABLES = (
    "budget_exhaustion", "allocation_months", "allocation_totals", "band_utilisation", "rekenfactor",
    "ceiling_position", "hours_per_client_month", "hours_agreement", "declaration_timeliness",
    "rejections", "quarantine_summary", "quarantine_reasons",
)


def create_report_marts(conn: duckdb.DuckDBPyConnection, *, empty: bool = False) -> None:
    """Create every marts table the reports read, plus staging.zvw_lines and staging.declaration_lines.

    With ``empty=True`` the tables exist with all their columns and no rows.
    """
    conn.execute("create schema if not exists marts")
    conn.execute("create schema if not exists staging")
    conn.execute("create schema if not exists raw")
    for statement in _STATEMENTS:
        conn.execute(statement)
    if empty:
        for table in MART_TABLES:
            conn.execute(f"delete from marts.{table}")
        conn.execute("delete from staging.zvw_lines")
        conn.execute("delete from staging.declaration_lines")
        conn.execute("delete from raw.manifest")
        conn.execute("delete from raw.quarantine")


_ALLOCATIONS = f"""
-- allocation, municipality, law, provider, category, product, monthly max, pattern
select * from (values
  ('0363', 'wmo',   'W1001', '12345678', '02', '02A05', 15.0, 'peak'),
  ('0363', 'wmo',   'W1002', '87654321', '02', '02A06', 15.0, 'over'),
  ('0363', 'wmo',   '{FORMULA_ALLOCATION.replace("'", "''")}', '{FORMULA_PROVIDER}', '04', '04A01', 8.0, 'over'),
  ('0363', 'jeugd', 'J2001', '11112222', '45', '45A12', 12.0, 'low'),
  ('0363', 'wmo',   'W1003', '12345678', '02', '02A05', 10.0, 'none'),
  ('0363', 'wmo',   'W1004', '33334444', '01', '01A03', 6.0, 'normal'),
  ('0599', 'wmo',   'R3001', '55556666', '02', '02A05', 15.0, 'normal'),
  ('0599', 'wmo',   'R3002', '55556666', '01', '01A03', 6.0, 'normal'),
  ('0599', 'jeugd', 'R4001', '77778888', '45', '45A12', 12.0, 'normal')
) t(municipality_code, law, allocation_number, provider_agb, product_category, product_code, max_volume, pattern)
"""

_STATEMENTS = [
    # ------------------------------------------------------------------ allocation_months
    f"""
    create or replace table marts.allocation_months as
    with allocations as ({_ALLOCATIONS}),
    months as (select cast(m as date) as month, row_number() over (order by m) as k
               from range(date '2026-01-01', date '2026-11-01', interval 1 month) r(m)),
    grid as (
      select a.*, m.month, m.k,
        case a.pattern
          when 'peak'   then case when m.k = 1 then 20.0 when m.k = 2 then 10.0 else 14.0 end
          when 'over'   then a.max_volume + 3
          when 'low'    then 3.0
          when 'none'   then 0.0
          else a.max_volume * (0.7 + 0.02 * (m.k % 5))
        end as delivered_volume
      from allocations a cross join months m
    )
    select municipality_code, law, allocation_number, provider_agb, product_category, product_code,
           month, max_volume, delivered_volume, delivered_volume as declared_volume,
           cast(round(delivered_volume * case product_category when '45' then 95 when '04' then 60 else 67.5 end, 2)
                as decimal(18,2)) as approved_amount_eur,
           delivered_volume / max_volume as utilisation,
           delivered_volume > max_volume as period_overshoot,
           '{CLIENT_ID}' as client_id
    from grid
    """,
    # ------------------------------------------------------------------ allocation_totals
    f"""
    create or replace table marts.allocation_totals as
    with t as (
      select municipality_code, law, allocation_number, provider_agb, product_category, product_code,
             sum(max_volume) as total_max_volume, sum(delivered_volume) as delivered_volume,
             count(*) filter (where period_overshoot) as peak_months,
             coalesce(sum(delivered_volume - max_volume) filter (where period_overshoot), 0) as peak_excess_volume
      from marts.allocation_months group by all
    )
    select municipality_code, law, allocation_number, provider_agb, product_category, product_code,
           total_max_volume, delivered_volume, delivered_volume / total_max_volume as utilisation,
           delivered_volume > total_max_volume as total_overshoot,
           peak_months,
           case when delivered_volume <= total_max_volume then peak_months else 0 end as compensated_peak_months,
           peak_excess_volume,
           allocation_number in ('J2001', 'W1003') as underused,
           case allocation_number when 'J2001' then 'low_utilisation' when 'W1003' then 'no_declarations' end
             as underuse_reason,
           case allocation_number when 'J2001' then '45A11' end as suggested_product_code,
           case allocation_number when 'J2001' then 2280.00 when 'W1003' then 1350.00 else 500.00 end
             as committed_eur,
           date '2026-01-01' as start_date, date '2026-12-31' as end_date,
           '{CLIENT_ID}' as client_id
    from t
    """,
    # ------------------------------------------------------------------ budget_exhaustion
    """
    create or replace table marts.budget_exhaustion as
    select municipality_code, law, product_category, 2026 as year,
           cast(budget as decimal(18,2)) as budget_eur, cast(approved as decimal(18,2)) as approved_eur,
           cast(pending as decimal(18,2)) as pending_eur, cast(late as decimal(18,2)) as expected_late_eur,
           cast(committed as decimal(18,2)) as committed_eur,
           cast(approved + pending + late + committed as decimal(18,2)) as forecast_eur,
           (approved + pending + late + committed) / budget as exhaustion
    from (values
      ('0363', 'wmo', null, 60000.0, 43000.0, 4100.0, 3900.0, 13800.0),
      ('0363', 'wmo', '02', 36000.0, 27500.0, 2600.0, 2400.0, 8900.0),
      ('0363', 'wmo', '04', 9000.0, 5700.0, 700.0, 600.0, 1600.0),
      ('0363', 'wmo', '01', 15000.0, 9800.0, 800.0, 900.0, 3300.0),
      ('0363', 'jeugd', null, 25000.0, 2850.0, 400.0, 350.0, 3400.0),
      ('0363', 'jeugd', '45', 25000.0, 2850.0, 400.0, 350.0, 3400.0),
      ('0599', 'wmo', null, 40000.0, 14500.0, 1500.0, 1200.0, 4000.0),
      ('0599', 'wmo', '02', 25000.0, 9800.0, 1000.0, 800.0, 2500.0),
      ('0599', 'wmo', '01', 15000.0, 4700.0, 500.0, 400.0, 1500.0),
      ('0599', 'jeugd', null, 30000.0, 10800.0, 900.0, 800.0, 3000.0),
      ('0599', 'jeugd', '45', 30000.0, 10800.0, 900.0, 800.0, 3000.0)
    ) t(municipality_code, law, product_category, budget, approved, pending, late, committed)
    """,
    # ------------------------------------------------------------------ band_utilisation
    """
    create or replace table marts.band_utilisation as
    select case when i % 3 = 0 then '0363' else '0599' end as municipality_code, 'wmo' as law,
           'A' || lpad(cast(i as varchar), 4, '0') as allocation_number,
           case when i % 4 = 0 then '12345678' when i % 4 = 1 then '87654321' else '55556666' end as provider_agb,
           '02' as product_category,
           case when i % 2 = 0 then '02A05' else '02A06' end as product_code,
           8.0 + (i % 30) as weeks_in_care,
           band_min + q * (band_max - band_min) as hours_per_week,
           q as band_position,
           case when q < 0 then 'below' when q > 1 then 'above' when q < 1.0/3 then 'low'
                when q < 2.0/3 then 'mid' else 'high' end as band_class
    from (
      select i, case when i % 2 = 0 then 2.0 else 4.0 end as band_min,
                case when i % 2 = 0 then 4.0 else 8.0 end as band_max,
                ((i * 37) % 100) / 75.0 - 0.25 as q
      from range(1, 49) r(i)
    )
    """,
    # ------------------------------------------------------------------ rekenfactor
    """
    create or replace table marts.rekenfactor as
    select grain, product_code, provider_agb, municipality_code, allocations, indicated_hours, realised_hours,
           realised_hours / indicated_hours as implied_rekenfactor, contract_rekenfactor,
           1 - realised_hours / indicated_hours as unused_share,
           cast(round(approved * ((realised_hours / indicated_hours) / contract_rekenfactor - 1), 2) as decimal(18,2))
             as budget_effect_eur,
           cast(approved as decimal(18,2)) as approved_amount_eur
    from (values
      ('product', '02A05', null, null, 24, 2400.0, 1850.0, 0.90, 162000.0),
      ('product', '02A06', null, null, 24, 4300.0, 3500.0, 0.85, 236250.0),
      ('product', '45A12', null, null, 2, 240.0, 150.0, 1.00, 14250.0),
      ('product_provider', '02A05', '12345678', null, 12, 1200.0, 900.0, 0.90, 81000.0),
      ('product_provider', '02A05', '55556666', null, 12, 1200.0, 950.0, 0.90, 81000.0),
      ('product_provider', '02A06', '87654321', null, 24, 4300.0, 3500.0, 0.85, 236250.0),
      ('product_municipality', '02A05', null, '0363', 8, 800.0, 610.0, 0.90, 54000.0),
      ('product_municipality', '02A05', null, '0599', 16, 1600.0, 1240.0, 0.90, 108000.0)
    ) t(grain, product_code, provider_agb, municipality_code, allocations, indicated_hours, realised_hours,
        contract_rekenfactor, approved)
    """,
    # ------------------------------------------------------------------ ceiling_position
    """
    create or replace table marts.ceiling_position as
    select payer_code, payer_kind, provider_agb, 2026 as year, cast(ceiling as decimal(18,2)) as ceiling_eur,
           cast(realised as decimal(18,2)) as realised_eur, realised / ceiling as share,
           cast(reached as date) as ceiling_reached_on,
           cast(case when policy = 'stop_payment' then least(realised, ceiling) else realised end as decimal(18,2)) as paid_eur,
           cast(greatest(0, realised - ceiling) as decimal(18,2)) as above_ceiling_eur,
           cast(late as decimal(18,2)) as expected_late_eur,
           cast(realised + late as decimal(18,2)) as expected_ultimate_eur,
           cast(year_end as decimal(18,2)) as projected_year_end_eur,
           cast(run_out as date) as projected_run_out_date, alert,
           cast(request_by as date) as request_increase_by, policy
    from (values
      ('3311', 'insurer', '40001111', 100000.0, 110000.0, '2026-08-20', 2000.0, 135000.0, '2026-08-20', 'reached', null, 'stop_payment'),
      ('3311', 'insurer', '40002222', 200000.0, 150000.0, null, 6000.0, 230000.0, '2026-12-02', 'projected_over', '2026-11-15', 'stop_payment'),
      ('3311', 'insurer', '40003333', 80000.0, 60000.0, null, 1500.0, 76000.0, null, '70', null, 'settle'),
      ('3311', 'insurer', '40004444', 90000.0, 30000.0, null, 1000.0, 40000.0, null, 'ok', null, 'stop_payment'),
      ('7029', 'insurer', '40005555', 120000.0, 50000.0, null, 1200.0, 62000.0, null, 'ok', null, 'stop_payment'),
      ('7029', 'insurer', '40006666', 60000.0, 20000.0, null, 400.0, 25000.0, null, 'ok', null, 'settle'),
      ('0363', 'municipality', '12345678', 500000.0, 480000.0, null, 0.0, 560000.0, '2026-11-10', 'projected_over', null, 'stop_payment')
    ) t(payer_code, payer_kind, provider_agb, ceiling, realised, reached, late, year_end, run_out, alert, request_by, policy)
    """,
    # ------------------------------------------------------------------ hours per client
    """
    create or replace table marts.hours_per_client_month as
    with p(payer_code, provider_agb, base) as (values
      ('3311', '40001111', 11.5), ('3311', '40002222', 10.0), ('3311', '40003333', 9.0), ('3311', '40004444', 8.0),
      ('7029', '40005555', 9.5), ('7029', '40006666', 7.5)),
    m as (select cast(m as date) as month, row_number() over (order by m) as k
          from range(date '2026-01-01', date '2026-11-01', interval 1 month) r(m))
    select payer_code, provider_agb, month,
           (base + 0.3 * (k % 4)) * (40 + k) as hours, 40 + k as clients, base + 0.3 * (k % 4) as hours_per_client
    from p cross join m
    """,
    """
    create or replace table marts.hours_agreement as
    select payer_code, provider_agb, 2026 as year, sum(hours) as hours, sum(clients) as client_months,
           sum(hours) / sum(clients) as avg_hours_per_client_month,
           max(agreement) as max_hours_per_client_month,
           greatest(0, sum(hours) / sum(clients) - max(agreement)) * sum(clients) as excess_hours,
           cast(78.5 as decimal(18,2)) as avg_hourly_tariff_eur,
           cast(round(greatest(0, sum(hours) / sum(clients) - max(agreement)) * sum(clients) * 78.5, 2) as decimal(18,2))
             as expected_reclaim_eur,
           sum(hours) / sum(clients) - 0.4 as avg_hours_full_months
    from marts.hours_per_client_month h
    join (values ('40001111', 11.0), ('40002222', 12.0), ('40003333', 12.0), ('40004444', 12.0),
                 ('40005555', 12.0), ('40006666', 12.0)) a(provider_agb, agreement) using (provider_agb)
    group by payer_code, provider_agb
    """,
    # ------------------------------------------------------------------ timeliness and rejections
    """
    create or replace table marts.declaration_timeliness as
    with p(provider_agb, municipality_code, late_every) as (values
      ('12345678', '0363', 3), ('87654321', '0363', 2), ('11112222', '0363', 0), ('55556666', '0599', 0),
      ('77778888', '0599', 0)),
    m as (select cast(m as date) as month, row_number() over (order by m) as k
          from range(date '2025-11-01', date '2026-11-01', interval 1 month) r(m))
    select provider_agb, municipality_code, month, 20 + k as lines,
           case when late_every > 0 and k % greatest(late_every, 1) = 0 then 2 + k % 3 else 0 end as late_lines,
           cast(case when late_every > 0 and k % greatest(late_every, 1) = 0 then (2 + k % 3) * 310.25 else 0 end as decimal(18,2))
             as late_amount_eur,
           12.0 + late_every * 9 + k % 4 as median_lag_days,
           case when provider_agb = '87654321' and k > 9 then 3 else 0 end as late_answers,
           'wmo' as law
    from p cross join m
    """,
    """
    create or replace table marts.rejections as
    select provider_agb, municipality_code, cast(month as date) as month, return_code, lines,
           cast(amount as decimal(18,2)) as amount_eur, category
    from (values
      ('12345678', '0363', '2026-03-01', '9321', 2, 540.0, 'volume exceeds allocation'),
      ('87654321', '0363', '2026-05-01', '9321', 4, 810.0, 'volume exceeds allocation'),
      ('87654321', '0363', '2026-06-01', '9339', 1, 202.5, 'product or unit'),
      ('11112222', '0363', '2026-07-01', '8001', 3, 1140.0, 'whole declaration'),
      ('12345678', '0363', '2026-09-01', '9047', 1, 67.5, 'period outside allocation')
    ) t(provider_agb, municipality_code, month, return_code, lines, amount, category)
    """,
    # ------------------------------------------------------------------ data quality
    """
    create or replace table marts.quarantine_summary as
    select * from (values
      ('2026-10/toewijzingen_0363.csv', 'allocations', 1200, 1188, 12, 'loaded'),
      ('2026-10/WMO323_87654321_0363.xml', 'declarations', 340, 336, 4, 'loaded'),
      ('2026-10/zvw_3311.parquet', 'zvw_lines', 5000, 5000, 0, 'loaded'),
      ('2026-10/declaraties_kapot.xlsx', 'declarations', 0, 0, 0, 'refused')
    ) t(source_file, kind, rows_received, rows_loaded, rows_quarantined, status)
    """,
    """
    create or replace table marts.quarantine_reasons as
    select * from (values
      ('2026-10/toewijzingen_0363.csv', 'bsn_invalid', 'BSN voldoet niet aan de elfproef', 7),
      ('2026-10/toewijzingen_0363.csv', 'end_before_start', 'Einddatum ligt voor de begindatum', 5),
      ('2026-10/WMO323_87654321_0363.xml', 'xsd_invalid', 'Prestatie voldoet niet aan WMO323.xsd', 4),
      ('2026-10/declaraties_kapot.xlsx', 'unreadable', 'Bestand is geen geldig Excel-bestand', 1)
    ) t(source_file, reason_code, reason_text, rows)
    """,
    """
    create or replace table raw.manifest as
    select source_file, kind, status from marts.quarantine_summary
    """,
    """
    create or replace table raw.quarantine as
    select '2026-10/declaraties_kapot.xlsx' as source_file, cast(null as bigint) as source_row,
           'unreadable' as reason_code, 'Bestand is geen geldig Excel-bestand' as reason_text
    """,
    # ------------------------------------------------------------------ staging
    f"""
    create or replace table staging.zvw_lines as
    with p(insurer_code, provider_agb, per_week) as (values
      ('3311', '40001111', 2600.0), ('3311', '40002222', 3600.0), ('3311', '40003333', 1450.0),
      ('3311', '40004444', 720.0), ('7029', '40005555', 1200.0), ('7029', '40006666', 480.0))
    select insurer_code, provider_agb, '{CLIENT_ID}' as client_id,
           cast(d as timestamp) + interval 9 hour as submitted_on,
           cast(per_week * (0.8 + 0.05 * (w % 8)) as decimal(18,2)) as net_amount_eur,
           case when w % 11 = 0 then 'rejected' else 'approved' end as status,
           cast(date_trunc('month', d - interval 10 day) as date) as month
    from p cross join (select row_number() over (order by d) as w, d
                       from range(date '2026-01-12', date '2026-10-31', interval 7 day) r(d))
    """,
    f"""
    create or replace table staging.declaration_lines as
    select cast(d as date) as declared_on, '{CLIENT_ID}' as client_id
    from range(date '2026-01-05', date '2026-11-20', interval 9 day) r(d)
    """,
    # ------------------------------------------------------------------ names (inputs.md organisations)
    """
    create or replace table staging.organisations as
    select * from (values
      ('insurer', '3311', 'Zorgverzekeraar Noord'), ('insurer', '7029', 'Zorgverzekeraar Zuid'),
      ('provider', '12345678', 'Thuiszorg De Linde'), ('provider', '87654321', 'Begeleiding Aan Zee'),
      ('municipality', '0599', 'Rotterdam (eigen naam)')
    ) t(kind, code, name)
    """,
    # ------------------------------------------------------------------ metrics.md §15
    """
    create or replace table marts.declaration_signals as
    select * from (values
      ('0363', 'wmo', '12345678', 'W1001', 'R1', date '2026-09-01', 'after_stop', 450.25, 'na stop op 10-08-2026'),
      ('0363', 'wmo', '12345678', 'W1001', 'R2', date '2026-10-01', 'after_stop', 300.5, ''),
      ('0363', 'wmo', '87654321', 'W1002', 'R3', date '2026-08-01', 'duplicate_period', 1200.5, ''),
      ('0599', 'wmo', '55556666', 'R3001', 'R4', date '2026-07-01', 'no_allocation', 80.0, '')
    ) t(municipality_code, law, provider_agb, allocation_number, reference_number, month, signal, amount_eur, detail)
    """,
    """
    create or replace table marts.stop_messages as
    select * from (values
      ('12345678', '0363', date '2026-08-01', 4, 2, 6.5, 1),
      ('87654321', '0363', date '2026-09-01', 3, 0, 2.0, 0),
      ('55556666', '0599', date '2026-09-01', 2, 1, 9.0, 0)
    ) t(provider_agb, municipality_code, month, stops, late_stops, median_delay_days, allocations_open_after_stop)
    """,
    # ------------------------------------------------------------------ metrics.md §14
    """
    create or replace table marts.forecast_history as
    with t(forecast_as_of) as (values (date '2026-08-31'), (date '2026-09-30'), (date '2026-10-31')),
    budget(municipality_code, law, base) as (values ('0363', 'wmo', 90000.0), ('0363', 'jeugd', 60000.0),
                                                  ('0599', 'wmo', 50000.0), ('0599', 'jeugd', 40000.0)),
    ceiling(payer_code, provider_agb, base) as (values ('3311', '40001111', 100000.0), ('3311', '40002222', 150000.0),
                                                     ('7029', '40005555', 50000.0))
    select 'budget' as scope, cast(null as varchar) as payer_code, cast(null as varchar) as provider_agb,
           municipality_code, law, cast(null as varchar) as product_category, 2026 as year, forecast_as_of,
           12 - month(forecast_as_of) as months_before_year_end,
           base + case when municipality_code = '0363' and law = 'wmo' then 25000.0 else 1000.0 end
                  * (month(forecast_as_of) - 8) as projected_eur,
           100000.0 as limit_eur, 'ok' as alert, cast(null as double) as outcome_eur,
           cast(null as double) as error_eur, cast(null as double) as abs_pct_error
    from budget cross join t
    union all
    select 'ceiling', payer_code, provider_agb, null, null, null, 2026, forecast_as_of,
           12 - month(forecast_as_of), base + 4000.0 * (month(forecast_as_of) - 8), 120000.0,
           case when provider_agb = '40002222' then 'projected_over' else 'ok' end, null, null, null
    from ceiling cross join t
    union all
    select 'ceiling', payer_code, provider_agb, null, null, null, 2025, cast(forecast_as_of - interval 1 year as date),
           12 - month(forecast_as_of), base, 120000.0, 'ok', base * 1.05, base - base * 1.05, 0.05 / 1.05
    from ceiling cross join t
    """,
]
