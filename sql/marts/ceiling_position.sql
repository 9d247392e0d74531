-- ceilings (metrics.md §7): one row per reporting date (as_of, from $as_of_dates: the published build has
-- one, the forecast history every month end, §14) × ceiling of the as_of year (payer_code × provider_agb
-- × year).
-- payers are insurers (wijkverpleging lines) and municipalities (iwmo/ijw lines of both laws, payer_code =
-- municipality_code). lines count when approved as of as_of, with service in the year, submitted by as_of.
-- expected late / ultimate come from marts.chain_ladder (§9), months of the year up to as_of. the run-out
-- date follows the projection (§7): a provider projected over its ceiling runs out within the year.
with

ceilings as not materialized (
    select * from staging.ceilings
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
        cast(12 - month(as_of) as integer) as months_left,
        cast(least(3, month(as_of)) as integer) as run_months,
        cast($run_rate_days as integer) as run_rate_days,
        cast($alert_share_low as double) as alert_share_low,
        cast($alert_share_high as double) as alert_share_high
    from (select unnest(cast($as_of_dates as date[])) as as_of)
),

year_ceilings as (
    select params.as_of, ceilings.*
    from ceilings
    inner join params
        on ceilings.year = params.as_of_year
),

line_cells as (
    -- the lines of pairs with a ceiling, grouped by what the reporting date is compared with; positive_eur
    -- sums the positive lines, never less than the positive amounts of the grouped lines below
    select
        payer_lines.payer_kind,
        payer_lines.payer_code,
        payer_lines.provider_agb,
        payer_lines.year,
        payer_lines.submitted_date,
        payer_lines.status,
        payer_lines.answered_on,
        payer_lines.rejected_on,
        sum(payer_lines.net_amount_eur) as amount_eur,
        sum(payer_lines.net_amount_eur) filter (where payer_lines.net_amount_eur > 0) as positive_eur
    from payer_lines
    semi join ceilings
        on ceilings.payer_kind = payer_lines.payer_kind
        and ceilings.payer_code = payer_lines.payer_code
        and ceilings.provider_agb = payer_lines.provider_agb
        and ceilings.year = payer_lines.year
    group by all
),

realised as (
    -- approved as of as_of, with service in the year, submitted by as_of
    select
        year_ceilings.as_of,
        year_ceilings.payer_kind,
        year_ceilings.payer_code,
        year_ceilings.provider_agb,
        year_ceilings.ceiling_eur,
        coalesce(sum(line_cells.amount_eur), 0) as realised_eur,
        -- the running sum never exceeds the sum of the positive amounts: a pair below its ceiling there
        -- cannot have reached it, and needs no running sum
        coalesce(sum(line_cells.positive_eur), 0) as positive_eur,
        coalesce(
            sum(line_cells.amount_eur) filter (
                where line_cells.submitted_date > year_ceilings.as_of - cast($run_rate_days as integer)
            ),
            0
        ) as run_rate_window_eur
    from year_ceilings
    left join line_cells
        on line_cells.payer_kind = year_ceilings.payer_kind
        and line_cells.payer_code = year_ceilings.payer_code
        and line_cells.provider_agb = year_ceilings.provider_agb
        and line_cells.year = year_ceilings.year
        and line_cells.submitted_date <= year_ceilings.as_of
        and status_at(line_cells.payer_kind, line_cells.status, line_cells.answered_on, line_cells.rejected_on,
                      year_ceilings.as_of) = 'approved'
    group by all
),

approved_lines as (
    -- one row per line of a pair that may have reached its ceiling: its approved net amount with service in
    -- the year (a legacy line split over months counts with its part in the year)
    select
        realised.as_of,
        payer_lines.payer_kind,
        payer_lines.payer_code,
        payer_lines.provider_agb,
        payer_lines.law,
        payer_lines.reference_number,
        payer_lines.submitted_on,
        payer_lines.submitted_date,
        sum(payer_lines.net_amount_eur) as amount_eur
    from payer_lines
    inner join realised
        on realised.payer_kind = payer_lines.payer_kind
        and realised.payer_code = payer_lines.payer_code
        and realised.provider_agb = payer_lines.provider_agb
        and year(realised.as_of) = payer_lines.year
        and payer_lines.submitted_date <= realised.as_of
    where realised.positive_eur >= realised.ceiling_eur
        and status_at(payer_lines.payer_kind, payer_lines.status, payer_lines.answered_on, payer_lines.rejected_on,
                      realised.as_of) = 'approved'
    group by all
),

running_lines as (
    select
        approved_lines.*,
        realised.ceiling_eur,
        sum(approved_lines.amount_eur) over (
            partition by approved_lines.as_of, approved_lines.payer_kind, approved_lines.payer_code,
                approved_lines.provider_agb
            order by approved_lines.submitted_on, approved_lines.reference_number, approved_lines.law
            rows between unbounded preceding and current row
        ) as running_eur
    from approved_lines
    inner join realised
        on realised.as_of = approved_lines.as_of
        and realised.payer_kind = approved_lines.payer_kind
        and realised.payer_code = approved_lines.payer_code
        and realised.provider_agb = approved_lines.provider_agb
),

reached as (
    select
        as_of,
        payer_kind,
        payer_code,
        provider_agb,
        min(submitted_date) as ceiling_reached_on
    from running_lines
    where running_eur >= ceiling_eur
    group by all
),

