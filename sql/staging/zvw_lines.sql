-- Wijkverpleging lines declared to insurers; a line belongs to the month of service_start.
with source as (
    select * from raw.zvw_declarations
),

final as (
    select
        cast(insurer_code as varchar) as insurer_code,
        cast(provider_agb as varchar) as provider_agb,
        cast(client_id as varchar) as client_id,
        cast(reference_number as varchar) as reference_number,
        cast(previous_reference_number as varchar) as previous_reference_number,
        cast(service_start as date) as service_start,
        cast(service_end as date) as service_end,
        cast(date_trunc('month', service_start) as date) as month,
        cast(prestation_code as varchar) as prestation_code,
        cast(minutes as double) as minutes,
        cast(minutes / 60.0 as double) as hours,
        cast(tariff_eur as decimal(18, 2)) as tariff_eur,
        cast(amount_eur as decimal(18, 2)) as amount_eur,
        cast(debit_credit as varchar) as debit_credit,
        cast(case when debit_credit = 'C' then -1 else 1 end as integer) as sign,
        cast(case when debit_credit = 'C' then -minutes else minutes end as double) as net_minutes,
        cast(case when debit_credit = 'C' then -minutes else minutes end / 60.0 as double) as net_hours,
        cast(case when debit_credit = 'C' then -amount_eur else amount_eur end as decimal(18, 2))
            as net_amount_eur,
        cast(submitted_on as timestamp) as submitted_on,
        cast(status as varchar) as status,
        cast(source_file as varchar) as source_file,
        cast(source_row as bigint) as source_row
    from source
)

select * from final
