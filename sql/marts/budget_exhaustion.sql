-- budget exhaustion (metrics.md §10): one row per municipality × law × product_category (null = the whole
-- law) × year of $as_of, for every budget of that year and for every municipality × law with data.
-- forecast = approved + pending + expected late (§9, marts.chain_ladder) + committed (the rest of the year
-- of every allocation still running after $as_of). the chain ladder's remaining factor is per payer ×
-- the whole law's expected late is the sum of its providers' (Bornhuetter–Ferguson) over the months of the
-- year up to $as_of; a category's is each month's share apportioned by declared amount in the month (in the
-- year to date for a month with nothing declared yet).
with

budgets as not materialized (
    select * from staging.budgets
),

payer_lines as not materialized (
    select * from marts.payer_lines
),

chain_ladder as not materialized (
    select * from marts.chain_ladder
),

params as (
    select
        cast($as_of as date) as as_of,
        cast(date_trunc('month', cast($as_of as date)) as date) as as_of_month,
        cast(year(cast($as_of as date)) as integer) as as_of_year,
        make_date(year(cast($as_of as date)), 12, 31) as year_end
),

-- declared amounts --------------------------------------------------------------------------------

year_lines as (
    select payer_lines.*
    from payer_lines
    cross join params
    where payer_lines.payer_kind = 'municipality'
        and payer_lines.year = params.as_of_year
        and payer_lines.submitted_date <= params.as_of
),

category_months as (
    select
        year_lines.payer_code as municipality_code,
        year_lines.law,
        year_lines.product_category,
        year_lines.month,
        coalesce(sum(year_lines.net_amount_eur) filter (where year_lines.status = 'approved'), 0) as approved_eur,
        coalesce(sum(year_lines.net_amount_eur) filter (where year_lines.status = 'pending'), 0) as pending_eur,
        coalesce(sum(year_lines.net_amount_eur) filter (where year_lines.status <> 'rejected'), 0) as declared_eur
    from year_lines
    group by all
),

month_late as (
    -- §9's expected late (Bornhuetter–Ferguson, per provider) of every month of the year up to $as_of
    select
        chain_ladder.payer_code as municipality_code,
        chain_ladder.law,
        chain_ladder.month,
        sum(chain_ladder.expected_late_eur) as expected_late_eur
    from chain_ladder
    cross join params
    where chain_ladder.payer_kind = 'municipality'
        and chain_ladder.year = params.as_of_year
        and chain_ladder.month <= params.as_of_month
    group by all
),

category_shares as (
    -- a category's share of the declared amount in the month, or in the year to date for a month
    -- that has nothing declared yet (a late month still carries expected late lines)
    select
        municipality_code,
        law,
        product_category,
        month,
        cast(declared_eur as double) / nullif(cast(sum(declared_eur) over (partition by municipality_code, law, month) as double), 0)
            as month_share,
        cast(sum(declared_eur) over (partition by municipality_code, law, product_category) as double)
            / nullif(cast(sum(declared_eur) over (partition by municipality_code, law) as double), 0) as year_share
    from category_months
),

category_late as (
    -- the month's expected late apportioned over the categories; the whole law keeps it all
    select
        month_late.municipality_code,
        month_late.law,
        categories.product_category,
        month_late.month,
        month_late.expected_late_eur * coalesce(in_month.month_share, categories.year_share, 0) as expected_late_eur
    from month_late
    inner join (
        select distinct municipality_code, law, product_category, year_share from category_shares
    ) as categories
        on categories.municipality_code = month_late.municipality_code
        and categories.law = month_late.law
    left join category_shares as in_month
        on in_month.municipality_code = month_late.municipality_code
        and in_month.law = month_late.law
        and in_month.product_category is not distinct from categories.product_category
        and in_month.month = month_late.month
),

declared as (
    select
        municipality_code,
        law,
        product_category,
        cast(grouping(product_category) = 1 as boolean) as is_whole_law,
        sum(approved_eur) as approved_eur,
        sum(pending_eur) as pending_eur
    from category_months
    group by grouping sets ((municipality_code, law, product_category), (municipality_code, law))
),

