-- metrics.md §4: realisation per allocation (one row per allocation in force at $as_of that has
-- started by $as_of): total maximum and overshoot (TR322, TR369 for budget allocations), peak
-- months and their compensation within the year's allowance, under-use over the mature months and a
-- suggested product whose band holds the realised hours per week (§5). Overshoots and peaks are
-- judged on requested volume (declared + rejected only for exceeding the allocation, §4): a peak
-- month of year Y is compensated when the requested volume of Y stays within Y's allowance.

with

allocation_months as not materialized (

    select * from marts.allocation_months

),

band_utilisation as not materialized (

    select * from marts.band_utilisation

),

allocation_products as not materialized (

    select * from staging.allocation_products

),

allocation_commitments as not materialized (

    select * from marts.allocation_commitments

),

settings as (

    select
        cast($as_of as date) as as_of,
        cast($underuse_threshold as double) as underuse_threshold,
        cast($min_mature_months as integer) as min_mature_months

),

allocation_years as (

    select
        municipality_code,
        law,
        allocation_number,
        year,
        max(year_allowance) as year_allowance,
        sum(requested_volume) as requested_in_year,
        count(*) filter (where period_overshoot) as peak_months
    from allocation_months
    group by municipality_code, law, allocation_number, year

),

peaks as (

    select
        municipality_code,
        law,
        allocation_number,
        sum(peak_months) as peak_months,
        sum(peak_months) filter (where requested_in_year <= year_allowance)
            as compensated_peak_months
    from allocation_years
    group by municipality_code, law, allocation_number

),

allocations as (

    select
        municipality_code,
        law,
        allocation_number,
        -- attributes of the allocation, the same in each of its months (one row per key is
        -- checked): any_value, so the grouping hashes the key only
        any_value(client_id) as client_id,
        any_value(provider_agb) as provider_agb,
        any_value(product_category) as product_category,
        any_value(product_code) as product_code,
        any_value(variant) as variant,
        any_value(unit) as unit,
        any_value(frequency) as frequency,
        any_value(volume) as volume,
        any_value(budget_eur) as budget_eur,
        any_value(start_date) as start_date,
        any_value(end_date) as end_date,
        any_value(total_max_volume) as total_max_volume,
        any_value(observed_start) as observed_start,
        any_value(observed_total_max_volume) as observed_total_max_volume,
        count(*) as months,
        sum(max_volume) as max_volume_to_date,
        sum(delivered_volume) as delivered_volume,
        sum(declared_volume) as declared_volume,
        sum(requested_volume) as requested_volume,
        sum(approved_amount_eur) as approved_amount_eur,
        sum(declared_amount_eur) as declared_amount_eur,
        sum(requested_amount_eur) as requested_amount_eur,
        sum(excess_volume) filter (where period_overshoot) as peak_excess_volume,
        count(*) filter (where is_mature) as mature_months,
        sum(max_volume) filter (where is_mature) as mature_max_volume,
        sum(delivered_volume) filter (where is_mature) as mature_delivered_volume,
        sum(declared_volume) filter (where is_mature) as mature_declared_volume,
        sum(declared_amount_eur) filter (where is_mature) as mature_declared_amount_eur
    from allocation_months
    group by municipality_code, law, allocation_number

),

-- the product versions that apply at $as_of (or else the latest version of each product)
current_products as (

    select allocation_products.*
    from allocation_products
    cross join settings
    where allocation_products.band_min_hours_per_week is not null
        and allocation_products.band_max_hours_per_week is not null
    qualify row_number() over (
        partition by
            allocation_products.law,
            allocation_products.product_category,
            allocation_products.product_code
        order by
            (settings.as_of between allocation_products.applies_from and allocation_products.applies_to) desc,
            allocation_products.applies_from desc
    ) = 1

),

-- a product of the same law and category whose band holds the realised hours per week, for
-- allocations whose own band does not (band_class below or above), the lowest such band wins
suggestions as (

    select
        band_utilisation.municipality_code,
        band_utilisation.law,
        band_utilisation.allocation_number,
        current_products.product_code as suggested_product_code
    from band_utilisation
    inner join current_products
        on current_products.law = band_utilisation.law
        and current_products.product_category = band_utilisation.product_category
        and current_products.product_code <> band_utilisation.product_code
        and band_utilisation.hours_per_week
            between current_products.band_min_hours_per_week
            and current_products.band_max_hours_per_week
    where band_utilisation.band_class in ('below', 'above')
    qualify row_number() over (
        partition by
            band_utilisation.municipality_code,
            band_utilisation.law,
            band_utilisation.allocation_number
        order by current_products.band_min_hours_per_week, current_products.product_code
    ) = 1

),

