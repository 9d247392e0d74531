-- Clients (per municipality, law and provider) touched by changed inbox files: their events in
-- those files now, and the events those files held before. The rule "the last row per logical
-- key wins" only compares rows within this grain.
select municipality_code, law, provider_agb, client_id
from raw.care_events
where source_file in (select source_file from _changed_files)

union all

select municipality_code, law, provider_agb, client_id
from staging.care_events
where source_file in (select source_file from _changed_files)
