-- Allocations to build again: a version added, changed or removed, or a version decided between
-- $previous_as_of and $as_of (the version in force at $as_of changed). is_mature and is_after_as_of
-- of the other rows follow $as_of in the model's refresh statement (pipeline/incremental.py).
select municipality_code, law, allocation_number from delta_allocation_version_months

union all

select municipality_code, law, allocation_number
from staging.allocation_versions
where cast(decided_on as date) > $previous_as_of and cast(decided_on as date) <= $as_of
