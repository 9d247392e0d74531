-- commitments (verplichtingen, metrics.md §10): one row per allocation still running after $as_of
-- with what the rest of its year is expected to cost. Volume allocations: the maxima (§3) of the
-- remaining months × the product's tariff × its expected utilisation (delivered ÷ max over the mature
-- months of all its allocations in the twelve months up to $as_of; 1 without history). Budget and
-- total-volume allocations: their remainder pro rata by days; products priced per four weeks: one
-- tariff per CAK period they touch. An allocation whose care stopped for good (§10, §15: a stop in
-- staging.care_events known by $as_of, not temporary, not resumed by a later start) runs only to its
-- stop date, whatever its end date says: nothing is committed after it. Read by budget_exhaustion and
-- allocation_totals.
with

allocation_month_maxima as not materialized (
    select * from marts.allocation_month_maxima
),

allocation_months as not materialized (
    select * from marts.allocation_months
),

-- the product version that applies on a day (versions never overlap there: a join finds one)
allocation_products as not materialized (
    select * from staging.allocation_products
),

cak_periods as not materialized (
    select * from staging.cak_periods
),

care_events as not materialized (
    select * from staging.care_events
),

params as (
    select
        cast($as_of as date) as as_of,
        cast(year(cast($as_of as date)) as integer) as as_of_year,
        make_date(year(cast($as_of as date)), 12, 31) as year_end
),

-- the day care stopped for good, per allocation: the earliest stop known by $as_of (its message sent
-- by then; without a send date, its end date reached) that is not temporary (end_reason 20) and that
-- no start known by $as_of resumes later (deleted events, status 3, are gone in staging)
final_stops as (
    select
        stops.municipality_code,
        stops.law,
        stops.allocation_number,
        min(stops.end_date) as stop_date
    from care_events as stops
    where stops.event = 'stop'
        and not coalesce(stops.is_temporary_stop, false)
        and stops.end_date is not null
        and stops.allocation_number is not null
        and coalesce(stops.sent_on, stops.end_date) <= cast($as_of as date)
        and not exists (
            select 1
            from care_events as starts
            where starts.event = 'start'
                and starts.municipality_code = stops.municipality_code
                and starts.law = stops.law
                and starts.allocation_number = stops.allocation_number
                and starts.start_date > stops.end_date
                and coalesce(starts.sent_on, starts.start_date) <= cast($as_of as date)
        )
    group by stops.municipality_code, stops.law, stops.allocation_number
),

utilisation as (
    -- the product's expected utilisation: delivered ÷ max over the mature months of all its allocations
    -- in the twelve months up to $as_of
    select
        allocation_months.law,
        allocation_months.product_code,
        sum(allocation_months.delivered_volume) / nullif(sum(allocation_months.max_volume), 0) as expected_utilisation
    from allocation_months
    where allocation_months.is_mature
        and allocation_months.max_volume is not null
        and allocation_months.product_code is not null
        and allocation_months.month > cast(date_trunc('month', cast($as_of as date)) as date) - interval 12 month
        and allocation_months.month <= cast($as_of as date)
    group by all
),

running_allocations as (
    select
        allocs.*,
        final_stops.stop_date,
        greatest(allocs.start_date, params.as_of + 1) as remaining_start,
        -- the part of the remainder that is committed: in the year, and up to a final stop
        least(
            coalesce(allocs.end_date, params.year_end),
            params.year_end,
            coalesce(final_stops.stop_date, params.year_end)
        ) as remaining_end_in_year,
        coalesce(allocs.end_date, params.year_end) as remaining_end
    from (
        -- one row per allocation (its months share its attributes): group by the key only
        select
            municipality_code,
            law,
            allocation_number,
            any_value(product_category) as product_category,
            any_value(product_code) as product_code,
            any_value(variant) as variant,
            any_value(unit) as unit,
            any_value(frequency) as frequency,
            any_value(volume) as volume,
            any_value(budget_eur) as budget_eur,
            any_value(start_date) as start_date,
            any_value(end_date) as end_date
        from allocation_month_maxima
        -- running after $as_of and starting by the end of its year (dates are the same in each
        -- month, so the rows are filtered before the grouping)
        where coalesce(end_date, make_date(year(cast($as_of as date)), 12, 31)) > cast($as_of as date)
            and start_date <= make_date(year(cast($as_of as date)), 12, 31)
        group by municipality_code, law, allocation_number
    ) as allocs
    cross join params
    left join final_stops
        on final_stops.municipality_code = allocs.municipality_code
        and final_stops.law = allocs.law
        and final_stops.allocation_number = allocs.allocation_number
    -- care that stopped for good by $as_of runs no more
    where final_stops.stop_date is null or final_stops.stop_date > params.as_of
),

