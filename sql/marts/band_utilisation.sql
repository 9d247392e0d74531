-- metrics.md §5: hours per week against the product's band [L, U], per allocation.
-- The window is the allocation's observed days (from its start, or from the first month of its
-- payer's observation window when it started earlier, §1) up to the end of its last mature month;
-- allocations with under 28 days in the window are left out. Hours are the hours a provider
-- registered for the allocation (staging.delivered_hours) when there are any in the window, otherwise
-- the declared net hours (approved + pending, staging column `hours`) of the mature months.
-- Registered hours were delivered within the allocation: a registered week or month counts whole,
-- also where it begins before the allocation's start or ends after its end. Only where the window
-- is cut short of the allocation (at the end of the last mature month, or at the first observed
-- month) is a registered period crossing the cut split, pro rata by its days inside the window. The
-- product version is the one that applies at the allocation's start, or else the latest
-- (staging.allocation_products).
with

allocation_months as not materialized (

    select * from marts.allocation_months

),

allocation_products as not materialized (

    select * from staging.allocation_products

),

delivered_hours as not materialized (

    select * from staging.delivered_hours

),

mature_allocations as (

    select
        municipality_code,
        law,
        allocation_number,
        -- the allocation's attributes are the same in each of its months: any_value, so the
        -- grouping hashes the key only
        any_value(client_id) as client_id,
        any_value(provider_agb) as provider_agb,
        any_value(product_category) as product_category,
        any_value(product_code) as product_code,
        any_value(unit) as unit,
        any_value(start_date) as start_date,
        any_value(end_date) as end_date,
        -- the allocation's start, or its payer's first observed month when it started earlier (§1)
        any_value(observed_start) as observed_start,
        max(month) as last_mature_month,
        sum(declared_hours) as declared_hours,
        sum(hour_lines) as hour_lines
    from allocation_months
    where is_mature
    group by municipality_code, law, allocation_number

),

windows as (

    select
        mature_allocations.*,
        observed_start as window_start,
        cast(
            least(coalesce(end_date, last_day(last_mature_month)), last_day(last_mature_month))
            as date
        ) as window_end
    from mature_allocations

),

-- the product version per product, law, category and start date (staging.allocation_products:
-- the one that applies at the start, or else the latest), picked once per combination rather than
-- once per allocation
product_picks as (

    select
        combos.law,
        combos.product_category,
        combos.product_code,
        combos.start_date,
        allocation_products.band_min_hours_per_week,
        allocation_products.band_max_hours_per_week,
        allocation_products.reference_hours_per_week,
        allocation_products.rekenfactor
    from (select distinct law, product_category, product_code, start_date from windows) as combos
    inner join allocation_products
        on allocation_products.product_code = combos.product_code
        and allocation_products.law = combos.law
        and allocation_products.product_category = combos.product_category
        and (
            combos.start_date between allocation_products.applies_from and allocation_products.applies_to
            or allocation_products.is_latest
        )
    qualify row_number() over (
        partition by combos.law, combos.product_category, combos.product_code, combos.start_date
        order by
            (combos.start_date between allocation_products.applies_from and allocation_products.applies_to) desc
    ) = 1

),

windows_with_products as (

    select
        windows.*,
        product_picks.band_min_hours_per_week,
        product_picks.band_max_hours_per_week,
        product_picks.reference_hours_per_week,
        product_picks.rekenfactor
    from windows
    inner join product_picks
        on product_picks.product_code = windows.product_code
        and product_picks.law = windows.law
        and product_picks.product_category is not distinct from windows.product_category
        and product_picks.start_date is not distinct from windows.start_date

),

banded as (

    select
        *,
        cast(date_diff('day', window_start, window_end) + 1 as integer) as days_in_window
    from windows_with_products
    where band_min_hours_per_week is not null
        and band_max_hours_per_week is not null
        and band_max_hours_per_week > band_min_hours_per_week

),

registered as (

    select
        banded.municipality_code,
        banded.law,
        banded.allocation_number,
        sum(
            delivered_hours.hours
            * (
                date_diff(
                    'day',
                    -- cut only at a window edge that is not the allocation's own start or end
                    case
                        when banded.window_start > banded.start_date
                            then greatest(delivered_hours.period_start, banded.window_start)
                        else delivered_hours.period_start
                    end,
                    case
                        when banded.end_date is null or banded.window_end < banded.end_date
                            then least(delivered_hours.period_end, banded.window_end)
                        else delivered_hours.period_end
                    end
                ) + 1
            )
            / (date_diff('day', delivered_hours.period_start, delivered_hours.period_end) + 1)
        ) as registered_hours
    from banded
    inner join delivered_hours
        on delivered_hours.municipality_code = banded.municipality_code
        and delivered_hours.law = banded.law
        and delivered_hours.allocation_number = banded.allocation_number
    where delivered_hours.period_start <= banded.window_end
        and delivered_hours.period_end >= banded.window_start
    group by banded.municipality_code, banded.law, banded.allocation_number

),

rates as (

    select
        banded.*,
        cast(coalesce(registered.registered_hours, banded.declared_hours, 0) as double) as hours,
        cast(
            case
                when registered.registered_hours is not null then 'delivered_hours'
                else 'declarations'
            end
            as varchar
        ) as hours_source,
        cast(banded.days_in_window / 7.0 as double) as weeks_in_care
    from banded
    left join registered
        on registered.municipality_code = banded.municipality_code
        and registered.law = banded.law
        and registered.allocation_number = banded.allocation_number
    where banded.days_in_window >= 28
        -- an hour measure must exist: registered hours, or declarations in hour units; an output
        -- product declared in stuks without registered hours says nothing about hours
        and (
            registered.registered_hours is not null
            or banded.hour_lines > 0
            or banded.unit in ('01', '04', '16')
        )

),

positions as (

    select
        rates.*,
        cast(hours / weeks_in_care as double) as hours_per_week
    from rates

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
        start_date,
        end_date,
        window_start,
        window_end,
        days_in_window,
        weeks_in_care,
        hours,
        hours_source,
        hours_per_week,
        band_min_hours_per_week,
        band_max_hours_per_week,
        reference_hours_per_week,
        rekenfactor,
        cast(
            (hours_per_week - band_min_hours_per_week)
            / (band_max_hours_per_week - band_min_hours_per_week) as double
        ) as band_position,
        cast(
            case
                when hours_per_week < band_min_hours_per_week then 'below'
                when hours_per_week > band_max_hours_per_week then 'above'
                when 3 * (hours_per_week - band_min_hours_per_week)
                    < (band_max_hours_per_week - band_min_hours_per_week) then 'low'
                when 3 * (hours_per_week - band_min_hours_per_week)
                    < 2 * (band_max_hours_per_week - band_min_hours_per_week) then 'mid'
                else 'high'
            end as varchar
        ) as band_class
    from positions

)

select * from final
