-- Raw declaration rows to build again: rows of changed files (now and before), rows of a
-- declaration message whose answers changed, rows naming an allocation whose current version changed.
select source_file, source_row
from raw.declarations
where source_file in (select source_file from _changed_files)

union all

select source_file, source_row
from staging.declaration_lines
where source_file in (select source_file from _changed_files)

union all

select lines.source_file, lines.source_row
from raw.declarations as lines
semi join delta_answers as answers
    on answers.provider_agb = lines.provider_agb and answers.message_id = lines.message_id

union all

select lines.source_file, lines.source_row
from raw.declarations as lines
semi join delta_allocations as allocations
    on allocations.municipality_code = lines.municipality_code
    and allocations.law = lines.law
    and allocations.allocation_number = lines.allocation_number
