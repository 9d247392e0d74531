-- rejections (metrics.md §12): one row per provider × municipality × month of the line's product period ×
-- return_code × primary, over the iwmo/ijw lines declared by $as_of and rejected by $as_of (both laws).
-- A line rejected with several codes counts under each of them; exactly one of its codes is `primary`,
-- so sums of lines and amount_eur over the primary rows count every rejected line once. The primary
-- code is the one of the most fundamental category, the first of: whole declaration, no valid
-- allocation, duplicate or credit, period outside allocation, product or unit, tariff or amount,
-- volume exceeds allocation, other; between codes of one category the lowest code. (A line rejected
-- for its allocation and for its volume is primarily an allocation problem; 'volume exceeds
-- allocation' is primary only when nothing else was wrong, as for requested volume in §4.)
-- Categories follow ../shared/reference/iwmo/README.md §4.7 (macro return_code_category).
with

declaration_lines as not materialized (
    select * from staging.declaration_lines
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
    where declaration_lines.declared_on <= cast($as_of as date)
        and declaration_lines.rejected_on <= cast($as_of as date)
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
        return_code_category(return_code) as category
    from line_codes
    where return_code <> ''
),

ranked as (
    select
        *,
        row_number() over (
            partition by provider_agb, law, reference_number
            order by
                case category
                    when 'whole declaration' then 1
                    when 'no valid allocation' then 2
                    when 'duplicate or credit' then 3
                    when 'period outside allocation' then 4
                    when 'product or unit' then 5
                    when 'tariff or amount' then 6
                    when 'volume exceeds allocation' then 7
                    else 8
                end,
                return_code
        ) = 1 as is_primary
    from categorised
),

final as (
    select
        provider_agb,
        municipality_code,
        month,
        return_code,
        category,
        cast(is_primary as boolean) as "primary",
        cast(count(*) as integer) as lines,
        cast(sum(net_amount_eur) as decimal(18, 2)) as amount_eur
    from ranked
    group by all
)

select * from final
