"""Calendars of metrics.md §1: months, ISO weeks, CAK periods and working days.

Plain functions that return Polars frames for a range of years; the staging assets load them
into DuckDB. CAK periods follow one of the three rules of domain-facts.md (default A) unless a
``cak_periods`` reference table is given.
"""

from __future__ import annotations

import datetime as dt

import holidays
import polars as pl


def months(first_year: int, last_year: int) -> pl.DataFrame:
    """One row per calendar month: month (first day), month_end, year, days."""
    start = pl.date_range(dt.date(first_year, 1, 1), dt.date(last_year, 12, 1), "1mo", eager=True)
    return (
        pl.DataFrame({"month": start})
        .with_columns(month_end=pl.col("month").dt.month_end())
        .with_columns(
            year=pl.col("month").dt.year().cast(pl.Int32),
            days=((pl.col("month_end") - pl.col("month")).dt.total_days() + 1).cast(pl.Int32),
        )
    )


def iso_weeks(first_year: int, last_year: int) -> pl.DataFrame:
    """One row per ISO 8601 week whose ISO year lies in the range (2026 has 53 weeks)."""
    first_monday = dt.date.fromisocalendar(first_year, 1, 1)
    last_monday = dt.date.fromisocalendar(last_year + 1, 1, 1) - dt.timedelta(days=7)
    mondays = pl.date_range(first_monday, last_monday, "1w", eager=True)
    return pl.DataFrame({"week_start": mondays}).select(
        iso_year=pl.col("week_start").dt.iso_year().cast(pl.Int32),
        iso_week=pl.col("week_start").dt.week().cast(pl.Int32),
        week_start=pl.col("week_start"),
        week_end=pl.col("week_start") + pl.duration(days=6),
    )


def cak_periods(first_year: int, last_year: int, rule: str = "A") -> pl.DataFrame:
    """Thirteen four-weekly CAK periods a year under rule A, B or C (domain-facts.md).

    A: period 1 starts on 1 January, periods 1-12 last 28 days, period 13 runs to 31 December.
    B: period n is ISO weeks 4n-3 … 4n, period 13 runs to the last ISO week of the year.
    C: as B, clipped to the calendar year.
    """
    rule = rule.upper()
    if rule not in {"A", "B", "C"}:
        raise ValueError(f"unknown CAK rule {rule!r}; use A, B or C")
    years = pl.DataFrame({"year": list(range(first_year, last_year + 1))}, schema={"year": pl.Int32})
    frame = years.join(pl.DataFrame({"period": list(range(1, 14))}, schema={"period": pl.Int32}), how="cross")
    jan1 = pl.date(pl.col("year"), 1, 1)
    dec31 = pl.date(pl.col("year"), 12, 31)
    offset = pl.duration(days=(pl.col("period") - 1) * 28)
    if rule == "A":
        start = jan1 + offset
        end = pl.when(pl.col("period") == 13).then(dec31).otherwise(start + pl.duration(days=27))
    else:
        # Monday of ISO week 1: 4 January minus its ISO weekday + 1.
        jan4 = pl.date(pl.col("year"), 1, 4)
        week1 = jan4 - pl.duration(days=jan4.dt.weekday() - 1)
        next_jan4 = pl.date(pl.col("year") + 1, 1, 4)
        next_week1 = next_jan4 - pl.duration(days=next_jan4.dt.weekday() - 1)
        start = week1 + offset
        end = pl.when(pl.col("period") == 13).then(next_week1 - pl.duration(days=1)).otherwise(
            start + pl.duration(days=27)
        )
        if rule == "C":
            start = pl.max_horizontal(start, jan1)
            end = pl.min_horizontal(end, dec31)
    return frame.with_columns(start_date=start, end_date=end).sort("year", "period")


def calendar_days(first_year: int, last_year: int) -> pl.DataFrame:
    """Every day with is_working_day (Mon-Fri, no Dutch public holiday) and a running count."""
    nl = holidays.country_holidays("NL", years=range(first_year, last_year + 1))
    days = pl.date_range(dt.date(first_year, 1, 1), dt.date(last_year, 12, 31), "1d", eager=True)
    holiday_days = pl.Series("day", sorted(nl.keys()), dtype=pl.Date)
    return (
        pl.DataFrame({"day": days})
        .with_columns(
            is_working_day=(pl.col("day").dt.weekday() <= 5) & ~pl.col("day").is_in(holiday_days.implode())
        )
        .with_columns(working_day_number=pl.col("is_working_day").cast(pl.Int32).cum_sum())
    )
