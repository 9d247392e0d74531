-- Declaration lines with their answer dates, the current allocation's unit and any
-- referential issue. Status as of a date: rejected when rejected_on <= as_of, approved when
-- answered_on <= as_of, pending otherwise (docs/contract.md).
with lines as (
    select * from raw.declarations
),

answers as (
    select * from staging.answers
),

allocations as (
    select * from staging.allocations
),

first_answer as (
    select provider_agb, message_id, min(answered_on) as answered_on
    from answers
    group by all
),

line_rejection as (
    select provider_agb, message_id, reference_number,
           min(answered_on) as rejected_on,
           arg_min(return_codes, answered_on) as return_codes
    from answers
    where reference_number is not null
    group by all
),

declaration_void as (
    select provider_agb, message_id,
           min(answered_on) as rejected_on,
           arg_min(return_codes, answered_on) as return_codes
    from answers
    where voids_declaration
    group by all
),

joined as (
    select
        l.*,
        a.unit as allocation_unit,
        a.is_deleted as allocation_deleted,
        a.start_date as allocation_start,
        a.end_date as allocation_end,
        a.allocation_number is not null as allocation_found,
        fa.answered_on,
        case
            when lr.rejected_on is null then dv.rejected_on
            when dv.rejected_on is null then lr.rejected_on
            else least(lr.rejected_on, dv.rejected_on)
        end as rejected_on,
        case
            when dv.rejected_on is not null and (lr.rejected_on is null or dv.rejected_on <= lr.rejected_on)
                then dv.return_codes
            else lr.return_codes
        end as return_codes,
        case when l.debit_credit = 'C' then -1 else 1 end as sign
    from lines as l
    left join allocations as a
        on a.municipality_code = l.municipality_code
        and a.law = l.law
        and a.allocation_number = l.allocation_number
    left join first_answer as fa
        on fa.provider_agb = l.provider_agb and fa.message_id = l.message_id
    left join line_rejection as lr
        on lr.provider_agb = l.provider_agb and lr.message_id = l.message_id
        and lr.reference_number = l.reference_number
    left join declaration_void as dv
        on dv.provider_agb = l.provider_agb and dv.message_id = l.message_id
),

converted as (
    select
        *,
        -- hours-equivalent factor of a unit: minutes 1/60, hours 1, dagdeel 4
        case unit when '01' then 1.0 / 60 when '04' then 1.0 when '16' then 4.0 end as hour_factor,
        case coalesce(allocation_unit, unit)
            when '01' then 60.0 when '04' then 1.0 when '16' then 0.25
        end as to_allocation_factor
    from joined
),

final as (
    select
        cast(provider_agb as varchar) as provider_agb,
        cast(municipality_code as varchar) as municipality_code,
        cast(law as varchar) as law,
        cast(message_id as varchar) as message_id,
        cast(declaration_number as varchar) as declaration_number,
        cast(declaration_period_start as date) as declaration_period_start,
        cast(declaration_period_end as date) as declaration_period_end,
        cast(declared_on as date) as declared_on,
        cast(reference_number as varchar) as reference_number,
        cast(previous_reference_number as varchar) as previous_reference_number,
        cast(client_id as varchar) as client_id,
        cast(allocation_number as varchar) as allocation_number,
        cast(product_category as varchar) as product_category,
        cast(product_code as varchar) as product_code,
        cast(period_start as date) as period_start,
        cast(period_end as date) as period_end,
        cast(date_trunc('month', period_start) as date) as month,
        cast(volume as double) as volume,
        cast(unit as varchar) as unit,
        cast(tariff_eur as decimal(18, 2)) as tariff_eur,
        cast(amount_eur as decimal(18, 2)) as amount_eur,
        cast(debit_credit as varchar) as debit_credit,
        cast(sign as integer) as sign,
        cast(sign * volume as double) as net_volume,
        cast(sign * amount_eur as decimal(18, 2)) as net_amount_eur,
        cast(allocation_unit as varchar) as allocation_unit,
        cast(
            case
                when allocation_unit is null or allocation_unit = unit then sign * volume
                when hour_factor is not null and to_allocation_factor is not null
                    then sign * volume * hour_factor * to_allocation_factor
                else sign * volume
            end as double
        ) as volume_alloc_unit,
        cast(sign * volume * hour_factor as double) as hours,
        cast(answered_on as date) as answered_on,
        cast(rejected_on as date) as rejected_on,
        cast(return_codes as varchar) as return_codes,
        cast(
            case when rejected_on is not null then 'rejected'
                 when answered_on is not null then 'approved'
                 else 'pending' end as varchar
        ) as status_now,
        cast(
            case
                when not allocation_found then 'unknown_allocation'
                when allocation_deleted then 'deleted_allocation'
                when period_start < allocation_start
                    or (allocation_end is not null and period_end > allocation_end)
                    then 'period_outside_allocation'
            end as varchar
        ) as allocation_issue,
        cast(source_file as varchar) as source_file,
        cast(source_row as bigint) as source_row
    from converted
)

select * from final
