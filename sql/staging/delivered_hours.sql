-- Hours registered by providers, per ISO week ('YYYY-Www') or month ('YYYY-MM').
with source as (
    select * from raw.delivered_hours
),

parsed as (
    select
        *,
        cast(substr(week, 1, 4) as integer) as iso_year,
        cast(substr(week, 7, 2) as integer) as iso_week,
        make_date(cast(substr(week, 1, 4) as integer), 1, 4) as jan4
    from source
),

final as (
    select
        cast(municipality_code as varchar) as municipality_code,
        cast(law as varchar) as law,
        cast(allocation_number as varchar) as allocation_number,
        cast(provider_agb as varchar) as provider_agb,
        cast(client_id as varchar) as client_id,
        cast(case when week is not null then 'week' else 'month' end as varchar) as period_kind,
        cast(
            case
                when week is not null
                    then jan4 - to_days(isodow(jan4) - 1) + to_days((iso_week - 1) * 7)
                else strptime(month || '-01', '%Y-%m-%d')
            end as date
        ) as period_start,
        cast(
            case
                when week is not null
                    then jan4 - to_days(isodow(jan4) - 1) + to_days((iso_week - 1) * 7 + 6)
                else last_day(strptime(month || '-01', '%Y-%m-%d'))
            end as date
        ) as period_end,
        cast(hours as double) as hours,
        cast(source_file as varchar) as source_file
    from parsed
)

select * from final
