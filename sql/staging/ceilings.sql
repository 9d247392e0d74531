-- Ceilings per payer, provider and year. A payer is an insurer when its code appears on
-- wijkverpleging lines, otherwise a municipality.
with source as (
    select * from raw.ceilings
),

insurers as (
    select distinct insurer_code from raw.zvw_declarations
),

ranked as (
    select *, row_number() over (partition by payer_code, provider_agb, year order by source_file desc, source_row desc) as copy_rank
    from source
),

final as (
    select
        cast(r.payer_code as varchar) as payer_code,
        cast(case when i.insurer_code is not null then 'insurer' else 'municipality' end as varchar) as payer_kind,
        cast(r.provider_agb as varchar) as provider_agb,
        cast(r.year as integer) as year,
        cast(r.ceiling_eur as decimal(18, 2)) as ceiling_eur,
        cast(r.max_hours_per_client_month as double) as max_hours_per_client_month,
        cast(r.policy as varchar) as policy,
        cast(r.increase_request_deadline as date) as increase_request_deadline
    from ranked as r
    left join insurers as i on i.insurer_code = r.payer_code
    where r.copy_rank = 1
)

select * from final
