"""The one Definitions object: assets, checks, resources, job, schedule and sensor."""


import hashlib

import dagster as dg

from pipeline.assets.calendars import calendars
from pipeline.assets.exports import marts_parquet
from pipeline.assets.forecast_history import forecast_history
from pipeline.assets.raw import raw_assets
from pipeline.assets.reports import reports
from pipeline.assets.sql_assets import marts_sql_assets, staging_sql_assets
from pipeline.checks import standalone_checks
from pipeline.paths import data_dir
from pipeline.resources import default_resources

all_assets = [*raw_assets, calendars, *staging_sql_assets, *marts_sql_assets, forecast_history, reports, marts_parquet]
# the other checks run inside their asset's step (check_specs, pipeline/checks.py)
all_checks = [*standalone_checks]

refresh_job = dg.define_asset_job(
    "refresh",
    selection=dg.AssetSelection.all(),
    description="Load the inbox and rebuild staging, marts and reports.",
)

monthly_schedule = dg.ScheduleDefinition(
    name="monthly_refresh",
    job=refresh_job,
    cron_schedule="0 6 2 * *",
    execution_timezone="Europe/Amsterdam",
    description="On the 2nd of every month at 06:00: the monthly dashboard.",
)


@dg.sensor(job=refresh_job, minimum_interval_seconds=60, description="Starts a refresh when files in the inbox or reference folder change.")
def inbox_sensor(context: dg.SensorEvaluationContext):
    root = data_dir()
    files = sorted(
        p for folder in (root / "inbox", root / "reference") if folder.is_dir()
        for p in folder.rglob("*") if p.is_file()
    )
    # a stable digest (Python's hash() differs between processes, and sensors run in several)
    # ctime and inode too: a corrected file that keeps its size and modification time is a change
    stats = [(p, p.stat()) for p in files]
    listing = "\n".join(f"{p}|{st.st_mtime_ns}|{st.st_size}|{st.st_ctime_ns}|{st.st_ino}" for p, st in stats)
    fingerprint = hashlib.sha256(listing.encode()).hexdigest()
    if files and fingerprint != context.cursor:
        context.update_cursor(fingerprint)
        yield dg.RunRequest(run_key=fingerprint)


defs = dg.Definitions(
    assets=all_assets,
    asset_checks=all_checks,
    jobs=[refresh_job],
    schedules=[monthly_schedule],
    sensors=[inbox_sensor],
    resources=default_resources(),
    executor=dg.in_process_executor,
)
