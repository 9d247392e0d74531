-- metrics.md §3: the maximum volume per allocation and calendar month (iWmo IV076-IV078, TR321,
-- TR322), the maximum over the whole allocation and the yearly allowance of §4.
-- One row per allocation in force at $as_of x month, from the month of start_date to the month of
-- min(end_date, 31 December of the $as_of year). Week, Sunday and month counts are arithmetic on
-- day numbers (the macros of pipeline/sql.py), nothing is expanded into days.

with

allocation_versions as not materialized (

    select * from staging.allocation_versions

),

settings as (

    select
        cast($as_of as date) as as_of,
        cast(make_date(year(cast($as_of as date)), 12, 31) as date) as horizon_end,
        cast($maturity_months as integer) as maturity_months

),

latest_versions as (

    select allocation_versions.*
    from allocation_versions
    -- $as_of in the filter, not cross-joined from settings: a partial build's row ids then reach the scan
    where cast(allocation_versions.decided_on as date) <= cast($as_of as date)
    qualify row_number() over (
        partition by municipality_code, law, allocation_number
        order by decided_on desc
    ) = 1

),

in_force as (

    select
        municipality_code,
        law,
        allocation_number,
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
    from latest_versions
    where not coalesce(is_deleted, false)
        and coalesce(change_reason, '') <> '13'
        and start_date is not null

),

-- day numbers since a Monday and a Sunday, so that week and Sunday counts become integer arithmetic
allocation_spans as (

    select
        in_force.*,
        cast(least(coalesce(in_force.end_date, settings.horizon_end), settings.horizon_end) as date)
            as horizon_last_day,
        -- the allocation's last Sunday: end_date itself when it is a Sunday
        cast(in_force.end_date - cast(isodow(in_force.end_date) % 7 as integer) as date)
            as last_sunday,
        in_force.end_date is not null and isodow(in_force.end_date) <> 7 as ends_off_sunday,
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

counts as (

    select
        periods.*,
        cast(date_diff('day', period_start, period_end) + 1 as integer) as days_in_period,
        cast(iso_weeks_touched(period_start, period_end) as integer) as iso_weeks_in_period,
        cast(sundays_between(period_start, period_end) as integer) as sundays_in_period,
        cast(
            ends_off_sunday and last_sunday between period_start and period_end as integer
        ) as extra_output_week,
        -- over the whole allocation (only when it has an end)
        cast(date_diff('day', start_date, end_date) + 1 as integer) as allocation_days,
        cast(iso_weeks_touched(start_date, end_date) as integer) as allocation_iso_weeks,
        cast(
            sundays_between(start_date, end_date)
            + cast(ends_off_sunday and last_sunday >= start_date as integer) as integer
        ) as allocation_output_weeks,
        cast(months_touched(start_date, end_date) as integer) as allocation_months_touched,
        -- over the part inside the row's year
        cast(date_diff('day', year_part_start, year_part_end) + 1 as integer) as year_days,
        cast(iso_weeks_touched(year_part_start, year_part_end) as integer) as year_iso_weeks,
        cast(
            sundays_between(year_part_start, year_part_end)
            + cast(
                ends_off_sunday and last_sunday between year_part_start and year_part_end as integer
            ) as integer
        ) as year_output_weeks,
        cast(months_touched(year_part_start, year_part_end) as integer) as year_months_touched
    from periods

),

maxima as (

    select
        counts.*,
        cast(
            case
                when volume is null or variant not in ('inspanning', 'output') then null
                when frequency = '1' then volume * days_in_period
                when frequency = '2' and variant = 'inspanning' and is_huishoudelijke_hulp
                    then 6 * volume
                when frequency = '2' and variant = 'inspanning' then volume * iso_weeks_in_period
                when frequency = '2' and variant = 'output'
                    then volume * (sundays_in_period + extra_output_week)
                when frequency = '4' then volume
            end as double
        ) as max_volume,
        cast(
            case
                when volume is null or variant not in ('inspanning', 'output') then null
                when end_date is null then null
                when frequency = '1' then volume * allocation_days
                when frequency = '2' and variant = 'inspanning' then volume * allocation_iso_weeks
                when frequency = '2' and variant = 'output' then volume * allocation_output_weeks
                when frequency = '4' then volume * allocation_months_touched
                when frequency = '6' then volume
            end as double
        ) as total_max_volume,
        cast(
            case
                when volume is null or variant not in ('inspanning', 'output') then null
                when frequency = '1' then volume * year_days
                when frequency = '2' and variant = 'inspanning' then volume * year_iso_weeks
                when frequency = '2' and variant = 'output' then volume * year_output_weeks
                when frequency = '4' then volume * year_months_touched
                when frequency = '6' then volume
            end as double
        ) as year_allowance
    from counts

),

final as (

    select
        maxima.municipality_code,
        maxima.law,
        maxima.allocation_number,
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
        maxima.year_allowance,
        cast(
            cast(last_day(maxima.month) + to_months(settings.maturity_months) as date)
                <= settings.as_of as boolean
        ) as is_mature,
        cast(maxima.month > settings.as_of as boolean) as is_after_as_of
    from maxima
    cross join settings

)

select * from final
