-- hours agreement (urenafspraak, metrics.md §8): one row per payer × provider × year, from
-- marts.hours_per_client_month. avg_hours_full_months leaves out each client's first and last month in care
-- (the first and last month, up to as_of, in which the client has positive net hours with that payer and
-- provider): the full-month hours and client months of marts.hours_per_client_month, summed per year.
with

hours_per_client_month as not materialized (
    select * from marts.hours_per_client_month
),

ceilings as not materialized (
    select * from staging.ceilings
),

yearly as (
    select
        payer_kind,
        payer_code,
        provider_agb,
        year,
        sum(hours) as hours,
        cast(sum(clients) as integer) as client_months,
        sum(approved_amount_eur) as approved_amount_eur,
        sum(full_month_hours) as full_month_hours,
        cast(sum(full_month_clients) as bigint) as full_client_months
    from hours_per_client_month
    group by all
),

agreements as (
    select
        yearly.*,
        ceilings.max_hours_per_client_month,
        yearly.hours / nullif(cast(yearly.client_months as double), 0) as avg_hours_per_client_month,
        cast(yearly.approved_amount_eur as double) / nullif(yearly.hours, 0) as avg_hourly_tariff_eur,
        yearly.full_month_hours / nullif(cast(yearly.full_client_months as double), 0)
            as avg_hours_full_months
    from yearly
    left join ceilings
        on ceilings.payer_kind = yearly.payer_kind
        and ceilings.payer_code = yearly.payer_code
        and ceilings.provider_agb = yearly.provider_agb
        and ceilings.year = yearly.year
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
