-- hours per client per month (metrics.md §8): one row per payer × provider × month, from
-- marts.client_month_hours. a client counts in a month when its net hours there are positive.
with

client_month_hours as (
    select * from marts.client_month_hours
),

final as (
    select
        payer_kind,
        payer_code,
        provider_agb,
        month,
        cast(year(month) as integer) as year,
        cast(sum(hours) as double) as hours,
        cast(count(*) filter (where hours > 0) as integer) as clients,
        cast(sum(hours) as double) / nullif(cast(count(*) filter (where hours > 0) as double), 0)
            as hours_per_client,
        cast(round(sum(amount_eur), 2) as decimal(18, 2)) as approved_amount_eur
    from client_month_hours
    group by all
)

select * from final
