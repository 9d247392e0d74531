-- metrics.md §3: the maximum volume per allocation and calendar month (iWmo IV076-IV078, TR321,
-- TR322), the maximum over the whole allocation and the yearly allowance of §4.
-- One row per allocation in force at $as_of x month, from the month of start_date to the month of
-- min(end_date, 31 December of the $as_of year). Week, Sunday and month counts are arithmetic on
-- day numbers (the macros of pipeline/sql.py, volume_maximum for every maximum), nothing is expanded
-- into days.

-- The version in force at $as_of is the one of marts.allocation_version_months whose validity holds
-- $as_of.

with

allocation_version_months as not materialized (

    select * from marts.allocation_version_months

),

final as (

    select
        municipality_code,
        law,
        allocation_number,
        client_id,
        provider_agb,
        product_category,
        product_code,
        variant,
        unit,
        frequency,
        volume,
        budget_eur,
        start_date,
        end_date,
        month,
        year,
        period_start,
        period_end,
        days_in_period,
        iso_weeks_in_period,
        sundays_in_period,
        max_volume,
        total_max_volume,
        year_allowance,
        cast(
            cast(last_day(month) + to_months(cast($maturity_months as integer)) as date)
                <= cast($as_of as date) as boolean
        ) as is_mature,
        cast(month > cast($as_of as date) as boolean) as is_after_as_of
    from allocation_version_months
    -- $as_of in the filter: a partial build's row ids then reach the scan
    where valid_from <= cast($as_of as date) and valid_to > cast($as_of as date)

)

select * from final
