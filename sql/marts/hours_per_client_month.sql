-- hours per client per month (metrics.md §8): one row per payer × provider × month.
-- hours are wijkverpleging minutes ÷ 60 and iwmo/ijw volumes in hour units (01, 04, 16), approved net as of
-- $as_of, by service month; municipalities are one payer over both laws. a client counts in a month when
-- its net hours there are positive.
with

payer_lines as not materialized (
    select * from marts.payer_lines
),

params as (
    select
        cast($as_of as date) as as_of,
        cast(date_trunc('month', cast($as_of as date)) as date) as as_of_month
),

client_months as (
    select
        payer_lines.payer_kind,
        payer_lines.payer_code,
        payer_lines.provider_agb,
        payer_lines.month,
        payer_lines.client_id,
        sum(payer_lines.net_hours) as client_hours,
        sum(payer_lines.net_amount_eur) as client_amount_eur
    from payer_lines
    cross join params
    where payer_lines.status = 'approved'
        and payer_lines.net_hours is not null
        and payer_lines.submitted_date <= params.as_of
        and payer_lines.month <= params.as_of_month
    group by all
),

final as (
    select
        payer_kind,
        payer_code,
        provider_agb,
        month,
        cast(year(month) as integer) as year,
        cast(sum(client_hours) as double) as hours,
        cast(count(*) filter (where client_hours > 0) as integer) as clients,
        cast(sum(client_hours) as double) / nullif(cast(count(*) filter (where client_hours > 0) as double), 0)
            as hours_per_client,
        cast(round(sum(client_amount_eur), 2) as decimal(18, 2)) as approved_amount_eur
    from client_months
    group by all
)

select * from final
