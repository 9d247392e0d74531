"""Calendar tables of metrics.md §1 (months, ISO weeks, working days, CAK periods)."""


import datetime as dt

import dagster as dg
import polars as pl

from pipeline import calendar
from pipeline.resources import Warehouse
from pipeline.sql import fetch_one
from pipeline.settings import MetricSettings

_DATA_DEPS = [dg.AssetKey(["raw", k]) for k in ("allocations", "declarations", "zvw_declarations", "cak_periods")]


def year_span(conn) -> tuple[int, int]:
    """First data year to the year after the last data year (or this year when empty)."""
    low, high = fetch_one(
        conn,
        """select min(y), max(y) from (
               select year(min(start_date)) y from raw.allocations union all
               select year(max(start_date)) from raw.allocations union all
               select year(min(period_start)) from raw.declarations union all
               select year(max(period_start)) from raw.declarations union all
               select year(min(service_start)) from raw.zvw_declarations union all
               select year(max(service_start)) from raw.zvw_declarations)""",
    )
    this_year = dt.date.today().year
    low = min(low or this_year, this_year)
    high = max(high or this_year, this_year) + 1
    return low, high


def write_table(conn, name: str, frame: pl.DataFrame) -> int:
    conn.execute("create schema if not exists staging")
    conn.register("_frame", frame)
    conn.execute(f"create or replace table staging.{name} as select * from _frame")
    conn.unregister("_frame")
    return frame.height


def build_calendars(conn, cak_rule: str) -> dict[str, int]:
    first, last = year_span(conn)
    counts = {
        "calendar_months": write_table(conn, "calendar_months", calendar.months(first, last)),
        "calendar_iso_weeks": write_table(conn, "calendar_iso_weeks", calendar.iso_weeks(first, last)),
        "calendar_days": write_table(conn, "calendar_days", calendar.calendar_days(first, last)),
    }
    given = conn.sql(
        "select cast(year as integer) as year, cast(period as integer) as period, "
        "cast(start_date as date) as start_date, cast(end_date as date) as end_date "
        "from raw.cak_periods order by year, period"
    ).pl()
    generated = calendar.cak_periods(first, last, cak_rule)
    # Years the reference table covers keep its dates; other years follow the rule.
    cak = pl.concat([given, generated.filter(~pl.col("year").is_in(given["year"].implode()))]).sort("year", "period")
    counts["cak_periods"] = write_table(conn, "cak_periods", cak)
    return counts


@dg.multi_asset(
    specs=[
        dg.AssetSpec(["staging", n], group_name="staging", deps=_DATA_DEPS, kinds={"duckdb"}, description=d)
        for n, d in (
            ("calendar_months", "staging.calendar_months: calendar months with their length."),
            ("calendar_iso_weeks", "staging.calendar_iso_weeks: ISO 8601 weeks (2026 has 53)."),
            ("calendar_days", "staging.calendar_days: days, Dutch working days and their running number."),
            ("cak_periods", "staging.cak_periods: CAK four-weekly periods, from data/reference or the configured rule."),
        )
    ]
)
def calendars(context: dg.AssetExecutionContext, warehouse: Warehouse, settings: MetricSettings):
    """Months, ISO weeks, working days and CAK periods for every year in the data."""
    with warehouse.connect() as conn:
        counts = build_calendars(conn, settings.cak_rule)
    for name, rows in counts.items():
        yield dg.MaterializeResult(asset_key=["staging", name], metadata={"dagster/row_count": rows})
