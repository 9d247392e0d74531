-- Every distinct version of every allocation, from both routes (tabular and iWmo 301).
-- The same version delivered twice (same key and decided_on) counts once: the last file wins.
with source as (
    select * from raw.allocations
),

ranked as (
    select
        *,
        row_number() over (
            partition by municipality_code, law, allocation_number, decided_on
            order by source_file desc, source_row desc
        ) as copy_rank
    from source
),

final as (
    select
        cast(municipality_code as varchar) as municipality_code,
        cast(law as varchar) as law,
        cast(allocation_number as varchar) as allocation_number,
        cast(client_id as varchar) as client_id,
        cast(provider_agb as varchar) as provider_agb,
        cast(product_category as varchar) as product_category,
        cast(product_code as varchar) as product_code,
        cast(decided_on as timestamp) as decided_on,
        cast(start_date as date) as start_date,
        cast(end_date as date) as end_date,
        cast(volume as double) as volume,
        cast(unit as varchar) as unit,
        cast(frequency as varchar) as frequency,
        cast(budget_eur as decimal(18, 2)) as budget_eur,
        cast(change_reason as varchar) as change_reason,
        coalesce(change_reason = '13', false) as is_deleted,
        case
            when unit in ('01', '04', '14', '16', '84') then 'inspanning'
            when unit in ('82', '83') then 'output'
            when budget_eur is not null then 'budget'
            else 'none'
        end as variant,
        cast(source_file as varchar) as source_file
    from ranked
    where copy_rank = 1
)

select * from final
