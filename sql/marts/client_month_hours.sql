-- hours per client per month (metrics.md §8), the building block of hours_per_client_month and
-- hours_agreement: one row per payer × provider × month × client. hours are wijkverpleging minutes
-- ÷ 60 and iwmo/ijw volumes in hour units (01, 04, 16), approved net as of $as_of, by service month
-- up to the month of $as_of; municipalities are one payer over both laws. net hours may be zero or
-- negative (a credit): the readers decide whether such a client month counts.
with

payer_lines as (
    select * from marts.payer_lines
),

params as (
    select
        cast($as_of as date) as as_of,
        cast(date_trunc('month', cast($as_of as date)) as date) as as_of_month
),

final as (
    select
        payer_lines.payer_kind,
        payer_lines.payer_code,
        payer_lines.provider_agb,
        payer_lines.month,
        payer_lines.client_id,
        cast(sum(payer_lines.net_hours) as double) as hours,
        sum(payer_lines.net_amount_eur) as amount_eur
    from payer_lines
    cross join params
    where payer_lines.status = 'approved'
        and payer_lines.net_hours is not null
        and payer_lines.submitted_date <= params.as_of
        and payer_lines.month <= params.as_of_month
    group by all
)

select * from final
