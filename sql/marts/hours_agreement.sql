-- hours agreement (urenafspraak, metrics.md §8): one row per payer × provider × year, from
-- marts.hours_per_client_month. avg_hours_full_months leaves out each client's first and last month in care
-- (the first and last month, up to $as_of, in which the client has positive net hours with that payer and
-- provider).
with

hours_per_client_month as not materialized (
    select * from marts.hours_per_client_month
),

payer_lines as not materialized (
    select * from marts.payer_lines
),

ceilings as not materialized (
    select * from staging.ceilings
),

params as (
    select
        cast($as_of as date) as as_of,
        cast(date_trunc('month', cast($as_of as date)) as date) as as_of_month
),

yearly as (
    select
        payer_kind,
        payer_code,
        provider_agb,
        year,
        sum(hours) as hours,
        cast(sum(clients) as integer) as client_months,
        sum(approved_amount_eur) as approved_amount_eur
    from hours_per_client_month
    group by all
),

client_months as (
    select
        payer_lines.payer_kind,
        payer_lines.payer_code,
        payer_lines.provider_agb,
        payer_lines.client_id,
        payer_lines.month,
        sum(payer_lines.net_hours) as hours
    from payer_lines
    cross join params
    where payer_lines.status = 'approved'
        and payer_lines.net_hours is not null
        and payer_lines.submitted_date <= params.as_of
        and payer_lines.month <= params.as_of_month
    group by all
    having sum(payer_lines.net_hours) > 0
),

spans as (
    -- a grouping, not a window: no sort of millions of client months
    select payer_kind, payer_code, provider_agb, client_id, min(month) as first_month, max(month) as last_month
    from client_months
    group by all
),

client_spans as (
    select client_months.*, spans.first_month, spans.last_month
    from client_months
    inner join spans
        on spans.payer_kind = client_months.payer_kind
        and spans.payer_code = client_months.payer_code
        and spans.provider_agb = client_months.provider_agb
        and spans.client_id = client_months.client_id
),

full_months as (
    select
        payer_kind,
        payer_code,
        provider_agb,
        cast(year(month) as integer) as year,
        sum(hours) as full_month_hours,
        count(*) as full_client_months
    from client_spans
    where month > first_month
        and month < last_month
    group by all
),

agreements as (
    select
        yearly.*,
        ceilings.max_hours_per_client_month,
        yearly.hours / nullif(cast(yearly.client_months as double), 0) as avg_hours_per_client_month,
        cast(yearly.approved_amount_eur as double) / nullif(yearly.hours, 0) as avg_hourly_tariff_eur,
        full_months.full_month_hours / nullif(cast(full_months.full_client_months as double), 0)
            as avg_hours_full_months,
        coalesce(full_months.full_client_months, 0) as full_client_months
    from yearly
    left join ceilings
        on ceilings.payer_kind = yearly.payer_kind
        and ceilings.payer_code = yearly.payer_code
        and ceilings.provider_agb = yearly.provider_agb
        and ceilings.year = yearly.year
    left join full_months
        on full_months.payer_kind = yearly.payer_kind
        and full_months.payer_code = yearly.payer_code
        and full_months.provider_agb = yearly.provider_agb
        and full_months.year = yearly.year
),

final as (
    select
        payer_kind,
        payer_code,
        provider_agb,
        year,
        hours,
        client_months,
        avg_hours_per_client_month,
        max_hours_per_client_month,
        greatest(avg_hours_per_client_month - max_hours_per_client_month, 0) * client_months as excess_hours,
        avg_hourly_tariff_eur,
        cast(
            round(
                greatest(avg_hours_per_client_month - max_hours_per_client_month, 0) * client_months
                * avg_hourly_tariff_eur,
                2
            ) as decimal(18, 2)
        ) as expected_reclaim_eur,
        avg_hours_full_months,
        full_client_months,
        cast(approved_amount_eur as decimal(18, 2)) as approved_amount_eur
    from agreements
)

select * from final
