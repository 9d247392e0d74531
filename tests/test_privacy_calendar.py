"""Unit tests: elfproef, pseudonyms, BSN masking, calendars."""

import datetime as dt
import hashlib
import hmac

import polars as pl
import pytest

from pipeline import calendar
from pipeline.privacy import is_valid_bsn, mask_bsns, pseudonymise


@pytest.mark.parametrize(
    "bsn, valid",
    [
        # 9*9 + 9*8 + 9*7 + 9*6 + 0*5 + 0*4 + 0*3 + 0*2 - 6 = 270 - 6 = 264 = 24 * 11
        ("999900006", True),
        # 1*9 + 2*8 + 3*7 + 4*6 + 5*5 + 6*4 + 7*3 + 8*2 - 9 = 156 - 9 = 147, not divisible by 11
        ("123456789", False),
        ("99990000", False),  # eight digits
        ("99990000a", False),
        ("000000000", False),  # passes the arithmetic but is no BSN
    ],
)
def test_elfproef(bsn, valid):
    assert is_valid_bsn(bsn) is valid


def test_pseudonym_is_hmac_sha256_of_the_bsn():
    frame = pl.DataFrame({"client_bsn": ["999900006", None, "999900018"]})
    ids = pseudonymise(frame, b"secret").to_list()
    assert ids[0] == hmac.new(b"secret", b"999900006", hashlib.sha256).hexdigest()
    assert ids[1] is None
    assert ids[2] != ids[0]
    # another key gives another pseudonym
    assert pseudonymise(frame, b"other")[0] != ids[0]


def test_long_key_is_hashed_first_like_hmac():
    key = b"k" * 100
    frame = pl.DataFrame({"client_bsn": ["999900006"]})
    assert pseudonymise(frame, key)[0] == hmac.new(key, b"999900006", hashlib.sha256).hexdigest()


def test_mask_bsns():
    assert mask_bsns("BSN 999900006 in error") == "BSN ********* in error"
    assert mask_bsns("reference 1234567890") == "reference 1234567890"  # ten digits: not a BSN


def test_months_have_their_lengths():
    months = calendar.months(2024, 2024)
    assert months.height == 12
    assert months.filter(pl.col("month") == dt.date(2024, 2, 1))["days"].item() == 29  # leap year


def test_iso_week_53_of_2026():
    weeks = calendar.iso_weeks(2025, 2027)
    per_year = dict(weeks.group_by("iso_year").len().iter_rows())
    assert per_year == {2025: 52, 2026: 53, 2027: 52}
    w53 = weeks.filter((pl.col("iso_year") == 2026) & (pl.col("iso_week") == 53)).row(0, named=True)
    assert (w53["week_start"], w53["week_end"]) == (dt.date(2026, 12, 28), dt.date(2027, 1, 3))


def test_cak_rule_a_2024_and_2026():
    periods = calendar.cak_periods(2024, 2026, "A")
    p2024 = periods.filter(pl.col("year") == 2024)
    assert p2024.height == 13
    # P1 = 1-28 January 2024 (domain-facts.md); P12 = days 309..336 = 4 Nov - 1 Dec 2024 (leap year)
    assert p2024.row(0)[2:] == (dt.date(2024, 1, 1), dt.date(2024, 1, 28))
    assert p2024.row(11)[2:] == (dt.date(2024, 11, 4), dt.date(2024, 12, 1))
    assert p2024.row(12)[2:] == (dt.date(2024, 12, 2), dt.date(2024, 12, 31))


def test_cak_rules_agree_on_2024_and_b_runs_to_the_last_iso_week():
    a = calendar.cak_periods(2024, 2024, "A").filter(pl.col("period") <= 12)
    b = calendar.cak_periods(2024, 2024, "B").filter(pl.col("period") <= 12)
    assert a.equals(b)
    b2026 = calendar.cak_periods(2026, 2026, "B").filter(pl.col("period") == 13).row(0)
    # ISO weeks 49-53 of 2026: Monday 30 Nov 2026 .. Sunday 3 Jan 2027 (five weeks)
    assert b2026[2:] == (dt.date(2026, 11, 30), dt.date(2027, 1, 3))
    c2026 = calendar.cak_periods(2026, 2026, "C").filter(pl.col("period").is_in([1, 13]))
    assert c2026["start_date"][0] == dt.date(2026, 1, 1)  # week 1 starts 29 Dec 2025, clipped
    assert c2026["end_date"][1] == dt.date(2026, 12, 31)


def test_working_days_skip_weekends_and_dutch_holidays():
    days = calendar.calendar_days(2026, 2026)
    get = dict(days.select("day", "is_working_day").iter_rows())
    assert get[dt.date(2026, 4, 27)] is False  # Koningsdag, a Monday
    assert get[dt.date(2026, 12, 25)] is False  # Christmas
    assert get[dt.date(2026, 4, 25)] is False  # Saturday
    assert get[dt.date(2026, 4, 28)] is True
    # 2026 has 261 weekdays. Holidays on weekdays: New Year 1 Jan (Thu), Good Friday 3 Apr,
    # Easter Monday 6 Apr, Koningsdag 27 Apr, Ascension 14 May, Whit Monday 25 May,
    # Christmas 25 Dec (Fri) = 7; Boxing Day falls on a Saturday. 261 - 7 = 254.
    assert days["working_day_number"][-1] == 254


@pytest.mark.parametrize(("d0", "d1", "weeks", "sundays", "months"), [
    # January 2025: Wednesday 1 to Friday 31 touches ISO weeks 1-5; Sundays 5, 12, 19, 26
    ("2025-01-01", "2025-01-31", 5, 4, 1),
    # a single Sunday (2025-01-05): one week, one Sunday
    ("2025-01-05", "2025-01-05", 1, 1, 1),
    # Monday 6 January 2025 to Sunday 2 March 2025: eight whole weeks, eight Sundays, three months
    ("2025-01-06", "2025-03-02", 8, 8, 3),
    # across a year end: Monday 29 December 2025 to Saturday 3 January 2026 is one ISO week
    ("2025-12-29", "2026-01-03", 1, 0, 2),
])
def test_calendar_macros_count_weeks_sundays_and_months(d0, d1, weeks, sundays, months):
    import duckdb

    from pipeline.sql import MACROS

    conn = duckdb.connect()
    conn.execute(MACROS)
    got = conn.execute(
        "select iso_weeks_touched(?::date, ?::date), sundays_between(?::date, ?::date), months_touched(?::date, ?::date)",
        [d0, d1, d0, d1, d0, d1]).fetchall()[0]
    assert got == (weeks, sundays, months)
