-- budget exhaustion (metrics.md §10): one row per reporting date (as_of, from $as_of_dates: the published
-- build has one, the forecast history every month end, §14) × municipality × law × product_category
-- (null = the whole law) × year of as_of, for every budget of that year and for every municipality × law
-- with data.
-- forecast = approved + pending + expected late (§9, marts.chain_ladder) + committed (the rest of the year
-- of every allocation still running after as_of). the chain ladder's remaining factor is per payer ×
-- the whole law's expected late is the sum of its providers' (Bornhuetter–Ferguson) over the months of the
-- year up to as_of; a category's is each month's share apportioned by declared amount in the month (in the
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
        as_of,
        cast(date_trunc('month', as_of) as date) as as_of_month,
        cast(year(as_of) as integer) as as_of_year,
        make_date(year(as_of), 12, 31) as year_end
    from (select unnest(cast($as_of_dates as date[])) as as_of)
),

-- declared amounts --------------------------------------------------------------------------------

line_cells as (
    -- the municipal lines grouped by what the reporting date is compared with
    select
        payer_kind,
        payer_code as municipality_code,
        law,
        product_category,
        month,
        year,
        submitted_date,
        status,
        answered_on,
        rejected_on,
        sum(net_amount_eur) as net_amount_eur
    from payer_lines
    where payer_kind = 'municipality'
    group by all
),

year_lines as (
    select
        params.as_of,
        line_cells.*,
        status_at(line_cells.payer_kind, line_cells.status, line_cells.answered_on, line_cells.rejected_on,
                  params.as_of) as status_as_of
    from line_cells
    inner join params
        on line_cells.year = params.as_of_year
        and line_cells.submitted_date <= params.as_of
),

category_months as (
    select
        as_of,
        municipality_code,
        law,
        product_category,
        month,
        coalesce(sum(net_amount_eur) filter (where status_as_of = 'approved'), 0) as approved_eur,
        coalesce(sum(net_amount_eur) filter (where status_as_of = 'pending'), 0) as pending_eur,
        coalesce(sum(net_amount_eur) filter (where status_as_of <> 'rejected'), 0) as declared_eur
    from year_lines
    group by all
),

month_late as (
    -- §9's expected late (Bornhuetter–Ferguson, per provider) of every month of the year up to as_of
    select
        chain_ladder.as_of,
        chain_ladder.payer_code as municipality_code,
        chain_ladder.law,
        chain_ladder.month,
        sum(chain_ladder.expected_late_eur) as expected_late_eur
    from chain_ladder
    inner join params
        on params.as_of = chain_ladder.as_of
    where chain_ladder.payer_kind = 'municipality'
        and chain_ladder.year = params.as_of_year
        and chain_ladder.month <= params.as_of_month
    group by all
),

category_shares as (
    -- a category's share of the declared amount in the month, or in the year to date for a month
    -- that has nothing declared yet (a late month still carries expected late lines)
    select
        as_of,
        municipality_code,
        law,
        product_category,
        month,
        cast(declared_eur as double)
            / nullif(cast(sum(declared_eur) over (partition by as_of, municipality_code, law, month) as double), 0)
            as month_share,
        cast(sum(declared_eur) over (partition by as_of, municipality_code, law, product_category) as double)
            / nullif(cast(sum(declared_eur) over (partition by as_of, municipality_code, law) as double), 0) as year_share
    from category_months
),

category_late as (
    -- the month's expected late apportioned over the categories; the whole law keeps it all
    select
        month_late.as_of,
        month_late.municipality_code,
        month_late.law,
        categories.product_category,
        month_late.month,
        month_late.expected_late_eur * coalesce(in_month.month_share, categories.year_share, 0) as expected_late_eur
    from month_late
    inner join (
        select distinct as_of, municipality_code, law, product_category, year_share from category_shares
    ) as categories
        on categories.as_of = month_late.as_of
        and categories.municipality_code = month_late.municipality_code
        and categories.law = month_late.law
    left join category_shares as in_month
        on in_month.as_of = month_late.as_of
        and in_month.municipality_code = month_late.municipality_code
        and in_month.law = month_late.law
        and in_month.product_category is not distinct from categories.product_category
        and in_month.month = month_late.month
),

declared as (
    select
        as_of,
        municipality_code,
        law,
        product_category,
        cast(grouping(product_category) = 1 as boolean) as is_whole_law,
        sum(approved_eur) as approved_eur,
        sum(pending_eur) as pending_eur
    from category_months
    group by grouping sets ((as_of, municipality_code, law, product_category), (as_of, municipality_code, law))
),

late as (
    select as_of, municipality_code, law, product_category, false as is_whole_law, sum(expected_late_eur) as expected_late_eur
    from category_late
    group by all
    union all
    select as_of, municipality_code, law, cast(null as varchar), true, sum(expected_late_eur)
    from month_late
    group by all
),

-- commitments (marts.allocation_commitments) ------------------------------------------------------

allocation_commitments as not materialized (
    select * from marts.allocation_commitments
),

committed as (
    select
        as_of,
        municipality_code,
        law,
        product_category,
        cast(grouping(product_category) = 1 as boolean) as is_whole_law,
        coalesce(sum(committed_eur), 0) as committed_eur,
        cast(count(distinct allocation_number) as integer) as committed_allocations,
        cast(count(distinct allocation_number) filter (where months_without_tariff > 0) as integer)
            as allocations_without_tariff
    from allocation_commitments
    group by grouping sets ((as_of, municipality_code, law, product_category), (as_of, municipality_code, law))
),

-- rows --------------------------------------------------------------------------------------------

row_keys as (
    select
        params.as_of,
        budgets.municipality_code,
        budgets.law,
        budgets.product_category,
        budgets.product_category is null as is_whole_law
    from budgets
    inner join params
        on budgets.year = params.as_of_year
    union
    select
        as_of,
        municipality_code,
        law,
        cast(null as varchar) as product_category,
        true as is_whole_law
    from declared
    where is_whole_law
    union
    select
        as_of,
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
    inner join params
        on params.as_of = row_keys.as_of
    left join budgets as year_budgets
        on year_budgets.municipality_code = row_keys.municipality_code
        and year_budgets.law = row_keys.law
        and year_budgets.product_category is not distinct from row_keys.product_category
        and year_budgets.year = params.as_of_year
    left join declared
        on declared.as_of = row_keys.as_of
        and declared.municipality_code = row_keys.municipality_code
        and declared.law = row_keys.law
        and declared.is_whole_law = row_keys.is_whole_law
        and declared.product_category is not distinct from row_keys.product_category
    left join late
        on late.as_of = row_keys.as_of
        and late.municipality_code = row_keys.municipality_code
        and late.law = row_keys.law
        and late.is_whole_law = row_keys.is_whole_law
        and late.product_category is not distinct from row_keys.product_category
    left join committed
        on committed.as_of = row_keys.as_of
        and committed.municipality_code = row_keys.municipality_code
        and committed.law = row_keys.law
        and committed.is_whole_law = row_keys.is_whole_law
        and committed.product_category is not distinct from row_keys.product_category
)

select * from final
