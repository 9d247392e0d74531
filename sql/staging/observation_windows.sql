-- The observation window of every payer (metrics.md §1): where its observed data begins. One row per
-- payer: a municipality and law (payer_kind 'municipality', iWmo/iJw lines and allocations) or an
-- insurer (payer_kind 'insurer', wijkverpleging lines, law null). first_month is the month of the
-- payer's configured data_start (setting data_start: the most specific of '<code>/<law>', '<code>'
-- and '*'), or else the earliest service month of its loaded declaration lines. A payer with
-- allocations but neither lines nor a data_start has no window (first_month null): its allocations
-- count from their start, as before. Months before first_month were never observed: the allocation
-- marts count an allocation that started earlier from first_month, and judge no month before it.
with

declaration_lines as not materialized (
    select * from staging.declaration_lines
),

zvw_lines as not materialized (
    select * from staging.zvw_lines
),

allocation_versions as not materialized (
    select * from staging.allocation_versions
),

configured as (
    select
        cast(setting.payer as varchar) as payer,
        cast(setting.data_start as date) as data_start
    from (
        select unnest(cast($data_start as struct(payer varchar, data_start date)[])) as setting
    )
),

municipal_lines as (
    select
        municipality_code as payer_code,
        law,
        cast(min(coalesce(month, date_trunc('month', period_start))) as date) as first_declared_month
    from declaration_lines
    where municipality_code is not null and law is not null
    group by municipality_code, law
),

insurer_lines as (
    select
        insurer_code as payer_code,
        cast(min(coalesce(month, date_trunc('month', service_start))) as date) as first_declared_month
    from zvw_lines
    where insurer_code is not null
    group by insurer_code
),

municipal_payers as (
    select payer_code, law from municipal_lines
    union
    select distinct municipality_code, law
    from allocation_versions
    where municipality_code is not null and law is not null
),

payers as (
    select
        'municipality' as payer_kind,
        municipal_payers.payer_code,
        municipal_payers.law,
        municipal_lines.first_declared_month
    from municipal_payers
    left join municipal_lines
        on municipal_lines.payer_code = municipal_payers.payer_code
        and municipal_lines.law = municipal_payers.law

    union all

    select 'insurer', payer_code, null, first_declared_month
    from insurer_lines
),

with_setting as (
    select
        payers.*,
        (
            select configured.data_start
            from configured
            where configured.payer in (payers.payer_code || '/' || payers.law, payers.payer_code, '*')
            order by length(configured.payer) desc
            limit 1
        ) as data_start
    from payers
),

final as (
    select
        cast(payer_kind as varchar) as payer_kind,
        cast(payer_code as varchar) as payer_code,
        cast(law as varchar) as law,
        cast(first_declared_month as date) as first_declared_month,
        cast(data_start as date) as data_start,
        cast(coalesce(date_trunc('month', data_start), first_declared_month) as date) as first_month,
        cast(
            case
                when data_start is not null then 'data_start'
                when first_declared_month is not null then 'declarations'
            end as varchar
        ) as window_source
    from with_setting
)

select * from final
