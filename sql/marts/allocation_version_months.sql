-- metrics.md §3: the maximum volume per allocation version and calendar month (iWmo IV076-IV078,
-- TR321, TR322), the maximum over the whole allocation and the yearly allowance of §4, for every
-- version of an allocation: the version is the one in force from the day it was decided (valid_from)
-- to the day a later one was (valid_to, exclusive; 9999-12-31 for the latest). One row per version
-- x month, from the month of start_date to the month of min(end_date, 31 December of the $as_of
-- year); deleted versions (and those withdrawn, reason 13) have none. The allocation_month_maxima mart is
-- the version in force at $as_of, allocation_commitments the one in force at each reporting date. Week, Sunday and month counts are arithmetic on
-- day numbers (the macros of pipeline/sql.py, volume_maximum for every maximum), nothing is expanded
-- into days.

with

allocation_versions as not materialized (

    select * from staging.allocation_versions

),

settings as (

    select cast(make_date(year(cast($as_of as date)), 12, 31) as date) as horizon_end

),

versions as (

    select
        allocation_versions.*,
        cast(decided_on as date) as valid_from,
        coalesce(
            cast(lead(decided_on) over (partition by municipality_code, law, allocation_number order by decided_on) as date),
            date '9999-12-31'
        ) as valid_to
    from allocation_versions

),

in_force as (

    select
        municipality_code,
        law,
        allocation_number,
        valid_from,
        valid_to,
        client_id,
        provider_agb,
        product_category,
        product_code,
        cast(
            coalesce(
                variant,
                case
                    when volume is not null and unit in ('01', '04', '14', '16', '84')
                        then 'inspanning'
                    when volume is not null and unit in ('82', '83') then 'output'
                    when budget_eur is not null then 'budget'
                    else 'none'
                end
            ) as varchar
        ) as variant,
        unit,
        frequency,
        cast(volume as double) as volume,
        cast(budget_eur as decimal(18, 2)) as budget_eur,
        cast(start_date as date) as start_date,
        cast(end_date as date) as end_date
    from versions
    where not coalesce(is_deleted, false)
        and coalesce(change_reason, '') <> '13'
        and start_date is not null

),

allocation_spans as (

    select
        in_force.*,
        cast(least(coalesce(in_force.end_date, settings.horizon_end), settings.horizon_end) as date)
            as horizon_last_day,
        in_force.law = 'wmo' and in_force.product_category = '01' as is_huishoudelijke_hulp
    from in_force
    cross join settings

),

allocation_months as (

    select
        allocation_spans.*,
        cast(
            unnest(
                generate_series(
                    cast(date_trunc('month', start_date) as date),
                    cast(date_trunc('month', horizon_last_day) as date),
                    interval 1 month
                )
            ) as date
        ) as month
    from allocation_spans

),

periods as (

    select
        allocation_months.*,
        cast(year(month) as integer) as year,
        cast(greatest(start_date, month) as date) as period_start,
        cast(least(coalesce(end_date, last_day(month)), last_day(month)) as date) as period_end,
        -- the part of the allocation inside the row's year (for the yearly allowance)
        cast(greatest(start_date, make_date(year(month), 1, 1)) as date) as year_part_start,
        cast(
            least(
                coalesce(end_date, make_date(year(month), 12, 31)),
                make_date(year(month), 12, 31)
            ) as date
        ) as year_part_end
    from allocation_months

),

-- the week, Sunday and month arithmetic of §3 is the macro volume_maximum (pipeline/sql.py), over
-- the month's period, the whole allocation and the part of it in the row's year
maxima as (

    select
        periods.*,
        cast(date_diff('day', period_start, period_end) + 1 as integer) as days_in_period,
        cast(iso_weeks_touched(period_start, period_end) as integer) as iso_weeks_in_period,
        cast(sundays_between(period_start, period_end) as integer) as sundays_in_period,
        cast(
            case
                -- a total volume has no monthly maximum
                when frequency = '6' then null
                when frequency = '2' and variant = 'inspanning' and is_huishoudelijke_hulp
                    and volume is not null
                    then 6 * volume
                else volume_maximum(frequency, variant, volume, period_start, period_end, end_date)
            end as double
        ) as max_volume,
        -- over the whole allocation: only when it has an end
        cast(
            case
                when end_date is not null
                    then volume_maximum(frequency, variant, volume, start_date, end_date, end_date)
            end as double
        ) as total_max_volume,
        cast(
            volume_maximum(frequency, variant, volume, year_part_start, year_part_end, end_date)
            as double
        ) as year_allowance
    from periods

),

final as (

    select
        maxima.municipality_code,
        maxima.law,
        maxima.allocation_number,
        maxima.valid_from,
        maxima.valid_to,
        maxima.client_id,
        maxima.provider_agb,
        maxima.product_category,
        maxima.product_code,
        maxima.variant,
        maxima.unit,
        maxima.frequency,
        maxima.volume,
        maxima.budget_eur,
        maxima.start_date,
        maxima.end_date,
        maxima.month,
        maxima.year,
        maxima.period_start,
        maxima.period_end,
        maxima.days_in_period,
        maxima.iso_weeks_in_period,
        maxima.sundays_in_period,
        maxima.max_volume,
        maxima.total_max_volume,
        maxima.year_allowance
    from maxima

)

select * from final
