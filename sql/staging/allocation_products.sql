-- The product version that applies to an allocation's product on a day, resolved once for the marts
-- that price or band allocations (band_utilisation, allocation_commitments, allocation_totals,
-- rekenfactor; metrics.md §5, §6, §10). One row per law, product category and product code (every
-- combination an allocation version names, and every product of the catalogue with its own law and
-- category) x each product row that fits it: the same code, the product's law and category empty or
-- equal. applies_from .. applies_to are the days the version applies: from its valid_from (empty:
-- always) to its valid_to, or to the day before the next version starts when that is earlier, so the
-- versions of a combination never overlap and a join on a day finds at most one. is_latest marks the
-- latest version, the fallback where none applies on the day.
with

allocation_versions as not materialized (
    select * from staging.allocation_versions
),

products as not materialized (
    select * from staging.products
),

combinations as (
    select distinct law, product_category, product_code
    from allocation_versions
    where product_code is not null and law is not null and product_category is not null

    union

    select distinct law, product_category, product_code
    from products
    where product_code is not null and law is not null and product_category is not null
),

matched as (
    select
        combinations.law,
        combinations.product_category,
        combinations.product_code,
        products.description,
        products.unit,
        products.tariff_eur,
        products.tariff_period,
        products.band_min_hours_per_week,
        products.band_max_hours_per_week,
        products.reference_hours_per_week,
        products.rekenfactor,
        products.valid_from,
        products.valid_to,
        coalesce(products.valid_from, date '1900-01-01') as applies_from
    from combinations
    inner join products
        on products.product_code = combinations.product_code
        and (products.law is null or products.law = combinations.law)
        and (products.product_category is null or products.product_category = combinations.product_category)
    -- one row per start day: a law- or category-specific row before a generic one
    qualify row_number() over (
        partition by combinations.law, combinations.product_category, combinations.product_code, applies_from
        order by (products.law is null), (products.product_category is null), products.valid_to desc nulls first
    ) = 1
),

final as (
    select
        cast(law as varchar) as law,
        cast(product_category as varchar) as product_category,
        cast(product_code as varchar) as product_code,
        cast(description as varchar) as description,
        cast(unit as varchar) as unit,
        cast(tariff_eur as decimal(18, 2)) as tariff_eur,
        cast(tariff_period as varchar) as tariff_period,
        cast(band_min_hours_per_week as double) as band_min_hours_per_week,
        cast(band_max_hours_per_week as double) as band_max_hours_per_week,
        cast(reference_hours_per_week as double) as reference_hours_per_week,
        cast(rekenfactor as double) as rekenfactor,
        cast(valid_from as date) as valid_from,
        cast(valid_to as date) as valid_to,
        cast(applies_from as date) as applies_from,
        cast(
            least(
                coalesce(valid_to, date '9999-12-31'),
                coalesce(
                    lead(applies_from) over (
                        partition by law, product_category, product_code order by applies_from
                    ) - 1,
                    date '9999-12-31'
                )
            ) as date
        ) as applies_to,
        cast(
            row_number() over (
                partition by law, product_category, product_code order by applies_from desc
            ) = 1 as boolean
        ) as is_latest
    from matched
)

select * from final
