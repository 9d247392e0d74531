-- Allocations touched by changed inbox files: their rows in those files now, and the versions
-- those files held before (a replaced or removed file).
select municipality_code, law, allocation_number
from raw.allocations
where source_file in (select source_file from _changed_files)

union all

select municipality_code, law, allocation_number
from staging.allocation_versions
where source_file in (select source_file from _changed_files)
