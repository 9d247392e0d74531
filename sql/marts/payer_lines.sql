-- every declaration line known at $as_of, from both payers, in one shape (metrics.md §1, §2, §7–§10):
-- wijkverpleging lines (payer = insurer, submission = submitted_on) and iwmo/ijw lines
-- (payer = municipality and law, submission = declared_on). one row per line × service month: a legacy
-- iwmo line whose product period crosses months is split over them pro rata by days; a wijkverpleging
-- line belongs to the month of service_start. status is the status as of $as_of; answered_on and
-- rejected_on (municipal lines) give it at any earlier date (macro status_at), so the lines known at
-- $as_of hold those of every earlier reporting date (metrics.md §14).
-- $as_of is written into each filter rather than cross-joined from a one-row CTE: with the cross
-- join, DuckDB planned the monthly refresh's cut of the lines (a semi join, pipeline/incremental.py)
-- with its hash table on all lines, 4.6 s instead of 1.2 s at 10 million lines.
with

declaration_lines as not materialized (
    select * from staging.declaration_lines
),

zvw_lines as not materialized (
    select * from staging.zvw_lines
),

iwmo_known as (
    select
        declaration_lines.* exclude (month),
        case
            when declaration_lines.rejected_on <= cast($as_of as date) then 'rejected'
            when declaration_lines.answered_on <= cast($as_of as date) then 'approved'
            else 'pending'
        end as status_as_of,
        cast(date_trunc('month', declaration_lines.period_start) as date) as first_month,
        cast(date_trunc('month', coalesce(declaration_lines.period_end, declaration_lines.period_start)) as date)
            as last_month,
        greatest(
            datediff('day', declaration_lines.period_start, coalesce(declaration_lines.period_end, declaration_lines.period_start)) + 1,
            1
        ) as period_days
    from declaration_lines
    where declaration_lines.declared_on <= cast($as_of as date)
),

iwmo_months as (
    select
        iwmo_known.*,
        unnest(generate_series(
            cast(iwmo_known.first_month as timestamp),
            cast(greatest(iwmo_known.last_month, iwmo_known.first_month) as timestamp),
            interval 1 month
        )) as month_start
    from iwmo_known
),

iwmo_parts as (
    select
        * exclude (month_start),
        cast(month_start as date) as month,
        case
            when first_month = last_month then cast(1 as double)
            else cast(
                datediff(
                    'day',
                    greatest(period_start, cast(month_start as date)),
                    least(coalesce(period_end, period_start), cast(month_start + interval 1 month - interval 1 day as date))
                ) + 1 as double
            ) / cast(period_days as double)
        end as month_share
    from iwmo_months
),

iwmo_payer_lines as (
    select
        cast('municipality' as varchar) as payer_kind,
        municipality_code as payer_code,
        law,
        provider_agb,
        client_id,
        reference_number,
        debit_credit,
        product_category,
        product_code,
        cast(month as date) as month,
        cast(year(month) as integer) as year,
        cast(declared_on as timestamp) as submitted_on,
        cast(declared_on as date) as submitted_date,
        cast(date_trunc('month', declared_on) as date) as submission_month,
        status_as_of as status,
        cast(answered_on as date) as answered_on,
        cast(rejected_on as date) as rejected_on,
        month_share,
        case
            when first_month = last_month then cast(net_amount_eur as decimal(18, 6))
            else cast(round(cast(net_amount_eur as double) * month_share, 6) as decimal(18, 6))
        end as net_amount_eur,
        cast(hours * month_share as double) as net_hours,
        source_file,
        source_row
    from iwmo_parts
),

zvw_payer_lines as (
    select
        cast('insurer' as varchar) as payer_kind,
        zvw_lines.insurer_code as payer_code,
        cast(null as varchar) as law,
        zvw_lines.provider_agb,
        zvw_lines.client_id,
        zvw_lines.reference_number,
        zvw_lines.debit_credit,
        cast(null as varchar) as product_category,
        zvw_lines.prestation_code as product_code,
        cast(coalesce(zvw_lines.month, date_trunc('month', zvw_lines.service_start)) as date) as month,
        cast(year(coalesce(zvw_lines.month, zvw_lines.service_start)) as integer) as year,
        cast(zvw_lines.submitted_on as timestamp) as submitted_on,
        cast(zvw_lines.submitted_on as date) as submitted_date,
        cast(date_trunc('month', zvw_lines.submitted_on) as date) as submission_month,
        cast(zvw_lines.status as varchar) as status,
        cast(null as date) as answered_on,
        cast(null as date) as rejected_on,
        cast(1 as double) as month_share,
        cast(zvw_lines.net_amount_eur as decimal(18, 6)) as net_amount_eur,
        cast(coalesce(zvw_lines.net_hours, zvw_lines.net_minutes / 60.0) as double) as net_hours,
        zvw_lines.source_file,
        zvw_lines.source_row
    from zvw_lines
    where cast(zvw_lines.submitted_on as date) <= cast($as_of as date)
),

final as (
    select * from iwmo_payer_lines
    union all by name
    select * from zvw_payer_lines
)

select * from final
