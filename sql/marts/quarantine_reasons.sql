-- data quality (metrics.md §13): one row per source_file × reason_code of raw.quarantine, with the
-- reason text of the code's first quarantined row in the file (by source_row) and the number of rows.
with

quarantine as not materialized (
    select * from raw.quarantine
),

final as (
    select
        source_file,
        reason_code,
        min(kind) as kind,
        first(reason_text order by source_row nulls first, reason_text) as reason_text,
        cast(count(*) as bigint) as rows
    from quarantine
    group by all
)

select * from final
