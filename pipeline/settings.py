"""The one settings object of metrics.md: the reporting date and every threshold.

It is a Dagster resource, so the UI shows its values and a run can override any of them in the
launchpad (``resources: settings: config: as_of: "2026-06-30"``).
"""

from __future__ import annotations

import datetime as dt
import re

import dagster as dg
from pydantic import Field, field_validator

# a data_start key: a municipality and law ("0361/wmo"), a municipality for both laws or an insurer
# (its 4-digit code, "0361", "3311"), or "*" for every payer
_DATA_START_KEY = re.compile(r"^(\*|[0-9]{4}(/(wmo|jeugd))?)$")


class MetricSettings(dg.ConfigurableResource):
    """Reporting date and thresholds used by every mart and report."""

    as_of: str | None = Field(
        default=None,
        description="Reporting date (YYYY-MM-DD). Empty: the last day of the latest month with data.",
    )
    maturity_months: int = Field(default=2, description="A month is mature when it ended this many months before as_of.")
    underuse_threshold: float = Field(default=0.5, description="Delivered ÷ max below this is low utilisation.")
    min_mature_months: int = Field(default=3, description="Mature months needed before low utilisation is judged.")
    late_after_months: int = Field(default=3, description="A line is late when declared more than this many months after its period.")
    answer_days: int = Field(default=10, description="Working days within which a declaration should be answered.")
    chain_ladder_max_lag: int = Field(default=12, description="Largest lag (months) in the chain ladder.")
    run_rate_days: int = Field(default=91, description="Days of submissions that set the run rate towards a ceiling.")
    alert_share_low: float = Field(default=0.7, description="Ceiling share that raises alert '70'.")
    alert_share_high: float = Field(default=0.9, description="Ceiling share that raises alert '90'.")
    stop_message_days: int = Field(
        default=5, description="Working days after the end of care within which a stop message (307) is due."
    )
    data_start: dict[str, str] = Field(
        default={},
        description="Where a payer's observed data begins (metrics.md §1), when not at the earliest "
        "service month of its loaded declaration lines: payer -> ISO date, the window starting at that "
        "date's month. Payer: '0361/wmo' (a municipality and law), '0361' (a municipality, both laws, "
        "or an insurer of that code), '3311' (an insurer), '*' (every payer); the most specific key wins.",
    )
    cak_rule: str = Field(default="A", description="CAK period rule (A, B or C) when no cak_periods table is given.")
    language: str = Field(default="nl", description="Report language: nl or en.")
    min_cell_clients: int = Field(
        default=0,
        description="Small-cell suppression for reports that leave the organisation: blank figures "
        "resting on fewer clients than this and leave out lists per allocation (0 = off; 5 is usual).",
    )

    @field_validator("as_of")
    @classmethod
    def _as_of_is_a_date(cls, value: str | None) -> str | None:
        """Checked when the run's resources are set up, before any asset runs."""
        return parse_as_of(value)

    def as_of_date(self, latest_data_day: dt.date | None) -> dt.date:
        """The effective as_of: the setting, or the end of the month of the latest data day."""
        if self.as_of:
            return dt.date.fromisoformat(self.as_of)
        if latest_data_day is None:
            return dt.date.today()
        return month_end(latest_data_day)

    def sql_params(self, as_of: dt.date) -> dict[str, object]:
        """Named parameters available to every SQL file ($as_of, $maturity_months, ...)."""
        return {
            "as_of": as_of,
            # the reporting dates of the models that compute several at once (metrics.md §14): the
            # published build has as_of alone, marts.forecast_history passes every month end
            "as_of_dates": [as_of],
            "maturity_months": self.maturity_months,
            "underuse_threshold": self.underuse_threshold,
            "min_mature_months": self.min_mature_months,
            "late_after_months": self.late_after_months,
            "answer_days": self.answer_days,
            "chain_ladder_max_lag": self.chain_ladder_max_lag,
            "run_rate_days": self.run_rate_days,
            "alert_share_low": self.alert_share_low,
            "alert_share_high": self.alert_share_high,
            "cak_rule": self.cak_rule,
            "stop_message_days": self.stop_message_days,
            # a list of structs, the form DuckDB takes as a parameter (an empty list too)
            "data_start": [
                {"payer": key, "data_start": dt.date.fromisoformat(value)}
                for key, value in sorted(self.data_start.items())
            ],
        }

    @field_validator("data_start")
    @classmethod
    def _valid_data_start(cls, value: dict[str, str]) -> dict[str, str]:
        for key, day in value.items():
            if not _DATA_START_KEY.match(key):
                raise ValueError(
                    f"data_start key {key!r} is no payer: use '0361/wmo', '0361/jeugd', '0361', '3311' or '*'"
                )
            try:
                dt.date.fromisoformat(day)
            except (TypeError, ValueError):
                raise ValueError(f"data_start[{key!r}] = {day!r} is no ISO date (YYYY-MM-DD)") from None
        return value


def month_end(day: dt.date) -> dt.date:
    first_next = (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    return first_next - dt.timedelta(days=1)


def parse_as_of(value: str | None) -> str | None:
    """The setting ``as_of`` as given (None when empty), or a ValueError naming the setting:
    only YYYY-MM-DD of a real date, never a guess ('31-12-2026' is not read as 31 December)."""
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    problem = None
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        problem = "is not written YYYY-MM-DD"
    else:
        try:
            day = dt.date.fromisoformat(text)
        except ValueError:
            problem = "is no date of the calendar"
        else:
            if not 2015 <= day.year <= 2100:
                problem = "lies outside 2015-2100"
    if problem:
        raise ValueError(
            f"setting as_of = {text[:40]!r} {problem}: give the reporting date as YYYY-MM-DD "
            "(for example 2026-06-30), or leave it empty for the last day of the latest month with data")
    return text
