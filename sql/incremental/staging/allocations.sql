-- Allocations with a version added, changed or removed.
select municipality_code, law, allocation_number from delta_allocation_versions
