-- hours per client per month (metrics.md §8): one row per payer × provider × month.
-- hours are wijkverpleging minutes ÷ 60 and iwmo/ijw volumes in hour units (01, 04, 16), approved net as of
-- $as_of, by service month; municipalities are one payer over both laws. a client counts in a month when
-- its net hours there are positive. full_month_hours and full_month_clients leave out each client's first
-- and last month in care (the first and last month, up to $as_of, in which the client has positive net
-- hours with that payer and provider): the hours agreement sums them per year, so the client months are
-- grouped once, here.
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

spans as (
    -- a grouping, not a window: no sort of millions of client months
    select payer_kind, payer_code, provider_agb, client_id, min(month) as first_month, max(month) as last_month
    from client_months
    where client_hours > 0
    group by all
),

client_spans as (
    select
        client_months.*,
        client_months.client_hours > 0
            and client_months.month > spans.first_month
            and client_months.month < spans.last_month as is_full_month
    from client_months
    left join spans
        on spans.payer_kind = client_months.payer_kind
        and spans.payer_code = client_months.payer_code
        and spans.provider_agb = client_months.provider_agb
        and spans.client_id = client_months.client_id
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
        cast(round(sum(client_amount_eur), 2) as decimal(18, 2)) as approved_amount_eur,
        cast(coalesce(sum(client_hours) filter (where is_full_month), 0) as double) as full_month_hours,
        cast(count(*) filter (where is_full_month) as integer) as full_month_clients
    from client_spans
    group by all
)

select * from final
