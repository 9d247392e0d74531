-- Budgets per municipality, year, law and product category (null = the whole law).
with source as (
    select * from raw.budgets
),

ranked as (
    select *, row_number() over (
        partition by municipality_code, year, law, coalesce(product_category, '')
        order by source_file desc, source_row desc) as copy_rank
    from source
),

final as (
    select
        cast(municipality_code as varchar) as municipality_code,
        cast(year as integer) as year,
        cast(law as varchar) as law,
        cast(product_category as varchar) as product_category,
        cast(budget_eur as decimal(18, 2)) as budget_eur
    from ranked
    where copy_rank = 1
)

select * from final
