-- Names of municipalities, insurers and providers (data/reference/organisations.csv, optional):
-- one row per kind and code, the latest file's row winning.
with source as (
    select * from raw.organisations
),

ranked as (
    select *, row_number() over (
        partition by kind, code
        order by source_file desc, source_row desc) as copy_rank
    from source
),

final as (
    select
        cast(kind as varchar) as kind,
        cast(code as varchar) as code,
        cast(name as varchar) as name
    from ranked
    where copy_rank = 1
)

select * from final
