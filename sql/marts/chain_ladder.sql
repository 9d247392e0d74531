-- declarations still to come (metrics.md §9), the one implementation read by §7 and §10.
-- one row per payer × provider × service month, from the provider's first service month to the month of
-- $as_of (months without lines included: a provider that declares late by habit still has its current
-- month expected). lines not rejected as of $as_of, submitted by $as_of; lag k = submission month −
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
        cast($as_of as date) as as_of,
        cast(date_trunc('month', cast($as_of as date)) as date) as as_of_month,
        cast($chain_ladder_max_lag as integer) as max_lag
),

counted_lines as not materialized (
    select
        payer_lines.payer_kind,
        payer_lines.payer_code,
        payer_lines.law,
        payer_lines.provider_agb,
        payer_lines.month,
        least(
            greatest(cast(datediff('month', payer_lines.month, payer_lines.submission_month) as integer), 0),
            params.max_lag
        ) as lag,
        payer_lines.net_amount_eur
    from payer_lines
    cross join params
    where payer_lines.status <> 'rejected'
        and payer_lines.submitted_date <= params.as_of
        and payer_lines.month <= params.as_of_month
),

provider_sums as (
    select
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
        payer_kind,
        payer_code,
        law,
        provider_agb,
        min(month) as first_month
    from provider_sums
    group by all
),

provider_months as (
    -- every month from the provider's first service month to the month of $as_of
    select
        provider_spans.payer_kind,
        provider_spans.payer_code,
        provider_spans.law,
        provider_spans.provider_agb,
        cast(span.month as date) as month,
        least(cast(datediff('month', cast(span.month as date), params.as_of_month) as integer), params.max_lag)
            as lag_observed,
        coalesce(provider_sums.declared_eur, 0) as declared_eur
    from provider_spans
    cross join params
    cross join lateral (
        select unnest(generate_series(
            cast(provider_spans.first_month as timestamp), cast(params.as_of_month as timestamp), interval 1 month
        )) as month
    ) as span
    left join provider_sums
        on provider_sums.payer_kind = provider_spans.payer_kind
        and provider_sums.payer_code = provider_spans.payer_code
        and provider_sums.law is not distinct from provider_spans.law
        and provider_sums.provider_agb = provider_spans.provider_agb
        and provider_sums.month = cast(span.month as date)
),

payer_cells as (
    select
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
        payer_kind,
        payer_code,
        law,
        month,
        lag_observed
    from provider_months
),

lags as (
    select cast(unnest(range(0, max_lag + 1)) as integer) as lag
    from params
),

cumulative as (
    -- c(i, k) for every observed lag k ≤ lag_observed(i)
    select
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
        on payer_cells.payer_kind = payer_months.payer_kind
        and payer_cells.payer_code = payer_months.payer_code
        and payer_cells.law is not distinct from payer_months.law
        and payer_cells.month = payer_months.month
        and payer_cells.lag <= lags.lag
    group by all
),

factor_sums as (
    select
        this_lag.payer_kind,
        this_lag.payer_code,
        this_lag.law,
        this_lag.lag,
        sum(next_lag.cumulative_eur) as next_eur,
        sum(this_lag.cumulative_eur) as this_eur
    from cumulative as this_lag
    inner join cumulative as next_lag
        on next_lag.payer_kind = this_lag.payer_kind
        and next_lag.payer_code = this_lag.payer_code
        and next_lag.law is not distinct from this_lag.law
        and next_lag.month = this_lag.month
        and next_lag.lag = this_lag.lag + 1
    group by all
),

payers as (
    select distinct
        payer_kind,
        payer_code,
        law
    from payer_months
),

factors as (
    select
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
    cross join params
    left join factor_sums
        on factor_sums.payer_kind = payers.payer_kind
        and factor_sums.payer_code = payers.payer_code
        and factor_sums.law is not distinct from payers.law
        and factor_sums.lag = lags.lag
    where lags.lag < params.max_lag
),

remaining as (
    select
        payer_months.payer_kind,
        payer_months.payer_code,
        payer_months.law,
        payer_months.month,
        coalesce(product(factors.factor), cast(1 as double)) as remaining_factor
    from payer_months
    left join factors
        on factors.payer_kind = payer_months.payer_kind
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
        on remaining.payer_kind = provider_months.payer_kind
        and remaining.payer_code = provider_months.payer_code
        and remaining.law is not distinct from provider_months.law
        and remaining.month = provider_months.month
),

developed as (
    -- per developed month (p ≥ 0.8): the mean chain-ladder ultimate of it and the provider's two
    -- developed months before it, the prior of every later month up to the next developed one
    select
        payer_kind,
        payer_code,
        law,
        provider_agb,
        month,
        avg(chain_ladder_ultimate_eur) over (
            partition by payer_kind, payer_code, law, provider_agb
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
        on developed.payer_kind = chain_ladder_months.payer_kind
        and developed.payer_code = chain_ladder_months.payer_code
        and coalesce(developed.law, '') = coalesce(chain_ladder_months.law, '')
        and developed.provider_agb = chain_ladder_months.provider_agb
        and chain_ladder_months.month > developed.month
),

final as (
    select
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
