-- ceilings (metrics.md §7): one row per ceiling of the $as_of year (payer_code × provider_agb × year).
-- payers are insurers (wijkverpleging lines) and municipalities (iwmo/ijw lines of both laws, payer_code =
-- municipality_code). lines count when approved as of $as_of, with service in the year, submitted by $as_of.
-- expected late / ultimate come from marts.chain_ladder (§9), months of the year up to $as_of. the run-out
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
        cast($as_of as date) as as_of,
        cast(date_trunc('month', cast($as_of as date)) as date) as as_of_month,
        cast(year(cast($as_of as date)) as integer) as as_of_year,
        cast(12 - month(cast($as_of as date)) as integer) as months_left,
        cast(least(3, month(cast($as_of as date))) as integer) as run_months,
        cast($run_rate_days as integer) as run_rate_days,
        cast($alert_share_low as double) as alert_share_low,
        cast($alert_share_high as double) as alert_share_high
),

year_ceilings as (
    select ceilings.*
    from ceilings
    cross join params
    where ceilings.year = params.as_of_year
),

approved_lines as (
    -- one row per line: its approved net amount with service in the year (a legacy line split over
    -- months counts with its part in the year). only pairs with a ceiling: the others never reach
    -- `realised`, and the grouping and the window below are the costly parts
    select
        payer_lines.payer_kind,
        payer_lines.payer_code,
        payer_lines.provider_agb,
        payer_lines.law,
        payer_lines.reference_number,
        payer_lines.submitted_on,
        payer_lines.submitted_date,
        sum(payer_lines.net_amount_eur) as amount_eur
    from payer_lines
    semi join year_ceilings
        on year_ceilings.payer_kind = payer_lines.payer_kind
        and year_ceilings.payer_code = payer_lines.payer_code
        and year_ceilings.provider_agb = payer_lines.provider_agb
    where payer_lines.status = 'approved'
        and payer_lines.year = year(cast($as_of as date))
        and payer_lines.submitted_date <= cast($as_of as date)
    group by all
),

realised as (
    select
        year_ceilings.payer_kind,
        year_ceilings.payer_code,
        year_ceilings.provider_agb,
        year_ceilings.ceiling_eur,
        coalesce(sum(approved_lines.amount_eur), 0) as realised_eur,
        -- the running sum never exceeds the sum of the positive amounts: a pair below its ceiling there
        -- cannot have reached it, and needs no running sum
        coalesce(sum(approved_lines.amount_eur) filter (where approved_lines.amount_eur > 0), 0) as positive_eur,
        coalesce(
            sum(approved_lines.amount_eur) filter (
                where approved_lines.submitted_date > cast($as_of as date) - cast($run_rate_days as integer)
            ),
            0
        ) as run_rate_window_eur
    from year_ceilings
    left join approved_lines
        on approved_lines.payer_kind = year_ceilings.payer_kind
        and approved_lines.payer_code = year_ceilings.payer_code
        and approved_lines.provider_agb = year_ceilings.provider_agb
    group by all
),

running_lines as (
    select
        approved_lines.*,
        realised.ceiling_eur,
        sum(approved_lines.amount_eur) over (
            partition by approved_lines.payer_kind, approved_lines.payer_code, approved_lines.provider_agb
            order by approved_lines.submitted_on, approved_lines.reference_number, approved_lines.law
            rows between unbounded preceding and current row
        ) as running_eur
    from approved_lines
    inner join realised
        on realised.payer_kind = approved_lines.payer_kind
        and realised.payer_code = approved_lines.payer_code
        and realised.provider_agb = approved_lines.provider_agb
    where realised.positive_eur >= realised.ceiling_eur
),

reached as (
    select
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
    cross join params
    left join chain_ladder
        on chain_ladder.payer_kind = year_ceilings.payer_kind
        and chain_ladder.payer_code = year_ceilings.payer_code
        and chain_ladder.provider_agb = year_ceilings.provider_agb
        and year(chain_ladder.month) = params.as_of_year
        and chain_ladder.month <= params.as_of_month
    group by
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
    cross join params
    inner join realised
        on realised.payer_kind = year_ceilings.payer_kind
        and realised.payer_code = year_ceilings.payer_code
        and realised.provider_agb = year_ceilings.provider_agb
    left join reached
        on reached.payer_kind = year_ceilings.payer_kind
        and reached.payer_code = year_ceilings.payer_code
        and reached.provider_agb = year_ceilings.provider_agb
    inner join ultimates
        on ultimates.payer_kind = year_ceilings.payer_kind
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
