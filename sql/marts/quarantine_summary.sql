-- data quality (metrics.md §13): one row per source_file of raw.manifest (its latest load) or of
-- raw.quarantine. the reconciliation check fails when rows_received ≠ rows_loaded + rows_quarantined
-- (is_reconciled false); quarantine_records counts the rows of raw.quarantine for the file.
with

manifest as not materialized (
    select * from raw.manifest
),

quarantine as not materialized (
    select * from raw.quarantine
),

latest_manifest as (
    select *
    from manifest
    qualify row_number() over (partition by source_file order by loaded_at desc nulls last, sha256) = 1
),

quarantine_counts as (
    select
        source_file,
        min(kind) as kind,
        cast(count(*) as bigint) as quarantine_records
    from quarantine
    group by all
),

final as (
    select
        coalesce(latest_manifest.source_file, quarantine_counts.source_file) as source_file,
        coalesce(latest_manifest.kind, quarantine_counts.kind) as kind,
        latest_manifest.status,
        latest_manifest.loaded_at,
        latest_manifest.rows_received,
        latest_manifest.rows_loaded,
        latest_manifest.rows_quarantined,
        coalesce(quarantine_counts.quarantine_records, 0) as quarantine_records,
        coalesce(
            latest_manifest.rows_received
                = coalesce(latest_manifest.rows_loaded, 0) + coalesce(latest_manifest.rows_quarantined, 0),
            false
        ) as is_reconciled
    from latest_manifest
    full outer join quarantine_counts
        on quarantine_counts.source_file = latest_manifest.source_file
)

select * from final