joined as (

    select
        allocations.*,
        coalesce(peaks.peak_months, 0) as peak_months,
        coalesce(peaks.compensated_peak_months, 0) as compensated_peak_months,
        band_utilisation.hours_per_week,
        band_utilisation.band_class,
        suggestions.suggested_product_code,
        allocation_commitments.committed_eur,
        settings.underuse_threshold,
        settings.min_mature_months
    from allocations
    cross join settings
    left join peaks
        on peaks.municipality_code = allocations.municipality_code
        and peaks.law = allocations.law
        and peaks.allocation_number = allocations.allocation_number
    left join band_utilisation
        on band_utilisation.municipality_code = allocations.municipality_code
        and band_utilisation.law = allocations.law
        and band_utilisation.allocation_number = allocations.allocation_number
    left join suggestions
        on suggestions.municipality_code = allocations.municipality_code
        and suggestions.law = allocations.law
        and suggestions.allocation_number = allocations.allocation_number
    left join allocation_commitments
        on allocation_commitments.municipality_code = allocations.municipality_code
        and allocation_commitments.law = allocations.law
        and allocation_commitments.allocation_number = allocations.allocation_number

),

reasons as (

    select
        joined.*,
        cast(mature_delivered_volume / nullif(mature_max_volume, 0) as double)
            as mature_utilisation,
        cast(
            case
                when mature_months >= 1
                    and coalesce(mature_declared_volume, 0) = 0
                    and coalesce(mature_declared_amount_eur, 0) = 0
                    then 'no_declarations'
                when mature_months >= min_mature_months
                    and mature_max_volume > 0
                    and mature_delivered_volume / mature_max_volume < underuse_threshold
                    then 'low_utilisation'
                when band_class = 'below' then 'below_band'
            end as varchar
        ) as underuse_reason
    from joined

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
        cast(months as integer) as months,
        cast(total_max_volume as double) as total_max_volume,
        -- the observed part (§1): from the allocation's start, or from its payer's first observed
        -- month when it started before it
        cast(observed_start as date) as observed_start,
        cast(observed_total_max_volume as double) as observed_total_max_volume,
        cast(max_volume_to_date as double) as max_volume_to_date,
        cast(delivered_volume as double) as delivered_volume,
        cast(declared_volume as double) as declared_volume,
        cast(requested_volume as double) as requested_volume,
        cast(approved_amount_eur as decimal(18, 2)) as approved_amount_eur,
        cast(declared_amount_eur as decimal(18, 2)) as declared_amount_eur,
        cast(requested_amount_eur as decimal(18, 2)) as requested_amount_eur,
        cast(
            case
                -- what was spent before the window is unknown
                when variant = 'budget' and observed_start > start_date then null
                when variant = 'budget' then approved_amount_eur / nullif(budget_eur, 0)
                else delivered_volume / nullif(observed_total_max_volume, 0)
            end as double
        ) as utilisation,
        cast(
            case
                when variant = 'budget' then coalesce(requested_amount_eur > budget_eur, false)
                -- over the observed part; a total volume started before the window is over when
                -- the observed part alone exceeds it
                else coalesce(
                    requested_volume > coalesce(observed_total_max_volume, total_max_volume), false
                )
            end as boolean
        ) as total_overshoot,
        cast(peak_months as integer) as peak_months,
        cast(compensated_peak_months as integer) as compensated_peak_months,
        cast(coalesce(peak_excess_volume, 0) as double) as peak_excess_volume,
        cast(mature_months as integer) as mature_months,
        cast(mature_max_volume as double) as mature_max_volume,
        cast(mature_delivered_volume as double) as mature_delivered_volume,
        mature_utilisation,
        hours_per_week,
        band_class,
        cast(underuse_reason is not null as boolean) as underused,
        underuse_reason,
        cast(suggested_product_code as varchar) as suggested_product_code,
        -- the rest of the year's expected cost (marts.allocation_commitments), 0 when not running
        cast(round(coalesce(committed_eur, 0), 2) as decimal(18, 2)) as committed_eur
    from reasons

)

select * from final