allocation_kinds as (
    select
        running_allocations.*,
        products.tariff_period,
        case
            when running_allocations.variant = 'budget' then 'budget'
            when products.tariff_period = '4weeks' then '4weeks'
            when running_allocations.frequency = '6' then 'total'
            else 'monthly'
        end as commitment_kind,
        coalesce(utilisation.expected_utilisation, cast(1 as double)) as expected_utilisation,
        cast(datediff('day', running_allocations.remaining_start, running_allocations.remaining_end_in_year) + 1 as double)
            / cast(datediff('day', running_allocations.remaining_start, running_allocations.remaining_end) + 1 as double)
            as share_in_year
    from running_allocations
    left join allocation_products as products
        on products.product_code = running_allocations.product_code
        and products.law = running_allocations.law
        and products.product_category = running_allocations.product_category
        and running_allocations.remaining_start between products.applies_from and products.applies_to
    left join utilisation
        on utilisation.law = running_allocations.law
        and utilisation.product_code = running_allocations.product_code
),

declared_to_date as (
    -- read only for budget and total-volume allocations: a few of the running ones
    select
        allocation_months.municipality_code,
        allocation_months.law,
        allocation_months.allocation_number,
        coalesce(sum(allocation_months.declared_volume), 0) as declared_volume,
        coalesce(sum(allocation_months.declared_amount_eur), 0) as declared_amount_eur,
        -- an allocation older than its payer's observation window (§1) used an unknown part of its
        -- budget or volume before it: the observed days' share of it, pro rata, is what the
        -- observed declarations are taken from
        coalesce(
            case
                when any_value(allocation_months.observed_start) > any_value(allocation_months.start_date)
                    and any_value(allocation_months.end_date) is not null
                    then cast(
                        datediff('day', any_value(allocation_months.observed_start), any_value(allocation_months.end_date)) + 1
                        as double
                    ) / cast(
                        datediff('day', any_value(allocation_months.start_date), any_value(allocation_months.end_date)) + 1
                        as double
                    )
            end,
            1
        ) as observed_share
    from allocation_months
    semi join allocation_kinds
        on allocation_kinds.municipality_code = allocation_months.municipality_code
        and allocation_kinds.law = allocation_months.law
        and allocation_kinds.allocation_number = allocation_months.allocation_number
        and allocation_kinds.commitment_kind in ('budget', 'total')
    group by all
),

unit_hours as (
    select * from (values ('01', 1.0 / 60.0), ('04', 1.0), ('16', 4.0)) as unit_hours(unit, hours_per_unit)
),

remaining_month_rows as (
    -- the remaining months in the year of the volume allocations, with the product row valid in the month
    select
        allocation_kinds.municipality_code,
        allocation_kinds.law,
        allocation_kinds.allocation_number,
        allocation_kinds.product_category,
        allocation_kinds.unit,
        allocation_kinds.expected_utilisation,
        allocation_month_maxima.month,
        -- the month of a final stop: the maximum of its days up to the stop (§3 with the stop as end)
        case
            when allocation_kinds.stop_date < allocation_month_maxima.period_end
                then case
                    when allocation_kinds.law = 'wmo' and allocation_kinds.product_category = '01'
                        and allocation_kinds.frequency = '2' and allocation_kinds.variant = 'inspanning'
                        then allocation_month_maxima.max_volume
                    else volume_maximum(
                        allocation_kinds.frequency, allocation_kinds.variant, allocation_kinds.volume,
                        allocation_month_maxima.period_start, allocation_kinds.stop_date,
                        allocation_kinds.stop_date
                    )
                end
            else allocation_month_maxima.max_volume
        end as max_volume,
        products.tariff_eur,
        products.tariff_period,
        products.unit as product_unit
    from allocation_kinds
    inner join allocation_month_maxima
        on allocation_month_maxima.municipality_code = allocation_kinds.municipality_code
        and allocation_month_maxima.law = allocation_kinds.law
        and allocation_month_maxima.allocation_number = allocation_kinds.allocation_number
    left join allocation_products as products
        on products.product_code = allocation_kinds.product_code
        and products.law = allocation_kinds.law
        and products.product_category = allocation_kinds.product_category
        and allocation_month_maxima.period_start between products.applies_from and products.applies_to
    where allocation_kinds.commitment_kind = 'monthly'
        and allocation_month_maxima.max_volume is not null
        and allocation_month_maxima.period_start > cast($as_of as date)
        and allocation_month_maxima.year = year(cast($as_of as date))
        and (allocation_kinds.stop_date is null or allocation_month_maxima.period_start <= allocation_kinds.stop_date)
),

