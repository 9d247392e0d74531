-- stop messages (metrics.md §15): one row per provider × municipality × month of the stop's end date,
-- over the stop messages (iwmo/ijw 307, temporary ones included) known by $as_of: sent_on <= $as_of,
-- or end_date <= $as_of when the message carries no sent_on. deleted stops (status 3) are already
-- gone from staging.care_events.
--   late_stops: sent_on lies more than $stop_message_days working days (staging.calendar_days) after
--   the end date. a stop without sent_on is never on time nor late: it counts in
--   stops_not_determinable, and the delays are medians over the stops with a sent_on.
--   allocations_open_after_stop: allocations whose care stopped for good (a stop that is not
--   temporary, end_reason <> '20', and that no later start of the allocation resumes) on or before
--   $as_of, while the allocation's version known at $as_of (latest decided_on <= $as_of, not deleted)
--   has no end date on or before that stop. counted once per allocation, in the row of its first stop
--   for good (provider and month of that stop).
with

care_events as not materialized (
    select * from staging.care_events
),

allocation_versions as not materialized (
    select * from staging.allocation_versions
),

calendar_days as not materialized (
    select * from staging.calendar_days
),

stops_for_good as not materialized (
    select * from staging.stops_for_good
),

known_events as (
    select *
    from care_events
    where coalesce(sent_on, case when event = 'stop' then end_date else start_date end) <= cast($as_of as date)
),

stops as (
    -- for good at $as_of: a stop of staging.stops_for_good (not temporary) that no start known by
    -- $as_of resumes
    select
        stops.*,
        coalesce(for_good.resumed_from > cast($as_of as date), false) as is_for_good
    from known_events as stops
    left join stops_for_good as for_good
        on for_good.municipality_code = stops.municipality_code
        and for_good.law = stops.law
        and for_good.allocation_number = stops.allocation_number
        and for_good.provider_agb = stops.provider_agb
        and for_good.client_id = stops.client_id
        and for_good.start_date is not distinct from stops.start_date
    where stops.event = 'stop' and stops.end_date is not null
),

stop_delays as (
    select
        stops.*,
        datediff('day', stops.end_date, stops.sent_on) as delay_days,
        sent_day.working_day_number - end_day.working_day_number as delay_working_days
    from stops
    left join calendar_days as end_day
        on end_day.day = stops.end_date
    left join calendar_days as sent_day
        on sent_day.day = stops.sent_on
),

-- per allocation, the first stop for good: when its care stopped
allocation_stops as (
    select
        municipality_code,
        law,
        allocation_number,
        min(end_date) as stopped_on,
        arg_min(provider_agb, end_date) as provider_agb
    from stops
    where is_for_good and end_date <= cast($as_of as date)
    group by all
),

allocations_as_of as (
    select allocation_versions.*
    from allocation_versions
    where cast(allocation_versions.decided_on as date) <= cast($as_of as date)
    qualify row_number() over (
        partition by municipality_code, law, allocation_number
        order by decided_on desc
    ) = 1
),

open_after_stop as (
    select
        allocation_stops.provider_agb,
        allocation_stops.municipality_code,
        cast(date_trunc('month', allocation_stops.stopped_on) as date) as month,
        cast(count(*) as integer) as allocations_open_after_stop
    from allocation_stops
    join allocations_as_of
        on allocations_as_of.municipality_code = allocation_stops.municipality_code
        and allocations_as_of.law = allocation_stops.law
        and allocations_as_of.allocation_number = allocation_stops.allocation_number
    where not allocations_as_of.is_deleted
        and (allocations_as_of.end_date is null or allocations_as_of.end_date > allocation_stops.stopped_on)
    group by all
),

per_month as (
    select
        provider_agb,
        municipality_code,
        cast(date_trunc('month', end_date) as date) as month,
        cast(count(*) as integer) as stops,
        cast(count(*) filter (where delay_working_days > $stop_message_days) as integer) as late_stops,
        cast(count(*) filter (where sent_on is null) as integer) as stops_not_determinable,
        cast(median(delay_days) as double) as median_delay_days,
        cast(median(delay_working_days) as double) as median_delay_working_days,
        cast(count(*) filter (where is_temporary_stop) as integer) as temporary_stops,
        cast(count(*) filter (where is_for_good) as integer) as stops_for_good
    from stop_delays
    group by all
),

final as (
    select
        per_month.provider_agb,
        per_month.municipality_code,
        per_month.month,
        per_month.stops,
        per_month.late_stops,
        per_month.median_delay_days,
        coalesce(open_after_stop.allocations_open_after_stop, 0) as allocations_open_after_stop,
        per_month.stops_not_determinable,
        per_month.median_delay_working_days,
        per_month.temporary_stops,
        per_month.stops_for_good
    from per_month
    left join open_after_stop
        on open_after_stop.provider_agb = per_month.provider_agb
        and open_after_stop.municipality_code = per_month.municipality_code
        and open_after_stop.month = per_month.month
)

select * from final
