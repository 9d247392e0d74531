-- commitments (verplichtingen, metrics.md §10): one row per reporting date (as_of, from $as_of_dates: the
-- published build has one, the forecast history every month end, §14) × allocation still running after
-- as_of, with what the rest of its year is expected to cost. The allocation is the version in force at
-- as_of (marts.allocation_version_months). Volume allocations: the maxima (§3) of the remaining months ×
-- the product's tariff × its expected utilisation (delivered ÷ max over the mature months of all its
-- allocations in the twelve months up to as_of, as the allocation_months mart counts them at as_of; 1
-- without history). Budget and total-volume allocations: their remainder pro rata by days; products
-- priced per four weeks: one tariff per CAK period they touch. An allocation whose care stopped for
-- good (§10, §15: a stop of staging.stops_for_good known by as_of and not resumed by a start known by
-- then) runs only to its stop date, whatever its end date says: nothing is committed after it.
-- Everything that depends on the reporting date is an interval of dates a row counts for (a version's
-- validity, a line's answer and rejection, a month's maturity), so every date is computed in one pass.
-- Read by budget_exhaustion and allocation_totals.
with

allocation_version_months as not materialized (
    select * from marts.allocation_version_months
),

declaration_lines as not materialized (
    select * from staging.declaration_lines
),

-- the product version that applies on a day (versions never overlap there: a join finds one)
allocation_products as not materialized (
    select * from staging.allocation_products
),

cak_periods as not materialized (
    select * from staging.cak_periods
),

-- stops for good with the days they hold (not temporary, not resumed by a later start)
stops_for_good as not materialized (
    select * from staging.stops_for_good
),

observation_windows as (
    select * from staging.observation_windows
    where payer_kind = 'municipality'
),

params as (
    select
        as_of,
        cast(year(as_of) as integer) as as_of_year,
        make_date(year(as_of), 12, 31) as year_end
    from (select unnest(cast($as_of_dates as date[])) as as_of)
),