monthly_commitments as (
    -- volume allocations: the maxima of the remaining months in the year × tariff × expected utilisation
    select
        remaining_month_rows.municipality_code,
        remaining_month_rows.law,
        remaining_month_rows.allocation_number,
        remaining_month_rows.product_category,
        sum(
            case
                when remaining_month_rows.unit = '83' then remaining_month_rows.max_volume
                when remaining_month_rows.tariff_period = 'month' then cast(remaining_month_rows.tariff_eur as double)
                else remaining_month_rows.max_volume
                    * coalesce(allocation_unit_hours.hours_per_unit / product_unit_hours.hours_per_unit, 1)
                    * cast(remaining_month_rows.tariff_eur as double)
            end
            * remaining_month_rows.expected_utilisation
        ) as committed_eur,
        count(*) filter (where remaining_month_rows.unit <> '83' and remaining_month_rows.tariff_eur is null)
            as months_without_tariff
    from remaining_month_rows
    left join unit_hours as allocation_unit_hours
        on allocation_unit_hours.unit = remaining_month_rows.unit
    left join unit_hours as product_unit_hours
        on product_unit_hours.unit = remaining_month_rows.product_unit
    group by all
),

remaining_cak_periods as (
    -- products priced per four weeks: the cak periods that the rest of the allocation in the year touches,
    -- with the product row valid at the period's start
    select
        allocation_kinds.municipality_code,
        allocation_kinds.law,
        allocation_kinds.allocation_number,
        allocation_kinds.product_category,
        allocation_kinds.expected_utilisation,
        cak_periods.period,
        products.tariff_eur
    from allocation_kinds
    cross join params
    inner join cak_periods
        on cak_periods.year = params.as_of_year
        and cak_periods.start_date <= allocation_kinds.remaining_end_in_year
        and cak_periods.end_date >= allocation_kinds.remaining_start
    left join allocation_products as products
        on products.product_code = allocation_kinds.product_code
        and products.law = allocation_kinds.law
        and products.product_category = allocation_kinds.product_category
        and cak_periods.start_date between products.applies_from and products.applies_to
    where allocation_kinds.commitment_kind = '4weeks'
),

four_weekly_commitments as (
    select
        municipality_code,
        law,
        allocation_number,
        product_category,
        sum(cast(tariff_eur as double) * expected_utilisation) as committed_eur,
        count(*) filter (where tariff_eur is null) as months_without_tariff
    from remaining_cak_periods
    group by all
),

remainder_commitments as (
    -- budget and total-volume allocations: what is left of the budget or volume (minus what was declared
    -- up to $as_of), spread evenly over the allocation's remaining days; the part that falls in the year
    select
        allocation_kinds.municipality_code,
        allocation_kinds.law,
        allocation_kinds.allocation_number,
        allocation_kinds.product_category,
        case
            when allocation_kinds.commitment_kind = 'budget'
                then greatest(
                    cast(allocation_kinds.budget_eur as double) * coalesce(declared_to_date.observed_share, 1)
                        - cast(coalesce(declared_to_date.declared_amount_eur, 0) as double),
                    0
                )
            else greatest(allocation_kinds.volume * coalesce(declared_to_date.observed_share, 1) - coalesce(declared_to_date.declared_volume, 0), 0)
                * coalesce(allocation_unit_hours.hours_per_unit / product_unit_hours.hours_per_unit, 1)
                * case when allocation_kinds.unit = '83' then cast(1 as double) else cast(products.tariff_eur as double) end
        end * allocation_kinds.share_in_year * allocation_kinds.expected_utilisation as committed_eur,
        case
            when allocation_kinds.commitment_kind = 'total' and allocation_kinds.unit <> '83' and products.tariff_eur is null
                then 1
            else 0
        end as months_without_tariff
    from allocation_kinds
    left join declared_to_date
        on declared_to_date.municipality_code = allocation_kinds.municipality_code
        and declared_to_date.law = allocation_kinds.law
        and declared_to_date.allocation_number = allocation_kinds.allocation_number
    left join allocation_products as products
        on products.product_code = allocation_kinds.product_code
        and products.law = allocation_kinds.law
        and products.product_category = allocation_kinds.product_category
        and allocation_kinds.remaining_start between products.applies_from and products.applies_to
    left join unit_hours as allocation_unit_hours
        on allocation_unit_hours.unit = allocation_kinds.unit
    left join unit_hours as product_unit_hours
        on product_unit_hours.unit = products.unit
    where allocation_kinds.commitment_kind in ('budget', 'total')
),

allocation_commitments as (
    select * from monthly_commitments
    union all by name
    select * from four_weekly_commitments
    union all by name
    select * from remainder_commitments
),

final as (
    select
        municipality_code,
        law,
        allocation_number,
        product_category,
        cast(sum(committed_eur) as double) as committed_eur,
        cast(sum(months_without_tariff) as integer) as months_without_tariff
    from allocation_commitments
    group by all
)

select * from final
