-- Stops for good (metrics.md §10, §15): one row per stop message (iwmo/ijw 307) of an allocation that
-- is not temporary (end_reason 20), with the days on which it is a stop for good: from the day it is
-- known (known_from: its sent_on, or its end date when it carries none) until a start of the same
-- allocation after its end date is known (resumed_from: that start's sent_on or start date;
-- 9999-12-31 when none is). A reader at reporting date t takes the stops with
-- known_from <= t < resumed_from. The key is staging.care_events' (one row per event after
-- corrections; deleted events, status 3, are gone there).
with

care_events as not materialized (
    select * from staging.care_events
),

final as (
    select
        stops.municipality_code,
        stops.law,
        stops.allocation_number,
        stops.provider_agb,
        stops.client_id,
        stops.start_date,
        stops.end_date,
        stops.end_reason,
        stops.sent_on,
        coalesce(stops.sent_on, stops.end_date) as known_from,
        coalesce(min(coalesce(starts.sent_on, starts.start_date)), date '9999-12-31') as resumed_from
    from care_events as stops
    left join care_events as starts
        on starts.event = 'start'
        and starts.municipality_code = stops.municipality_code
        and starts.law = stops.law
        and starts.allocation_number = stops.allocation_number
        and starts.start_date > stops.end_date
    where stops.event = 'stop'
        and not stops.is_temporary_stop
        and stops.end_date is not null
        and stops.allocation_number is not null
    group by all
)

select * from final
