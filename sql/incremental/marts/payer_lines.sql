-- Lines to build again: lines rebuilt in staging, and lines whose presence or status as of the
-- reporting date changed between $previous_as_of and $as_of (declared, answered or rejected in between).
select source_file, source_row from delta_declaration_lines

union all

select source_file, source_row from delta_zvw_lines

union all

select source_file, source_row
from staging.declaration_lines
where (declared_on > $previous_as_of and declared_on <= $as_of)
    or (answered_on > $previous_as_of and answered_on <= $as_of)
    or (rejected_on > $previous_as_of and rejected_on <= $as_of)

union all

select source_file, source_row
from staging.zvw_lines
where cast(submitted_on as date) > $previous_as_of and cast(submitted_on as date) <= $as_of
