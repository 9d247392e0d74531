-- Allocations to build again: maxima rebuilt; lines rebuilt in staging; lines declared, answered
-- or rejected between $previous_as_of and $as_of; and allocations with a month that enters the
-- window to date (a new row). is_mature of the other rows follows $as_of in the refresh statement.
select municipality_code, law, allocation_number from delta_allocation_month_maxima

union all

select municipality_code, law, allocation_number from delta_declaration_lines

union all

select municipality_code, law, allocation_number
from staging.declaration_lines
where (declared_on > $previous_as_of and declared_on <= $as_of)
    or (answered_on > $previous_as_of and answered_on <= $as_of)
    or (rejected_on > $previous_as_of and rejected_on <= $as_of)

union all

select municipality_code, law, allocation_number
from marts.allocation_month_maxima
where month > $previous_as_of and month <= $as_of
