-- lawfulness signals (metrics.md §15): one row per declaration line × signal, over the iwmo/ijw debit
-- lines declared by $as_of and not rejected by $as_of (approved or pending: paid or about to be).
-- a debit that a credit known by $as_of (and not rejected) reverses is left out, and so are credits:
-- a reversed line is no longer paid. signals:
--   after_stop          the line's period starts after the end date of a stop of the same allocation
--                       that is for good: not temporary (end_reason <> '20') and no later start
--                       (start_date after the stop's end date) resumes it; only events known by
--                       $as_of (sent_on <= $as_of, or the event's own date when sent_on is missing).
--   outside_allocation  staging's allocation_issue 'period_outside_allocation'.
--   no_allocation       staging's allocation_issue 'unknown_allocation' or 'deleted_allocation'.
--   duplicate_period    another such line of the same allocation, product and period that is not its
--                       correction (neither names the other as previous_reference_number); every
--                       line of such a pair carries the signal, the first declared one too.
-- deleted events (status 3) are gone from the care events in staging.
with

declaration_lines as not materialized (
    select * from staging.declaration_lines
),

stops_for_good as not materialized (
    select * from staging.stops_for_good
),

known_lines as (
    select
        declaration_lines.*,
        case when declaration_lines.answered_on <= cast($as_of as date) then 'approved' else 'pending' end
            as status_as_of
    from declaration_lines
    where declaration_lines.declared_on <= cast($as_of as date)
        and (declaration_lines.rejected_on is null or declaration_lines.rejected_on > cast($as_of as date))
),

credits as (
    select distinct provider_agb, law, previous_reference_number as reference_number
    from known_lines
    where debit_credit = 'C' and previous_reference_number is not null
),

paid_lines as (
    select known_lines.*
    from known_lines
    anti join credits
        on credits.provider_agb = known_lines.provider_agb
        and credits.law = known_lines.law
        and credits.reference_number = known_lines.reference_number
    where known_lines.debit_credit = 'D'
),

-- the stops for good at $as_of (staging.stops_for_good: not temporary, known, not resumed)
final_stops as (
    select *
    from stops_for_good
    where known_from <= cast($as_of as date)
        and resumed_from > cast($as_of as date)
),

-- care stopped on the earliest end date of the allocation's stops for good
allocation_stops as (
    select
        municipality_code,
        law,
        allocation_number,
        min(end_date) as stopped_on,
        arg_min_null(end_reason, end_date) as end_reason,
        arg_min_null(sent_on, end_date) as sent_on
    from final_stops
    group by all
),

after_stop as (
    select
        paid_lines.*,
        'after_stop' as signal,
        'period starts ' || strftime(paid_lines.period_start, '%Y-%m-%d')
            || ', after care stopped on ' || strftime(allocation_stops.stopped_on, '%Y-%m-%d')
            || ' (end_reason ' || coalesce(allocation_stops.end_reason, '?') || ', stop message '
            || coalesce('sent ' || strftime(allocation_stops.sent_on, '%Y-%m-%d'), 'without date') || ')'
            as detail
    from paid_lines
    join allocation_stops
        on allocation_stops.municipality_code = paid_lines.municipality_code
        and allocation_stops.law = paid_lines.law
        and allocation_stops.allocation_number = paid_lines.allocation_number
    where paid_lines.period_start > allocation_stops.stopped_on
),

allocation_issues as (
    select
        paid_lines.*,
        case
            when paid_lines.allocation_issue = 'period_outside_allocation' then 'outside_allocation'
            else 'no_allocation'
        end as signal,
        case paid_lines.allocation_issue
            when 'period_outside_allocation' then 'period lies outside the allocation'
            when 'unknown_allocation' then 'allocation unknown'
            when 'deleted_allocation' then 'allocation deleted'
        end as detail
    from paid_lines
    where paid_lines.allocation_issue is not null
),

same_period as (
    select
        paid_lines.*,
        count(*) over (
            partition by municipality_code, law, allocation_number, product_category,
                         coalesce(product_code, ''), period_start, period_end
        ) as lines_in_period
    from paid_lines
    where paid_lines.allocation_number is not null
),

candidates as not materialized (
    select * from same_period where lines_in_period > 1
),

duplicate_pairs as (
    select
        one.provider_agb,
        one.law,
        one.reference_number,
        string_agg(other.reference_number, ', ' order by other.declared_on, other.reference_number)
            as other_references
    from candidates as one
    join candidates as other
        on other.municipality_code = one.municipality_code
        and other.law = one.law
        and other.allocation_number = one.allocation_number
        and other.product_category = one.product_category
        and coalesce(other.product_code, '') = coalesce(one.product_code, '')
        and other.period_start = one.period_start
        and other.period_end = one.period_end
        and not (other.provider_agb = one.provider_agb and other.reference_number = one.reference_number)
        and other.previous_reference_number is distinct from one.reference_number
        and one.previous_reference_number is distinct from other.reference_number
    group by all
),

duplicates as (
    select
        candidates.* exclude (lines_in_period),
        'duplicate_period' as signal,
        'same allocation, product and period also declared as ' || duplicate_pairs.other_references
            as detail
    from candidates
    join duplicate_pairs
        on duplicate_pairs.provider_agb = candidates.provider_agb
        and duplicate_pairs.law = candidates.law
        and duplicate_pairs.reference_number = candidates.reference_number
),

signals as (
    select * from after_stop
    union all by name
    select * from allocation_issues
    union all by name
    select * from duplicates
),

final as (
    select
        cast(municipality_code as varchar) as municipality_code,
        cast(law as varchar) as law,
        cast(provider_agb as varchar) as provider_agb,
        cast(allocation_number as varchar) as allocation_number,
        cast(reference_number as varchar) as reference_number,
        cast(month as date) as month,
        cast(signal as varchar) as signal,
        cast(amount_eur as decimal(18, 2)) as amount_eur,
        cast(detail as varchar) as detail,
        cast(product_category as varchar) as product_category,
        cast(product_code as varchar) as product_code,
        cast(period_start as date) as period_start,
        cast(period_end as date) as period_end,
        cast(declared_on as date) as declared_on,
        cast(status_as_of as varchar) as status
    from signals
)

select * from final
