-- metrics.md §6: indicated versus realised hours per product, and again per product x provider and
-- product x municipality (column `grain`, provider_agb / municipality_code are null where they are
-- not part of the grain).
-- Indicated hours: for band products (marts.band_utilisation, with a reference_hours_per_week)
-- reference_hours_per_week x weeks_in_care, realised = the hours of the band window, for other
-- allocations in hour units (01 minutes, 04 hours, 16 dagdelen) the monthly maxima of §3 over the
-- mature months in hours, realised = the declared net hours of those months.
-- budget_effect_eur = approved amount in the $as_of year (all allocations of the group) x
-- (implied / contract - 1).

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

settings as (

    select cast($as_of as date) as as_of

),

band_allocations as (

    select
        municipality_code,
        law,
        allocation_number,
        provider_agb,
        product_code,
        cast(reference_hours_per_week * weeks_in_care as double) as indicated_hours,
        cast(hours as double) as realised_hours
    from band_utilisation
    where reference_hours_per_week is not null
        and product_code is not null

),

hour_allocations as (

    select
        allocation_months.municipality_code,
        allocation_months.law,
        allocation_months.allocation_number,
        allocation_months.provider_agb,
        allocation_months.product_code,
        cast(
            sum(
                allocation_months.max_volume
                * case allocation_months.unit
                    when '01' then 1.0 / 60
                    when '16' then 4.0
                    else 1.0
                end
            ) as double
        ) as indicated_hours,
        cast(sum(allocation_months.declared_hours) as double) as realised_hours
    from allocation_months
    anti join band_allocations
        on band_allocations.municipality_code = allocation_months.municipality_code
        and band_allocations.law = allocation_months.law
        and band_allocations.allocation_number = allocation_months.allocation_number
    where allocation_months.is_mature
        and allocation_months.unit in ('01', '04', '16')
        and allocation_months.max_volume is not null
        and allocation_months.product_code is not null
    group by
        allocation_months.municipality_code,
        allocation_months.law,
        allocation_months.allocation_number,
        allocation_months.provider_agb,
        allocation_months.product_code

),

contributions as (

    select * from band_allocations
    union all
    select * from hour_allocations

),

hours_by_grain as (

    select
        cast(
            case
                when grouping(provider_agb) = 0 then 'product_provider'
                when grouping(municipality_code) = 0 then 'product_municipality'
                else 'product'
            end as varchar
        ) as grain,
        product_code,
        provider_agb,
        municipality_code,
        cast(count(*) as integer) as allocations,
        cast(sum(indicated_hours) as double) as indicated_hours,
        cast(sum(realised_hours) as double) as realised_hours
    from contributions
    group by grouping sets (
        (product_code),
        (product_code, provider_agb),
        (product_code, municipality_code)
    )

),

approved_in_year as (

    select
        cast(
            case
                when grouping(allocation_months.provider_agb) = 0 then 'product_provider'
                when grouping(allocation_months.municipality_code) = 0 then 'product_municipality'
                else 'product'
            end as varchar
        ) as grain,
        allocation_months.product_code,
        allocation_months.provider_agb,
        allocation_months.municipality_code,
        sum(allocation_months.approved_amount_eur) as approved_amount_eur
    from allocation_months
    cross join settings
    where allocation_months.year = year(settings.as_of)
        and allocation_months.product_code is not null
    group by grouping sets (
        (allocation_months.product_code),
        (allocation_months.product_code, allocation_months.provider_agb),
        (allocation_months.product_code, allocation_months.municipality_code)
    )

),

-- the contract rekenfactor: the product version that applies at $as_of, or else the latest
contract as (

    select
        allocation_products.product_code,
        allocation_products.rekenfactor
    from allocation_products
    cross join settings
    qualify row_number() over (
        partition by allocation_products.product_code
        order by
            (settings.as_of between allocation_products.applies_from and allocation_products.applies_to) desc,
            allocation_products.applies_from desc
    ) = 1

),

joined as (

    select
        hours_by_grain.*,
        cast(contract.rekenfactor as double) as contract_rekenfactor,
        cast(coalesce(approved_in_year.approved_amount_eur, 0) as decimal(18, 2))
            as approved_amount_eur,
        cast(hours_by_grain.realised_hours / nullif(hours_by_grain.indicated_hours, 0) as double)
            as implied_rekenfactor
    from hours_by_grain
    left join approved_in_year
        on approved_in_year.grain = hours_by_grain.grain
        and approved_in_year.product_code = hours_by_grain.product_code
        and approved_in_year.provider_agb is not distinct from hours_by_grain.provider_agb
        and approved_in_year.municipality_code is not distinct from hours_by_grain.municipality_code
    left join contract
        on contract.product_code = hours_by_grain.product_code

),

final as (

    select
        grain,
        product_code,
        provider_agb,
        municipality_code,
        allocations,
        indicated_hours,
        realised_hours,
        implied_rekenfactor,
        contract_rekenfactor,
        cast(1 - implied_rekenfactor as double) as unused_share,
        approved_amount_eur,
        cast(
            cast(approved_amount_eur as double)
            * (implied_rekenfactor / nullif(contract_rekenfactor, 0) - 1) as decimal(18, 2)
        ) as budget_effect_eur
    from joined

)

select * from final
