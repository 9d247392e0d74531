-- Allocation-months to build again:
-- - every month of an allocation whose maxima were rebuilt (the months it has now and had before);
-- - the months a line spans, for lines rebuilt in staging and for lines declared, answered or
--   rejected between $previous_as_of and $as_of;
-- - months that enter the window to date (new rows).
-- is_mature of the other rows follows $as_of in the model's refresh statement.
with

changed_allocations as (
    select municipality_code, law, allocation_number from delta_allocation_month_maxima
),

changed_lines as (
    select municipality_code, law, allocation_number, period_start, period_end
    from delta_declaration_lines

    union all

    select municipality_code, law, allocation_number, period_start, period_end
    from staging.declaration_lines
    where (declared_on > $previous_as_of and declared_on <= $as_of)
        or (answered_on > $previous_as_of and answered_on <= $as_of)
        or (rejected_on > $previous_as_of and rejected_on <= $as_of)
)

-- every month of a changed allocation: the months it has now and the months it had before
select m.municipality_code, m.law, m.allocation_number, m.month
from (
    select municipality_code, law, allocation_number, month from marts.allocation_month_maxima
    union all
    select municipality_code, law, allocation_number, month from marts.allocation_months
) as m
semi join changed_allocations as c
    on c.municipality_code = m.municipality_code and c.law = m.law
    and c.allocation_number = m.allocation_number

union all

select
    municipality_code, law, allocation_number,
    cast(unnest(generate_series(
        cast(date_trunc('month', period_start) as date),
        cast(date_trunc('month', coalesce(period_end, period_start)) as date),
        interval 1 month
    )) as date) as month
from changed_lines
where period_start is not null

union all

select municipality_code, law, allocation_number, month
from marts.allocation_month_maxima
where month > $previous_as_of and month <= $as_of
