-- rejections (metrics.md §12): one row per provider × municipality × month of the line's product period ×
-- return_code, over the iwmo/ijw lines declared by $as_of and rejected by $as_of (both laws). a line
-- rejected with several codes counts once under each of them. categories follow
-- ../shared/reference/iwmo/README.md §4.7; 0001 and the declaration-level codes are 'whole declaration',
-- and so is 0233 (a line not assessed because its client or declaration was in error).
with

declaration_lines as not materialized (
    select * from staging.declaration_lines
),

params as (
    select
        cast($as_of as date) as as_of
),

rejected_lines as (
    select
        declaration_lines.provider_agb,
        declaration_lines.municipality_code,
        declaration_lines.month,
        declaration_lines.law,
        declaration_lines.reference_number,
        declaration_lines.net_amount_eur,
        coalesce(nullif(trim(declaration_lines.return_codes), ''), 'unknown') as return_codes
    from declaration_lines
    cross join params
    where declaration_lines.declared_on <= params.as_of
        and declaration_lines.rejected_on <= params.as_of
),

line_codes as (
    select distinct
        provider_agb,
        municipality_code,
        month,
        law,
        reference_number,
        net_amount_eur,
        upper(trim(unnest(string_split(return_codes, ',')))) as return_code
    from rejected_lines
),

categorised as (
    select
        *,
        case
            when return_code in ('9321', '9322', '9369') then 'volume exceeds allocation'
            when return_code in ('9307', '9308', '9387', '9388', '9319') then 'period outside allocation'
            when return_code in ('0611', '9346') then 'tariff or amount'
            when return_code in ('9338', '9384', '8187') then 'no valid allocation'
            when return_code in ('9339', '9340', '9341', 'S329') then 'product or unit'
            when return_code in ('8021', '9389', '9390', '8017') then 'duplicate or credit'
            when return_code in ('0001', '0233', '9333', '8214', '8848', 'S300', '9056') then 'whole declaration'
            else 'other'
        end as category
    from line_codes
    where return_code <> ''
),

final as (
    select
        provider_agb,
        municipality_code,
        month,
        return_code,
        category,
        cast(count(*) as integer) as lines,
        cast(sum(net_amount_eur) as decimal(18, 2)) as amount_eur
    from categorised
    group by all
)

select * from final
