-- metrics.md §4: realisation per allocation and month, as known at $as_of.
-- One row per allocation in force at $as_of x observed month, from the allocation's start (or the
-- first month of its payer's observation window, §1, when it started earlier: observed_start) to
-- min(end_date, $as_of). Months before the window were never observed and are left out, so no later
-- mart judges them; year_allowance and observed_total_max_volume are the §3 maxima of the observed
-- part (total_max_volume stays the maximum of the whole allocation). A line counts when
-- declared_on <= $as_of, its status is the one at $as_of (docs/contract.md). Legacy lines whose product period crosses months are split over those
-- months pro rata by days (metrics.md §1), the split expands lines into months, never into days.
-- requested_volume (what the provider asked to be paid for) = declared net volume + the net volume
-- of lines rejected only because they exceed the allocation (return codes of category 'volume
-- exceeds allocation', macro rejected_for_volume_only); overshoots are judged on it (§4).

with

month_maxima as not materialized (

    select * from marts.allocation_month_maxima

),

declaration_lines as not materialized (

    select * from staging.declaration_lines

),

-- a small lookup, read whole (not cut in a partial build; see pipeline/incremental.py)
observation_windows as (

    select * from staging.observation_windows
    where payer_kind = 'municipality'

),

months_to_date as (

    select
        month_maxima.*,
        cast(
            greatest(
                month_maxima.start_date,
                coalesce(observation_windows.first_month, month_maxima.start_date)
            ) as date
        ) as observed_start
    from month_maxima
    left join observation_windows
        on observation_windows.payer_code = month_maxima.municipality_code
        and observation_windows.law = month_maxima.law
    where not month_maxima.is_after_as_of
        and month_maxima.month >= coalesce(observation_windows.first_month, month_maxima.month)

),

lines_as_of as (

    select
        declaration_lines.municipality_code,
        declaration_lines.law,
        declaration_lines.allocation_number,
        cast(declaration_lines.period_start as date) as period_start,
        cast(coalesce(declaration_lines.period_end, declaration_lines.period_start) as date)
            as period_end,
        cast(declaration_lines.volume_alloc_unit as double) as volume_alloc_unit,
        cast(declaration_lines.hours as double) as hours,
        cast(declaration_lines.net_amount_eur as double) as net_amount_eur,
        case
            when declaration_lines.rejected_on <= cast($as_of as date)
                then
                    case
                        when rejected_for_volume_only(declaration_lines.return_codes)
                            then 'rejected_over_allocation'
                        else 'rejected'
                    end
            when declaration_lines.answered_on <= cast($as_of as date) then 'approved'
            else 'pending'
        end as status_as_of
    -- $as_of written into the filter, not cross-joined from a one-row CTE: the cross join kept the
    -- row ids of a partial build's cut from reaching the scan, which then read all 10 million lines
    from declaration_lines
    where declaration_lines.declared_on <= cast($as_of as date)
        and declaration_lines.period_start is not null

),

counted_lines as (

    -- declared (approved, pending) or requested (also rejected only for exceeding the allocation)
    select * from lines_as_of
    where status_as_of in ('approved', 'pending', 'rejected_over_allocation')

),

line_months as (

    select
        counted_lines.*,
        cast(
            unnest(
                generate_series(
                    cast(date_trunc('month', period_start) as date),
                    cast(date_trunc('month', period_end) as date),
                    interval 1 month
                )
            ) as date
        ) as month
    from counted_lines

),

line_shares as (

    select
        line_months.*,
        cast(
            (
                date_diff('day', greatest(period_start, month), least(period_end, last_day(month)))
                + 1
            )
            / (date_diff('day', period_start, period_end) + 1) as double
        ) as share
    from line_months

),

realisation as (

    select
        municipality_code,
        law,
        allocation_number,
        month,
        sum(volume_alloc_unit * share) filter (where status_as_of = 'approved') as delivered_volume,
        sum(volume_alloc_unit * share) filter (where status_as_of <> 'rejected_over_allocation')
            as declared_volume,
        sum(volume_alloc_unit * share) as requested_volume,
        sum(net_amount_eur * share) filter (where status_as_of = 'approved') as approved_amount_eur,
        sum(net_amount_eur * share) filter (where status_as_of <> 'rejected_over_allocation')
            as declared_amount_eur,
        sum(net_amount_eur * share) as requested_amount_eur,
        sum(hours * share) filter (where status_as_of = 'approved') as approved_hours,
        sum(hours * share) filter (where status_as_of <> 'rejected_over_allocation')
            as declared_hours,
        count(*) filter (where status_as_of = 'approved') as approved_lines,
        count(*) filter (where status_as_of <> 'rejected_over_allocation') as declared_lines,
        count(*) filter (where hours is not null and status_as_of <> 'rejected_over_allocation')
            as hour_lines
    from line_shares
    group by municipality_code, law, allocation_number, month

),

joined as (

    select
        months_to_date.*,
        cast(coalesce(realisation.delivered_volume, 0) as double) as delivered_volume,
        cast(coalesce(realisation.declared_volume, 0) as double) as declared_volume,
        cast(coalesce(realisation.requested_volume, 0) as double) as requested_volume,
        cast(coalesce(realisation.requested_amount_eur, 0) as decimal(18, 2)) as requested_amount_eur,
        cast(coalesce(realisation.approved_amount_eur, 0) as decimal(18, 2)) as approved_amount_eur,
        cast(coalesce(realisation.declared_amount_eur, 0) as decimal(18, 2)) as declared_amount_eur,
        cast(coalesce(realisation.approved_hours, 0) as double) as approved_hours,
        cast(coalesce(realisation.declared_hours, 0) as double) as declared_hours,
        cast(coalesce(realisation.approved_lines, 0) as integer) as approved_lines,
        cast(coalesce(realisation.declared_lines, 0) as integer) as declared_lines,
        -- lines declared in hour units (minutes, hours, dagdelen): they measure hours
        cast(coalesce(realisation.hour_lines, 0) as integer) as hour_lines
    from months_to_date
    left join realisation
        on months_to_date.municipality_code = realisation.municipality_code
        and months_to_date.law = realisation.law
        and months_to_date.allocation_number = realisation.allocation_number
        and months_to_date.month = realisation.month

),

final as (

    select
        municipality_code,
        law,
        allocation_number,
        client_id,
        provider_agb,
        product_category,
        product_code,
        variant,
        unit,
        frequency,
        volume,
        budget_eur,
        start_date,
        end_date,
        month,
        year,
        period_start,
        period_end,
        max_volume,
        delivered_volume,
        declared_volume,
        requested_volume,
        approved_amount_eur,
        declared_amount_eur,
        requested_amount_eur,
        approved_hours,
        declared_hours,
        approved_lines,
        hour_lines,
        declared_lines,
        cast(delivered_volume / nullif(max_volume, 0) as double) as utilisation,
        -- judged on requested volume: what TR321 rejects still shows as an overshoot (§4)
        cast(coalesce(requested_volume > max_volume, false) as boolean) as period_overshoot,
        cast(requested_volume - max_volume as double) as excess_volume,
        -- the allowance of the observed part of the year: it differs only in the window's first year
        -- for an allocation that started before the window
        cast(
            case
                when observed_start > start_date and year(observed_start) = year
                    then volume_maximum(
                        frequency, variant, volume, observed_start,
                        least(coalesce(end_date, make_date(year, 12, 31)), make_date(year, 12, 31)),
                        end_date
                    )
                else year_allowance
            end as double
        ) as year_allowance,
        total_max_volume,
        observed_start,
        -- the §3 maximum over the observed part of the allocation; unknown for a total volume
        -- (frequency 6) of which an unobserved part may have been used
        cast(
            case
                when observed_start = start_date then total_max_volume
                when end_date is null or frequency = '6' then null
                else volume_maximum(frequency, variant, volume, observed_start, end_date, end_date)
            end as double
        ) as observed_total_max_volume,
        is_mature
    from joined

)

select * from final
