-- Allocations to build again: a version added, changed or removed (every version's validity may
-- change with it, so all months of the allocation are built again).
select municipality_code, law, allocation_number from delta_allocation_versions
