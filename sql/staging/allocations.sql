-- One current row per allocation: the latest decided_on (Toewijzingsdatum + Toewijzingstijd).
-- Deleted allocations (RedenWijziging 13) stay, marked is_deleted. Marts that honour as_of pick
-- from staging.allocation_versions instead.
with versions as (
    select * from staging.allocation_versions
),

ranked as (
    select
        *,
        row_number() over (
            partition by municipality_code, law, allocation_number
            order by decided_on desc, source_file desc
        ) as version_rank
    from versions
),

final as (
    select * exclude (version_rank) from ranked where version_rank = 1
)

select * from final
