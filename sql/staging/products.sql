-- Product catalogue: one row per product and validity period.
with source as (
    select * from raw.products
),

ranked as (
    select *, row_number() over (partition by product_code, valid_from order by source_file desc, source_row desc) as copy_rank
    from source
),

final as (
    select
        cast(product_code as varchar) as product_code,
        cast(product_category as varchar) as product_category,
        cast(law as varchar) as law,
        cast(description as varchar) as description,
        cast(unit as varchar) as unit,
        cast(tariff_eur as decimal(18, 2)) as tariff_eur,
        cast(tariff_period as varchar) as tariff_period,
        cast(band_min_hours_per_week as double) as band_min_hours_per_week,
        cast(band_max_hours_per_week as double) as band_max_hours_per_week,
        cast(reference_hours_per_week as double) as reference_hours_per_week,
        cast(rekenfactor as double) as rekenfactor,
        cast(valid_from as date) as valid_from,
        cast(valid_to as date) as valid_to
    from ranked
    where copy_rank = 1
)

select * from final
