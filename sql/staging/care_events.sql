-- Start and stop events after corrections: per logical key (IV008) the last delivered row wins,
-- and a last row with StatusAanlevering 3 deletes the event. Last delivered = the latest message
-- date (sent_on, the Dagtekening), then the file and row: XML messages are named by their id, not
-- by their date, so a stop deleted by mistake and sent again later must not lose to its deletion.
with source as (
    select * from raw.care_events
),

ranked as (
    select
        *,
        row_number() over (
            partition by municipality_code, law, coalesce(allocation_number, ''), provider_agb,
                         client_id, event, start_date
            order by sent_on desc nulls last, source_file desc, source_row desc
        ) as row_rank
    from source
),

final as (
    select
        cast(municipality_code as varchar) as municipality_code,
        cast(law as varchar) as law,
        cast(allocation_number as varchar) as allocation_number,
        cast(provider_agb as varchar) as provider_agb,
        cast(client_id as varchar) as client_id,
        cast(event as varchar) as event,
        cast(start_date as date) as start_date,
        cast(end_date as date) as end_date,
        cast(end_reason as varchar) as end_reason,
        coalesce(end_reason = '20', false) as is_temporary_stop,
        -- the message's Dagtekening; null = not delivered, so lateness is not determinable
        cast(sent_on as date) as sent_on,
        cast(source_file as varchar) as source_file
    from ranked
    where row_rank = 1 and status <> '3'
)

select * from final