ultimates as (
    select
        year_ceilings.as_of,
        year_ceilings.payer_kind,
        year_ceilings.payer_code,
        year_ceilings.provider_agb,
        coalesce(sum(chain_ladder.expected_late_eur), 0) as expected_late_eur,
        coalesce(sum(chain_ladder.expected_ultimate_eur), 0) as expected_ultimate_eur,
        coalesce(
            sum(chain_ladder.expected_ultimate_eur) filter (
                where chain_ladder.month > params.as_of_month - to_months(params.run_months)
            ),
            0
        ) / cast(params.run_months as double) as mean_recent_ultimate_eur
    from year_ceilings
    inner join params
        on params.as_of = year_ceilings.as_of
    left join chain_ladder
        on chain_ladder.as_of = year_ceilings.as_of
        and chain_ladder.payer_kind = year_ceilings.payer_kind
        and chain_ladder.payer_code = year_ceilings.payer_code
        and chain_ladder.provider_agb = year_ceilings.provider_agb
        and year(chain_ladder.month) = params.as_of_year
        and chain_ladder.month <= params.as_of_month
    group by
        year_ceilings.as_of,
        year_ceilings.payer_kind,
        year_ceilings.payer_code,
        year_ceilings.provider_agb,
        params.as_of_month,
        params.run_months
),

positions as (
    select
        year_ceilings.payer_code,
        year_ceilings.payer_kind,
        year_ceilings.provider_agb,
        year_ceilings.year,
        params.as_of,
        year_ceilings.ceiling_eur,
        year_ceilings.policy,
        year_ceilings.increase_request_deadline,
        cast(realised.realised_eur as decimal(18, 2)) as realised_eur,
        cast(realised.realised_eur as double) / nullif(cast(year_ceilings.ceiling_eur as double), 0) as share,
        reached.ceiling_reached_on,
        case
            when year_ceilings.policy = 'stop_payment'
                then cast(least(realised.realised_eur, year_ceilings.ceiling_eur) as decimal(18, 2))
            else cast(realised.realised_eur as decimal(18, 2))
        end as paid_eur,
        cast(greatest(realised.realised_eur - year_ceilings.ceiling_eur, 0) as decimal(18, 2)) as above_ceiling_eur,
        cast(round(ultimates.expected_late_eur, 2) as decimal(18, 2)) as expected_late_eur,
        cast(round(ultimates.expected_ultimate_eur, 2) as decimal(18, 2)) as expected_ultimate_eur,
        params.months_left,
        cast(
            round(ultimates.expected_ultimate_eur + ultimates.mean_recent_ultimate_eur * params.months_left, 2)
            as decimal(18, 2)
        ) as projected_year_end_eur,
        cast(realised.run_rate_window_eur as double) / cast(params.run_rate_days as double) as run_rate_eur_per_day,
        params.alert_share_low,
        params.alert_share_high
    from year_ceilings
    inner join params
        on params.as_of = year_ceilings.as_of
    inner join realised
        on realised.as_of = year_ceilings.as_of
        and realised.payer_kind = year_ceilings.payer_kind
        and realised.payer_code = year_ceilings.payer_code
        and realised.provider_agb = year_ceilings.provider_agb
    left join reached
        on reached.as_of = year_ceilings.as_of
        and reached.payer_kind = year_ceilings.payer_kind
        and reached.payer_code = year_ceilings.payer_code
        and reached.provider_agb = year_ceilings.provider_agb
    inner join ultimates
        on ultimates.as_of = year_ceilings.as_of
        and ultimates.payer_kind = year_ceilings.payer_kind
        and ultimates.payer_code = year_ceilings.payer_code
        and ultimates.provider_agb = year_ceilings.provider_agb
),

alerts as (
    select
        positions.*,
        case
            when positions.projected_year_end_eur <= positions.ceiling_eur then cast(null as date)
            when positions.ceiling_reached_on is not null then positions.ceiling_reached_on
            -- the projection's own pace: what it expects beyond the realised amount, spread evenly over the
            -- days left in the year; on 31 December no day is left and the pace is unbounded: as_of itself
            when positions.as_of >= make_date(positions.year, 12, 31) then positions.as_of
            else positions.as_of + cast(
                ceil(
                    cast(positions.ceiling_eur - positions.realised_eur as double)
                    / (
                        cast(positions.projected_year_end_eur - positions.realised_eur as double)
                        / datediff('day', positions.as_of, make_date(positions.year, 12, 31))
                    )
                ) as integer
            )
        end as projected_run_out_date,
        case
            when positions.ceiling_reached_on is not null then 'reached'
            when positions.projected_year_end_eur > positions.ceiling_eur then 'projected_over'
            when positions.share >= positions.alert_share_high then '90'
            when positions.share >= positions.alert_share_low then '70'
            else 'ok'
        end as alert
    from positions
),

final as (
    select
        payer_code,
        payer_kind,
        provider_agb,
        year,
        as_of,
        ceiling_eur,
        policy,
        realised_eur,
        share,
        ceiling_reached_on,
        paid_eur,
        above_ceiling_eur,
        expected_late_eur,
        expected_ultimate_eur,
        months_left,
        projected_year_end_eur,
        run_rate_eur_per_day,
        projected_run_out_date,
        alert,
        case
            when alert = 'projected_over' and increase_request_deadline >= as_of then increase_request_deadline
        end as request_increase_by,
        increase_request_deadline
    from alerts
)

select * from final
