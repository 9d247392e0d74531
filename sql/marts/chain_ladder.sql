-- declarations still to come (metrics.md §9), the one implementation read by §7 and §10.
-- one row per reporting date (as_of, from $as_of_dates: the published build has one, the forecast history
-- every month end, §14) × payer × provider × service month, from the provider's first service month to the
-- month of as_of (months without lines included: a provider that declares late by habit still has its current
-- month expected). lines not rejected as of as_of, submitted by as_of; lag k = submission month −
-- service month, capped at $chain_ladder_max_lag. development factors f_k = Σ C(i, k+1) ÷ Σ C(i, k) over
-- the payer's service months whose lag k+1 is observed, estimated over all providers of the payer
-- (insurer; municipality × law) and applied per provider; a factor that no month can estimate yet (or
-- whose denominator is zero) counts as 1. the expected ultimate is Bornhuetter–Ferguson's:
-- U = C + (1 − p) × E, p = 1 ÷ F the share already declared, the prior E the mean chain-ladder ultimate
-- C × F of the provider's three latest earlier service months with p ≥ 0.8 (its own chain-ladder
-- ultimate when it has none).
with

payer_lines as not materialized (
    select * from marts.payer_lines
),

params as (
    select
        as_of,
        cast(date_trunc('month', as_of) as date) as as_of_month,
        cast($chain_ladder_max_lag as integer) as max_lag
    from (select unnest(cast($as_of_dates as date[])) as as_of)
),

line_cells as (
    -- the lines grouped by what the reporting date is compared with (a few rows per provider and month)
    select
        payer_kind,
        payer_code,
        law,
        provider_agb,
        month,
        submission_month,
        submitted_date,
        status,
        answered_on,
        rejected_on,
        sum(net_amount_eur) as net_amount_eur
    from payer_lines
    group by all
),

counted_lines as not materialized (
    select
        params.as_of,
        line_cells.payer_kind,
        line_cells.payer_code,
        line_cells.law,
        line_cells.provider_agb,
        line_cells.month,
        least(
            greatest(cast(datediff('month', line_cells.month, line_cells.submission_month) as integer), 0),
            params.max_lag
        ) as lag,
        line_cells.net_amount_eur
    from line_cells
    inner join params
        on line_cells.submitted_date <= params.as_of
        and line_cells.month <= params.as_of_month
    where status_at(line_cells.payer_kind, line_cells.status, line_cells.answered_on, line_cells.rejected_on, params.as_of)
        <> 'rejected'
),

provider_sums as (
    select
        as_of,
        payer_kind,
        payer_code,
        law,
        provider_agb,
        month,
        sum(net_amount_eur) as declared_eur
    from counted_lines
    group by all
),

provider_spans as (
    select
        as_of,
        payer_kind,
        payer_code,
        law,
        provider_agb,
        min(month) as first_month
    from provider_sums
    group by all
),

provider_months as (
    -- every month from the provider's first service month to the month of as_of
    select
        provider_spans.as_of,
        provider_spans.payer_kind,
        provider_spans.payer_code,
        provider_spans.law,
        provider_spans.provider_agb,
        cast(span.month as date) as month,
        least(cast(datediff('month', cast(span.month as date), params.as_of_month) as integer), params.max_lag)
            as lag_observed,
        coalesce(provider_sums.declared_eur, 0) as declared_eur
    from provider_spans
    inner join params
        on params.as_of = provider_spans.as_of
    cross join lateral (
        select unnest(generate_series(
            cast(provider_spans.first_month as timestamp), cast(params.as_of_month as timestamp), interval 1 month
        )) as month
    ) as span
    left join provider_sums
        on provider_sums.as_of = provider_spans.as_of
        and provider_sums.payer_kind = provider_spans.payer_kind
        and provider_sums.payer_code = provider_spans.payer_code
        and provider_sums.law is not distinct from provider_spans.law
        and provider_sums.provider_agb = provider_spans.provider_agb
        and provider_sums.month = cast(span.month as date)
),

payer_cells as (
    select
        as_of,
        payer_kind,
        payer_code,
        law,
        month,
        lag,
        sum(net_amount_eur) as amount_eur
    from counted_lines
    group by all
),

payer_months as (
    select distinct
        as_of,
        payer_kind,
        payer_code,
        law,
        month,
        lag_observed
    from provider_months
),

lags as (
    select cast(unnest(range(0, cast($chain_ladder_max_lag as integer) + 1)) as integer) as lag
),