-- the months of each version that the allocation_months mart observes (from its payer's window, §1)
observed_months as (
    select
        allocation_version_months.*,
        cast(
            greatest(
                allocation_version_months.start_date,
                coalesce(observation_windows.first_month, allocation_version_months.start_date)
            ) as date
        ) as observed_start
    from allocation_version_months
    left join observation_windows
        on observation_windows.payer_code = allocation_version_months.municipality_code
        and observation_windows.law = allocation_version_months.law
    where allocation_version_months.month >= coalesce(observation_windows.first_month, allocation_version_months.month)
),

-- the declaration lines split over the months of their period (as the allocation_months mart splits them),
-- with the days from which they count as approved (delivered) and as declared (approved or pending)
line_shares as (
    select
        municipality_code,
        law,
        allocation_number,
        month,
        cast(volume_alloc_unit as double) * share as volume,
        cast(net_amount_eur as double) * share as amount_eur,
        -- a line without an answer is never approved (greatest() would pass over the null)
        case when answered_on is not null then greatest(declared_on, answered_on) else date '9999-12-31' end
            as approved_from,
        declared_on as declared_from,
        coalesce(rejected_on, date '9999-12-31') as counted_to
    from (
        select
            *,
            cast(
                (date_diff('day', greatest(period_start, month), least(period_end, last_day(month))) + 1)
                / (date_diff('day', period_start, period_end) + 1) as double
            ) as share
        from (
            select
                *,
                cast(unnest(generate_series(
                    cast(date_trunc('month', period_start) as date),
                    cast(date_trunc('month', period_end) as date),
                    interval 1 month
                )) as date) as month
            from (
                select
                    municipality_code,
                    law,
                    allocation_number,
                    volume_alloc_unit,
                    net_amount_eur,
                    declared_on,
                    answered_on,
                    rejected_on,
                    cast(period_start as date) as period_start,
                    cast(coalesce(period_end, period_start) as date) as period_end
                from declaration_lines
                where period_start is not null
            )
        )
    )
),

-- expected utilisation ----------------------------------------------------------------------------

utilisation_months as (
    -- a version's month counts at as_of while the version is in force, the month is mature and lies in
    -- the twelve months up to as_of
    select
        municipality_code,
        law,
        allocation_number,
        product_code,
        month,
        max_volume,
        greatest(valid_from, cast(last_day(month) + to_months(cast($maturity_months as integer)) as date)) as counts_from,
        least(valid_to, cast(month + interval 12 month as date)) as counts_to
    from observed_months
    where max_volume is not null
        and product_code is not null
),

utilisation_spans as (
    select law, product_code, counts_from, counts_to, cast(0 as double) as delivered_volume, max_volume
    from utilisation_months
    where counts_from < counts_to
    union all
    select
        utilisation_months.law,
        utilisation_months.product_code,
        greatest(utilisation_months.counts_from, line_shares.approved_from),
        least(utilisation_months.counts_to, line_shares.counted_to),
        line_shares.volume,
        cast(0 as double)
    from utilisation_months
    inner join line_shares
        on line_shares.municipality_code = utilisation_months.municipality_code
        and line_shares.law = utilisation_months.law
        and line_shares.allocation_number = utilisation_months.allocation_number
        and line_shares.month = utilisation_months.month
    where greatest(utilisation_months.counts_from, line_shares.approved_from)
        < least(utilisation_months.counts_to, line_shares.counted_to)
),

utilisation_sums as (
    -- the spans as the reporting dates they hold: from the first date on or after the span's start to
    -- the first on or after its end (exclusive)
    select
        utilisation_spans.law,
        utilisation_spans.product_code,
        first_in.as_of as first_as_of,
        coalesce(first_out.as_of, date '9999-12-31') as end_as_of,
        sum(utilisation_spans.delivered_volume) as delivered_volume,
        sum(utilisation_spans.max_volume) as max_volume
    from utilisation_spans
    asof inner join params as first_in
        on utilisation_spans.counts_from <= first_in.as_of
    asof left join params as first_out
        on utilisation_spans.counts_to <= first_out.as_of
    group by all
),

utilisation as (
    select
        params.as_of,
        utilisation_sums.law,
        utilisation_sums.product_code,
        sum(utilisation_sums.delivered_volume) / nullif(sum(utilisation_sums.max_volume), 0) as expected_utilisation
    from utilisation_sums
    inner join params
        on params.as_of >= utilisation_sums.first_as_of
        and params.as_of < utilisation_sums.end_as_of
    group by all
),

-- allocations running after as_of ------------------------------------------------------------------

final_stops as (
    -- per allocation and reporting date: the earliest stop in force then
    select
        params.as_of,
        stops_for_good.municipality_code,
        stops_for_good.law,
        stops_for_good.allocation_number,
        min(stops_for_good.end_date) as stop_date
    from stops_for_good
    inner join params
        on params.as_of >= stops_for_good.known_from
        and params.as_of < stops_for_good.resumed_from
    group by all
),

versions as (
    -- one row per version (its months share its attributes)
    select
        municipality_code,
        law,
        allocation_number,
        valid_from,
        valid_to,
        any_value(product_category) as product_category,
        any_value(product_code) as product_code,
        any_value(variant) as variant,
        any_value(unit) as unit,
        any_value(frequency) as frequency,
        any_value(volume) as volume,
        any_value(budget_eur) as budget_eur,
        any_value(start_date) as start_date,
        any_value(end_date) as end_date
    from allocation_version_months
    group by municipality_code, law, allocation_number, valid_from, valid_to
),

running_allocations as (
    -- the version in force at as_of, running after it and starting by the end of its year
    select
        params.as_of,
        params.as_of_year,
        versions.*,
        final_stops.stop_date,
        greatest(versions.start_date, params.as_of + 1) as remaining_start,
        -- the part of the remainder that is committed: in the year, and up to a final stop
        least(
            coalesce(versions.end_date, params.year_end),
            params.year_end,
            coalesce(final_stops.stop_date, params.year_end)
        ) as remaining_end_in_year,
        coalesce(versions.end_date, params.year_end) as remaining_end
    from versions
    inner join params
        on versions.valid_from <= params.as_of
        and versions.valid_to > params.as_of
        and coalesce(versions.end_date, params.year_end) > params.as_of
        and versions.start_date <= params.year_end
    left join final_stops
        on final_stops.as_of = params.as_of
        and final_stops.municipality_code = versions.municipality_code
        and final_stops.law = versions.law
        and final_stops.allocation_number = versions.allocation_number
    -- care that stopped for good by as_of runs no more
    where final_stops.stop_date is null or final_stops.stop_date > params.as_of
),

allocation_kinds as (
    select
        running_allocations.*,
        products.tariff_period,
        case
            when running_allocations.variant = 'budget' then 'budget'
            when products.tariff_period = '4weeks' then '4weeks'
            when running_allocations.frequency = '6' then 'total'
            else 'monthly'
        end as commitment_kind,
        coalesce(utilisation.expected_utilisation, cast(1 as double)) as expected_utilisation,
        cast(datediff('day', running_allocations.remaining_start, running_allocations.remaining_end_in_year) + 1 as double)
            / cast(datediff('day', running_allocations.remaining_start, running_allocations.remaining_end) + 1 as double)
            as share_in_year
    from running_allocations
    left join allocation_products as products
        on products.product_code = running_allocations.product_code
        and products.law = running_allocations.law
        and products.product_category = running_allocations.product_category
        and running_allocations.remaining_start between products.applies_from and products.applies_to
    left join utilisation
        on utilisation.as_of = running_allocations.as_of
        and utilisation.law = running_allocations.law
        and utilisation.product_code = running_allocations.product_code
),

-- what each kind commits ----------------------------------------------------------------------------

declared_to_date as (
    -- read only for budget and total-volume allocations: a few of the running ones. Per observed month up
    -- to as_of: the lines approved or pending then (amounts to the cent per month, as allocation_months)
    select
        municipality_code,
        law,
        allocation_number,
        as_of,
        coalesce(sum(declared_volume), 0) as declared_volume,
        coalesce(sum(declared_amount_eur), 0) as declared_amount_eur,
        -- an allocation older than its payer's observation window (§1) used an unknown part of its
        -- budget or volume before it: the observed days' share of it, pro rata, is what the
        -- observed declarations are taken from
        coalesce(
            case
                when any_value(observed_start) > any_value(start_date) and any_value(end_date) is not null
                    then cast(datediff('day', any_value(observed_start), any_value(end_date)) + 1 as double)
                        / cast(datediff('day', any_value(start_date), any_value(end_date)) + 1 as double)
            end,
            1
        ) as observed_share
    from (
        select
            allocation_kinds.as_of,
            observed_months.municipality_code,
            observed_months.law,
            observed_months.allocation_number,
            observed_months.month,
            any_value(observed_months.observed_start) as observed_start,
            any_value(observed_months.start_date) as start_date,
            any_value(observed_months.end_date) as end_date,
            cast(coalesce(sum(line_shares.volume), 0) as double) as declared_volume,
            cast(coalesce(sum(line_shares.amount_eur), 0) as decimal(18, 2)) as declared_amount_eur
        from allocation_kinds
        inner join observed_months
            on observed_months.municipality_code = allocation_kinds.municipality_code
            and observed_months.law = allocation_kinds.law
            and observed_months.allocation_number = allocation_kinds.allocation_number
            and observed_months.valid_from = allocation_kinds.valid_from
            and observed_months.valid_to = allocation_kinds.valid_to
            and observed_months.month <= allocation_kinds.as_of
        left join line_shares
            on line_shares.municipality_code = observed_months.municipality_code
            and line_shares.law = observed_months.law
            and line_shares.allocation_number = observed_months.allocation_number
            and line_shares.month = observed_months.month
            and line_shares.declared_from <= allocation_kinds.as_of
            and line_shares.counted_to > allocation_kinds.as_of
        where allocation_kinds.commitment_kind in ('budget', 'total')
        group by all
    )
    group by all
),

-- the euros each version month commits before the expected utilisation (§10, macro
-- month_commitment_eur, the product version valid at the month's start), for the months some
-- reporting date may still commit (after the first date, up to the end of the last date's year),
-- and per version and year the sums from each month to December. The remaining months of a date are
-- those from the first that starts after it: the month of the start when the allocation starts after
-- the date, else the next month (months run without gaps from the start's month)
month_values as (
    select
        months.municipality_code,
        months.law,
        months.allocation_number,
        months.valid_from,
        months.valid_to,
        months.year,
        months.month,
        months.period_start,
        month_commitment_eur(months.unit, products.unit, products.tariff_period, months.max_volume, products.tariff_eur)
            as month_eur,
        months.unit <> '83' and products.tariff_eur is null as without_tariff
    from allocation_version_months as months
    inner join (select min(as_of) as first_as_of, max(as_of_year) as last_year from params) as bounds
        on months.period_start > bounds.first_as_of
        and months.year <= bounds.last_year
    left join allocation_products as products
        on products.product_code = months.product_code
        and products.law = months.law
        and products.product_category = months.product_category
        and months.period_start between products.applies_from and products.applies_to
    where months.max_volume is not null
),

months_to_december as (
    select
        *,
        sum(month_eur) over to_december as eur_to_december,
        count(*) filter (where without_tariff) over to_december as without_tariff_to_december
    from month_values
    window to_december as (
        partition by municipality_code, law, allocation_number, valid_from, valid_to, year
        order by period_start desc
        rows between unbounded preceding and current row
    )
),

monthly_commitments as (
    -- volume allocations: the maxima of the remaining months in the year × tariff × expected utilisation
    select
        allocation_kinds.as_of,
        allocation_kinds.municipality_code,
        allocation_kinds.law,
        allocation_kinds.allocation_number,
        allocation_kinds.product_category,
        months_to_december.eur_to_december * allocation_kinds.expected_utilisation as committed_eur,
        months_to_december.without_tariff_to_december as months_without_tariff
    from allocation_kinds
    inner join months_to_december
        on months_to_december.municipality_code = allocation_kinds.municipality_code
        and months_to_december.law = allocation_kinds.law
        and months_to_december.allocation_number = allocation_kinds.allocation_number
        and months_to_december.valid_from = allocation_kinds.valid_from
        and months_to_december.valid_to = allocation_kinds.valid_to
        and months_to_december.year = allocation_kinds.as_of_year
        and months_to_december.month = case
            when allocation_kinds.start_date > allocation_kinds.as_of
                then cast(date_trunc('month', allocation_kinds.start_date) as date)
            else cast(date_trunc('month', allocation_kinds.as_of) + interval 1 month as date)
        end
    where allocation_kinds.commitment_kind = 'monthly'
        and allocation_kinds.stop_date is null
),

stopped_month_rows as (
    -- volume allocations whose care stops for good after as_of: the remaining months up to the stop,
    -- the month of the stop with the maximum of its days up to it (§3 with the stop as end)
    select
        allocation_kinds.as_of,
        allocation_kinds.municipality_code,
        allocation_kinds.law,
        allocation_kinds.allocation_number,
        allocation_kinds.product_category,
        allocation_kinds.unit,
        allocation_kinds.expected_utilisation,
        case
            when allocation_kinds.stop_date < months.period_end
                then case
                    when allocation_kinds.law = 'wmo' and allocation_kinds.product_category = '01'
                        and allocation_kinds.frequency = '2' and allocation_kinds.variant = 'inspanning'
                        then months.max_volume
                    else volume_maximum(
                        allocation_kinds.frequency, allocation_kinds.variant, allocation_kinds.volume,
                        months.period_start, allocation_kinds.stop_date,
                        allocation_kinds.stop_date
                    )
                end
            else months.max_volume
        end as max_volume,
        products.tariff_eur,
        products.tariff_period,
        products.unit as product_unit
    from allocation_kinds
    inner join allocation_version_months as months
        on months.municipality_code = allocation_kinds.municipality_code
        and months.law = allocation_kinds.law
        and months.allocation_number = allocation_kinds.allocation_number
        and months.valid_from = allocation_kinds.valid_from
        and months.valid_to = allocation_kinds.valid_to
        and months.year = allocation_kinds.as_of_year
        and months.period_start > allocation_kinds.as_of
        and months.period_start <= allocation_kinds.stop_date
    left join allocation_products as products
        on products.product_code = allocation_kinds.product_code
        and products.law = allocation_kinds.law
        and products.product_category = allocation_kinds.product_category
        and months.period_start between products.applies_from and products.applies_to
    where allocation_kinds.commitment_kind = 'monthly'
        and months.max_volume is not null
),

stopped_commitments as (
    select
        as_of,
        municipality_code,
        law,
        allocation_number,
        product_category,
        sum(month_commitment_eur(unit, product_unit, tariff_period, max_volume, tariff_eur) * expected_utilisation)
            as committed_eur,
        count(*) filter (where unit <> '83' and tariff_eur is null) as months_without_tariff
    from stopped_month_rows
    group by all
),

remaining_cak_periods as (
    -- products priced per four weeks: the cak periods that the rest of the allocation in the year touches,
    -- with the product row valid at the period's start
    select
        allocation_kinds.as_of,
        allocation_kinds.municipality_code,
        allocation_kinds.law,
        allocation_kinds.allocation_number,
        allocation_kinds.product_category,
        allocation_kinds.expected_utilisation,
        cak_periods.period,
        products.tariff_eur
    from allocation_kinds
    inner join cak_periods
        on cak_periods.year = allocation_kinds.as_of_year
        and cak_periods.start_date <= allocation_kinds.remaining_end_in_year
        and cak_periods.end_date >= allocation_kinds.remaining_start
    left join allocation_products as products
        on products.product_code = allocation_kinds.product_code
        and products.law = allocation_kinds.law
        and products.product_category = allocation_kinds.product_category
        and cak_periods.start_date between products.applies_from and products.applies_to
    where allocation_kinds.commitment_kind = '4weeks'
),

four_weekly_commitments as (
    select
        as_of,
        municipality_code,
        law,
        allocation_number,
        product_category,
        sum(cast(tariff_eur as double) * expected_utilisation) as committed_eur,
        count(*) filter (where tariff_eur is null) as months_without_tariff
    from remaining_cak_periods
    group by all
),

remainder_commitments as (
    -- budget and total-volume allocations: what is left of the budget or volume (minus what was declared
    -- up to as_of), spread evenly over the allocation's remaining days; the part that falls in the year
    select
        allocation_kinds.as_of,
        allocation_kinds.municipality_code,
        allocation_kinds.law,
        allocation_kinds.allocation_number,
        allocation_kinds.product_category,
        case
            when allocation_kinds.commitment_kind = 'budget'
                then greatest(
                    cast(allocation_kinds.budget_eur as double) * coalesce(declared_to_date.observed_share, 1)
                        - cast(coalesce(declared_to_date.declared_amount_eur, 0) as double),
                    0
                )
            else greatest(allocation_kinds.volume * coalesce(declared_to_date.observed_share, 1) - coalesce(declared_to_date.declared_volume, 0), 0)
                * coalesce(unit_hours(allocation_kinds.unit) / unit_hours(products.unit), 1)
                * case when allocation_kinds.unit = '83' then cast(1 as double) else cast(products.tariff_eur as double) end
        end * allocation_kinds.share_in_year * allocation_kinds.expected_utilisation as committed_eur,
        case
            when allocation_kinds.commitment_kind = 'total' and allocation_kinds.unit <> '83' and products.tariff_eur is null
                then 1
            else 0
        end as months_without_tariff
    from allocation_kinds
    left join declared_to_date
        on declared_to_date.as_of = allocation_kinds.as_of
        and declared_to_date.municipality_code = allocation_kinds.municipality_code
        and declared_to_date.law = allocation_kinds.law
        and declared_to_date.allocation_number = allocation_kinds.allocation_number
    left join allocation_products as products
        on products.product_code = allocation_kinds.product_code
        and products.law = allocation_kinds.law
        and products.product_category = allocation_kinds.product_category
        and allocation_kinds.remaining_start between products.applies_from and products.applies_to
    where allocation_kinds.commitment_kind in ('budget', 'total')
),

allocation_commitments as (
    select * from monthly_commitments
    union all by name
    select * from stopped_commitments
    union all by name
    select * from four_weekly_commitments
    union all by name
    select * from remainder_commitments
),

final as (
    select
        as_of,
        municipality_code,
        law,
        allocation_number,
        product_category,
        cast(sum(committed_eur) as double) as committed_eur,
        cast(sum(months_without_tariff) as integer) as months_without_tariff
    from allocation_commitments
    group by all
)

select * from final