late as (
    select municipality_code, law, product_category, false as is_whole_law, sum(expected_late_eur) as expected_late_eur
    from category_late
    group by all
    union all
    select municipality_code, law, cast(null as varchar), true, sum(expected_late_eur)
    from month_late
    group by all
),

-- commitments (marts.allocation_commitments) ------------------------------------------------------

allocation_commitments as not materialized (
    select * from marts.allocation_commitments
),

committed as (
    select
        municipality_code,
        law,
        product_category,
        cast(grouping(product_category) = 1 as boolean) as is_whole_law,
        coalesce(sum(committed_eur), 0) as committed_eur,
        cast(count(distinct allocation_number) as integer) as committed_allocations,
        cast(count(distinct allocation_number) filter (where months_without_tariff > 0) as integer)
            as allocations_without_tariff
    from allocation_commitments
    group by grouping sets ((municipality_code, law, product_category), (municipality_code, law))
),

-- rows --------------------------------------------------------------------------------------------

row_keys as (
    select
        budgets.municipality_code,
        budgets.law,
        budgets.product_category,
        budgets.product_category is null as is_whole_law
    from budgets
    cross join params
    where budgets.year = params.as_of_year
    union
    select
        municipality_code,
        law,
        cast(null as varchar) as product_category,
        true as is_whole_law
    from declared
    where is_whole_law
    union
    select
        municipality_code,
        law,
        cast(null as varchar) as product_category,
        true as is_whole_law
    from committed
    where is_whole_law
),

final as (
    select
        row_keys.municipality_code,
        row_keys.law,
        row_keys.product_category,
        params.as_of_year as year,
        params.as_of,
        year_budgets.budget_eur,
        cast(round(coalesce(declared.approved_eur, 0), 2) as decimal(18, 2)) as approved_eur,
        cast(round(coalesce(declared.pending_eur, 0), 2) as decimal(18, 2)) as pending_eur,
        cast(round(coalesce(late.expected_late_eur, 0), 2) as decimal(18, 2)) as expected_late_eur,
        cast(round(coalesce(committed.committed_eur, 0), 2) as decimal(18, 2)) as committed_eur,
        cast(
            round(
                cast(coalesce(declared.approved_eur, 0) as double)
                + cast(coalesce(declared.pending_eur, 0) as double)
                + coalesce(late.expected_late_eur, 0)
                + coalesce(committed.committed_eur, 0),
                2
            ) as decimal(18, 2)
        ) as forecast_eur,
        (
            cast(coalesce(declared.approved_eur, 0) as double)
            + cast(coalesce(declared.pending_eur, 0) as double)
            + coalesce(late.expected_late_eur, 0)
            + coalesce(committed.committed_eur, 0)
        ) / nullif(cast(year_budgets.budget_eur as double), 0) as exhaustion,
        coalesce(committed.committed_allocations, 0) as committed_allocations,
        coalesce(committed.allocations_without_tariff, 0) as allocations_without_tariff
    from row_keys
    cross join params
    left join budgets as year_budgets
        on year_budgets.municipality_code = row_keys.municipality_code
        and year_budgets.law = row_keys.law
        and year_budgets.product_category is not distinct from row_keys.product_category
        and year_budgets.year = params.as_of_year
    left join declared
        on declared.municipality_code = row_keys.municipality_code
        and declared.law = row_keys.law
        and declared.is_whole_law = row_keys.is_whole_law
        and declared.product_category is not distinct from row_keys.product_category
    left join late
        on late.municipality_code = row_keys.municipality_code
        and late.law = row_keys.law
        and late.is_whole_law = row_keys.is_whole_law
        and late.product_category is not distinct from row_keys.product_category
    left join committed
        on committed.municipality_code = row_keys.municipality_code
        and committed.law = row_keys.law
        and committed.is_whole_law = row_keys.is_whole_law
        and committed.product_category is not distinct from row_keys.product_category
)

select * from final