cumulative as (
    -- c(i, k) for every observed lag k ≤ lag_observed(i)
    select
        payer_months.as_of,
        payer_months.payer_kind,
        payer_months.payer_code,
        payer_months.law,
        payer_months.month,
        payer_months.lag_observed,
        lags.lag,
        coalesce(sum(payer_cells.amount_eur), 0) as cumulative_eur
    from payer_months
    inner join lags
        on lags.lag <= payer_months.lag_observed
    left join payer_cells
        on payer_cells.as_of = payer_months.as_of
        and payer_cells.payer_kind = payer_months.payer_kind
        and payer_cells.payer_code = payer_months.payer_code
        and payer_cells.law is not distinct from payer_months.law
        and payer_cells.month = payer_months.month
        and payer_cells.lag <= lags.lag
    group by all
),

factor_sums as (
    select
        this_lag.as_of,
        this_lag.payer_kind,
        this_lag.payer_code,
        this_lag.law,
        this_lag.lag,
        sum(next_lag.cumulative_eur) as next_eur,
        sum(this_lag.cumulative_eur) as this_eur
    from cumulative as this_lag
    inner join cumulative as next_lag
        on next_lag.as_of = this_lag.as_of
        and next_lag.payer_kind = this_lag.payer_kind
        and next_lag.payer_code = this_lag.payer_code
        and next_lag.law is not distinct from this_lag.law
        and next_lag.month = this_lag.month
        and next_lag.lag = this_lag.lag + 1
    group by all
),

payers as (
    select distinct
        as_of,
        payer_kind,
        payer_code,
        law
    from payer_months
),

factors as (
    select
        payers.as_of,
        payers.payer_kind,
        payers.payer_code,
        payers.law,
        lags.lag,
        case
            when factor_sums.this_eur is null or factor_sums.this_eur = 0 then cast(1 as double)
            else cast(factor_sums.next_eur as double) / cast(factor_sums.this_eur as double)
        end as factor
    from payers
    cross join lags
    left join factor_sums
        on factor_sums.as_of = payers.as_of
        and factor_sums.payer_kind = payers.payer_kind
        and factor_sums.payer_code = payers.payer_code
        and factor_sums.law is not distinct from payers.law
        and factor_sums.lag = lags.lag
    where lags.lag < cast($chain_ladder_max_lag as integer)
),

remaining as (
    select
        payer_months.as_of,
        payer_months.payer_kind,
        payer_months.payer_code,
        payer_months.law,
        payer_months.month,
        coalesce(product(factors.factor), cast(1 as double)) as remaining_factor
    from payer_months
    left join factors
        on factors.as_of = payer_months.as_of
        and factors.payer_kind = payer_months.payer_kind
        and factors.payer_code = payer_months.payer_code
        and factors.law is not distinct from payer_months.law
        and factors.lag >= payer_months.lag_observed
    group by all
),

chain_ladder_months as (
    select
        provider_months.*,
        remaining.remaining_factor,
        cast(provider_months.declared_eur as double) * remaining.remaining_factor as chain_ladder_ultimate_eur,
        case when remaining.remaining_factor > 0 then 1 / remaining.remaining_factor else 1 end as declared_share
    from provider_months
    inner join remaining
        on remaining.as_of = provider_months.as_of
        and remaining.payer_kind = provider_months.payer_kind
        and remaining.payer_code = provider_months.payer_code
        and remaining.law is not distinct from provider_months.law
        and remaining.month = provider_months.month
),

developed as (
    -- per developed month (p ≥ 0.8): the mean chain-ladder ultimate of it and the provider's two
    -- developed months before it, the prior of every later month up to the next developed one
    select
        as_of,
        payer_kind,
        payer_code,
        law,
        provider_agb,
        month,
        avg(chain_ladder_ultimate_eur) over (
            partition by as_of, payer_kind, payer_code, law, provider_agb
            order by month
            rows between 2 preceding and current row
        ) as prior_eur
    from chain_ladder_months
    where declared_share >= 0.8
),

bornhuetter_ferguson as (
    select
        chain_ladder_months.*,
        coalesce(developed.prior_eur, chain_ladder_months.chain_ladder_ultimate_eur) as prior_eur
    from chain_ladder_months
    asof left join developed
        on developed.as_of = chain_ladder_months.as_of
        and developed.payer_kind = chain_ladder_months.payer_kind
        and developed.payer_code = chain_ladder_months.payer_code
        and coalesce(developed.law, '') = coalesce(chain_ladder_months.law, '')
        and developed.provider_agb = chain_ladder_months.provider_agb
        and chain_ladder_months.month > developed.month
),

final as (
    select
        as_of,
        payer_kind,
        payer_code,
        law,
        provider_agb,
        month,
        cast(year(month) as integer) as year,
        lag_observed,
        cast(declared_eur as decimal(18, 2)) as declared_eur,
        remaining_factor,
        declared_share,
        chain_ladder_ultimate_eur,
        prior_eur,
        cast(declared_eur as double) + (1 - declared_share) * prior_eur as expected_ultimate_eur,
        (1 - declared_share) * prior_eur as expected_late_eur
    from bornhuetter_ferguson
)

select * from final
