"""metrics.md §3-§6 through the SQL files of sql/marts/:

allocation_month_maxima -> allocation_months -> band_utilisation -> allocation_totals -> rekenfactor

Every test builds tiny staging tables with `create_staging`, runs `build_table` in dependency order
and asserts rows whose expected values were computed by hand (the arithmetic is in the comments).
Calendar facts used below: 2025-01-01 is a Wednesday (ISO week 1 of 2025 starts 2024-12-30),
2025-10-07 a Tuesday, 2025-12-29 a Monday (ISO week 1 of 2026), 2026-12-28 a Monday (ISO week 53
of 2026, which runs to Sunday 2027-01-03).
"""

from __future__ import annotations

import datetime as dt
import re

import duckdb
import polars as pl
import pytest

from pipeline.paths import SQL_DIR
from pipeline.settings import MetricSettings
from pipeline.sql import build_table
from staging_schema import STAGING_COLUMNS, create_staging

D = dt.date
MARTS = [
    "allocation_version_months",
    "allocation_month_maxima",
    "allocation_months",
    "band_utilisation",
    "allocation_commitments",
    "allocation_totals",
    "rekenfactor",
]
KEY = ("municipality_code", "law", "allocation_number")

_POLARS_TYPES = {
    "varchar": pl.String, "date": pl.Date, "timestamp": pl.Datetime, "double": pl.Float64,
    "decimal(18,2)": pl.Float64, "boolean": pl.Boolean, "integer": pl.Int32,
}


def frame(table: str, rows: list[dict]) -> pl.DataFrame:
    """A polars frame for a staging table, typed from the DDL (so all-null columns keep a type)."""
    names = sorted({name for row in rows for name in row})
    schema = {name: _POLARS_TYPES[STAGING_COLUMNS[table][name]] for name in names}
    data = [{n: row.get(n) for n in names} for row in rows]
    return pl.DataFrame(data, schema=schema, orient="row")


def alloc(number: str, start: dt.date, end: dt.date | None, volume: float | None = None,
          unit: str | None = None, frequency: str | None = None, **kw) -> dict:
    variant = kw.pop("variant", None)
    if variant is None:
        if volume is not None and unit in ("01", "04", "14", "16", "84"):
            variant = "inspanning"
        elif volume is not None and unit in ("82", "83"):
            variant = "output"
        elif kw.get("budget_eur") is not None:
            variant = "budget"
        else:
            variant = "none"
    row = {
        "municipality_code": "0363", "law": "wmo", "allocation_number": number,
        "client_id": "c" * 64, "provider_agb": "11111111", "product_category": "02",
        "product_code": "02A01", "decided_on": dt.datetime(2024, 12, 1, 9, 0),
        "start_date": start, "end_date": end, "volume": volume, "unit": unit,
        "frequency": frequency, "change_reason": None, "is_deleted": False, "variant": variant,
    }
    row.update(kw)
    if row["change_reason"] == "13":
        row["is_deleted"] = True
    return row


_ref = iter(range(1, 10**6))


def line(number: str, period_start: dt.date, volume: float, amount: float = 0.0, *,
         period_end: dt.date | None = None, declared_on: dt.date | None = None,
         answered_on: dt.date | None = dt.date(2020, 1, 1), rejected_on: dt.date | None = None,
         hours: float | None = None, credit: bool = False, **kw) -> dict:
    """A declaration line on allocation `number`; `volume` is the volume in the allocation's unit
    (before the credit sign). By default it is declared at the end of its period and approved
    (answered_on is set to the declaration date unless given)."""
    period_end = period_end or period_start
    declared_on = declared_on or period_end
    if answered_on == dt.date(2020, 1, 1):
        answered_on = declared_on
    sign = -1 if credit else 1
    row = {
        "provider_agb": "11111111", "municipality_code": "0363", "law": "wmo",
        "message_id": f"m{next(_ref)}", "reference_number": f"r{next(_ref)}",
        "allocation_number": number, "period_start": period_start, "period_end": period_end,
        "month": period_start.replace(day=1), "declared_on": declared_on,
        "volume": volume, "debit_credit": "C" if credit else "D", "sign": sign,
        "net_volume": sign * volume, "volume_alloc_unit": sign * volume,
        "amount_eur": amount, "net_amount_eur": sign * amount,
        "hours": None if hours is None else sign * hours,
        "answered_on": answered_on, "rejected_on": rejected_on,
    }
    row.update(kw)
    return row


def build(allocations: list[dict], lines: list[dict] | None = None, *, as_of: dt.date,
          products: list[dict] | None = None, delivered_hours: list[dict] | None = None,
          care_events: list[dict] | None = None, **settings) -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect()
    frames = {"allocation_versions": frame("allocation_versions", allocations)}
    if lines:
        frames["declaration_lines"] = frame("declaration_lines", lines)
    if products:
        frames["products"] = frame("products", products)
    if delivered_hours:
        frames["delivered_hours"] = frame("delivered_hours", delivered_hours)
    if care_events:
        frames["care_events"] = frame("care_events", care_events)
    create_staging(conn, **frames)
    params = MetricSettings(**settings).sql_params(as_of)
    build_table(conn, "staging", "observation_windows", params)  # from the lines and allocations
    build_table(conn, "staging", "allocation_products", params)  # from the allocations and products
    build_table(conn, "staging", "stops_for_good", params)  # from the care events
    for name in MARTS:
        build_table(conn, "marts", name, params)
    return conn


def rows(conn: duckdb.DuckDBPyConnection, query: str) -> list[dict]:
    cursor = conn.cursor()
    result = cursor.execute(query)
    names = [d[0] for d in result.description]
    return [dict(zip(names, values)) for values in result.fetchall()]


def by_month(conn, table: str, number: str, column: str) -> dict[dt.date, object]:
    return {
        r["month"]: r[column]
        for r in rows(conn, f"select * from marts.{table} where allocation_number = '{number}'")
    }


def total(conn, number: str) -> dict:
    query = f"select * from marts.allocation_totals where allocation_number = '{number}'"
    (row,) = rows(conn, query)
    return row


# ---------------------------------------------------------------------------------------------
# §3 monthly maxima and totals
# ---------------------------------------------------------------------------------------------


def test_worked_examples_of_section_3():
    conn = build(
        [
            alloc("A", D(2025, 10, 7), D(2025, 12, 30), 3, "04", "2"),
            alloc("B", D(2025, 7, 7), D(2025, 9, 7), 3, "04", "2"),
            alloc("C", D(2025, 10, 7), D(2025, 12, 31), 300, "83", "2"),
            alloc("D", D(2025, 7, 7), D(2025, 9, 5), 300, "83", "2"),
        ],
        as_of=D(2025, 12, 31),
    )
    m = lambda n: by_month(conn, "allocation_month_maxima", n, "max_volume")  # noqa: E731
    # A: Oct 7-31 touches ISO weeks 41-44 (4 x 3 = 12); Nov 1-30 weeks 44-48 (5 x 3 = 15);
    #    Dec 1-30 weeks 49-52 and 1 (5 x 3 = 15); Oct 7 .. Dec 30 touches 13 weeks: 39
    assert m("A") == {D(2025, 10, 1): 12, D(2025, 11, 1): 15, D(2025, 12, 1): 15}
    # B: Jul 7-31 weeks 28-31 (12); Aug weeks 31-35 (15); Sep 1-7 week 36 (3); 9 weeks: 27
    assert m("B") == {D(2025, 7, 1): 12, D(2025, 8, 1): 15, D(2025, 9, 1): 3}
    # C: Sundays Oct 12,19,26 (3 x 300 = 900); Nov 2..30 (5: 1500); Dec 7..28 (4) + 1 because the
    #    last Sunday (Dec 28) lies in Dec and Dec 31 is a Wednesday: 5 x 300 = 1500; total 3900
    assert m("C") == {D(2025, 10, 1): 900, D(2025, 11, 1): 1500, D(2025, 12, 1): 1500}
    # D: Sundays Jul 13,20,27 (900); Aug 3..31 (5) + 1 (last Sunday Aug 31, Sep 5 is a Friday):
    #    1800; Sep 1-5 has no Sunday: 0; total 2700
    assert m("D") == {D(2025, 7, 1): 900, D(2025, 8, 1): 1800, D(2025, 9, 1): 0}
    totals = {
        r["allocation_number"]: r["total_max_volume"]
        for r in rows(conn, "select distinct allocation_number, total_max_volume "
                            "from marts.allocation_month_maxima")
    }
    assert totals == {"A": 39, "B": 27, "C": 3900, "D": 2700}
    # the same totals reach allocation_totals
    assert {n: total(conn, n)["total_max_volume"] for n in "ABCD"} == totals
    # week and Sunday counts of A's October period
    (oct_a,) = rows(conn, "select * from marts.allocation_month_maxima "
                          "where allocation_number = 'A' and month = date '2025-10-01'")
    assert (oct_a["period_start"], oct_a["period_end"]) == (D(2025, 10, 7), D(2025, 10, 31))
    assert (oct_a["days_in_period"], oct_a["iso_weeks_in_period"], oct_a["sundays_in_period"]) == (
        25, 4, 3)


def test_per_day_per_month_and_total_volume():
    conn = build(
        [
            # 2 per day, Mar 10 .. Apr 5: Mar 22 days x 2 = 44, Apr 5 days x 2 = 10; 27 days: 54
            alloc("DAY", D(2025, 3, 10), D(2025, 4, 5), 2, "04", "1"),
            # 10 per month from Mar 15 to May 10: 10 in every month, also the partial ones (IV078);
            # total 10 x 3 months = 30
            alloc("MON", D(2025, 3, 15), D(2025, 5, 10), 10, "84", "4"),
            # 40 in total: no monthly maximum, total 40
            alloc("TOT", D(2025, 3, 15), D(2025, 5, 10), 40, "04", "6"),
        ],
        as_of=D(2025, 12, 31),
    )
    m = lambda n: by_month(conn, "allocation_month_maxima", n, "max_volume")  # noqa: E731
    assert m("DAY") == {D(2025, 3, 1): 44, D(2025, 4, 1): 10}
    assert m("MON") == {D(2025, 3, 1): 10, D(2025, 4, 1): 10, D(2025, 5, 1): 10}
    assert m("TOT") == {D(2025, 3, 1): None, D(2025, 4, 1): None, D(2025, 5, 1): None}
    assert [total(conn, n)["total_max_volume"] for n in ("DAY", "MON", "TOT")] == [54, 30, 40]
    # no monthly maximum: never a period overshoot, utilisation empty
    assert set(by_month(conn, "allocation_months", "TOT", "period_overshoot").values()) == {False}
    assert set(by_month(conn, "allocation_months", "TOT", "utilisation").values()) == {None}


def test_huishoudelijke_hulp_is_six_times_the_weekly_volume():
    conn = build(
        [
            # Wmo category 01, 2 hours a week, Mar 10 (Mon, week 11) .. Apr 15 (Tue, week 16)
            alloc("HH", D(2025, 3, 10), D(2025, 4, 15), 2, "04", "2", product_category="01"),
            # the same allocation in Jeugd category 01 is not huishoudelijke hulp: ISO weeks;
            # Mar 10-31 touches weeks 11-14 (4 x 2 = 8); Apr 1-15 weeks 14-16 (3 x 2 = 6)
            alloc("J", D(2025, 3, 10), D(2025, 4, 15), 2, "04", "2", product_category="01",
                  law="jeugd"),
        ],
        as_of=D(2025, 12, 31),
    )
    # flat 6 x 2 = 12 in each month, also the partial April; total 6 ISO weeks (11-16) x 2 = 12
    assert by_month(conn, "allocation_month_maxima", "HH", "max_volume") == {
        D(2025, 3, 1): 12, D(2025, 4, 1): 12}
    assert by_month(conn, "allocation_month_maxima", "J", "max_volume") == {
        D(2025, 3, 1): 8, D(2025, 4, 1): 6}
    assert total(conn, "HH")["total_max_volume"] == 12
    assert total(conn, "J")["total_max_volume"] == 12


def test_output_weeks_ending_on_and_off_a_sunday():
    conn = build(
        [
            # ends on Sunday Jul 13: Jun Sundays 8,15,22,29 (4 x 100 = 400); Jul Sundays 6,13 and
            # no extra week because the allocation ends on a Sunday (200); total 600
            alloc("SUN", D(2025, 6, 2), D(2025, 7, 13), 100, "83", "2"),
            # ends on Wednesday Jul 9: Jun 400; Jul Sunday 6 + 1 (last Sunday Jul 6 is in Jul): 200
            alloc("WED", D(2025, 6, 2), D(2025, 7, 9), 100, "83", "2"),
            # ends on Friday Jul 4: the last Sunday (Jun 29) lies in June: Jun 4 + 1 = 500; Jul 1-4
            # has no Sunday: 0; total 500
            alloc("FRI", D(2025, 6, 2), D(2025, 7, 4), 100, "82", "2"),
        ],
        as_of=D(2025, 12, 31),
    )
    m = lambda n: by_month(conn, "allocation_month_maxima", n, "max_volume")  # noqa: E731
    assert m("SUN") == {D(2025, 6, 1): 400, D(2025, 7, 1): 200}
    assert m("WED") == {D(2025, 6, 1): 400, D(2025, 7, 1): 200}
    assert m("FRI") == {D(2025, 6, 1): 500, D(2025, 7, 1): 0}
    assert [total(conn, n)["total_max_volume"] for n in ("SUN", "WED", "FRI")] == [600, 600, 500]


def test_iso_week_53_of_2026():
    conn = build(
        [
            # Mon 2026-12-28 .. Sun 2027-01-03 is ISO week 53 of 2026: one week in December, the
            # same week in January; the allocation touches 1 ISO week: total 5
            alloc("W53", D(2026, 12, 28), D(2027, 1, 3), 5, "04", "2"),
            # the whole of 2026 (Thu Jan 1, week 1 .. Thu Dec 31, week 53): 53 weeks x 1
            alloc("Y26", D(2026, 1, 1), D(2026, 12, 31), 1, "04", "2"),
        ],
        as_of=D(2027, 1, 31),
    )
    (dec, jan) = rows(conn, "select * from marts.allocation_month_maxima "
                            "where allocation_number = 'W53' order by month")
    assert (dec["month"], dec["iso_weeks_in_period"], dec["max_volume"]) == (D(2026, 12, 1), 1, 5)
    assert (jan["month"], jan["iso_weeks_in_period"], jan["max_volume"]) == (D(2027, 1, 1), 1, 5)
    assert dec["total_max_volume"] == 5
    # the year allowances: the part in 2026 (Dec 28-31) and in 2027 (Jan 1-3) each touch one week
    assert (dec["year_allowance"], jan["year_allowance"]) == (5, 5)
    assert total(conn, "Y26")["total_max_volume"] == 53
    # December 2026: Dec 1 (Tue, week 49) .. Dec 31 (Thu, week 53): 5 weeks
    assert by_month(conn, "allocation_month_maxima", "Y26", "max_volume")[D(2026, 12, 1)] == 5


def test_open_ended_allocation_runs_to_the_end_of_the_as_of_year():
    conn = build(
        [alloc("OPEN", D(2025, 11, 3), None, 2, "04", "2")],
        [line("OPEN", D(2025, 11, 10), 4)],
        as_of=D(2026, 3, 31),
    )
    maxima = rows(conn, "select * from marts.allocation_month_maxima order by month")
    # Nov 2025 .. Dec 2026: 14 months; no total maximum
    assert [r["month"] for r in maxima][0] == D(2025, 11, 1)
    assert [r["month"] for r in maxima][-1] == D(2026, 12, 1)
    assert len(maxima) == 14
    assert {r["total_max_volume"] for r in maxima} == {None}
    # months after as_of are flagged; Apr..Dec 2026 = 9 months
    assert sum(r["is_after_as_of"] for r in maxima) == 9
    # yearly allowance 2025: Nov 3 (week 45) .. Dec 31 (week 1 of 2026): weeks 45-52 and 1 = 9 x 2
    # = 18; 2026: Jan 1 (week 1) .. Dec 31 (week 53): 53 x 2 = 106
    assert {r["year"]: r["year_allowance"] for r in maxima} == {2025: 18, 2026: 106}
    # open-ended December: Dec 1 (week 49) .. Dec 31 (week 53) = 5 x 2 = 10
    assert maxima[-1]["max_volume"] == 10
    # allocation_months stops at the as_of month: Nov 2025 .. Mar 2026 = 5 months
    months = by_month(conn, "allocation_months", "OPEN", "delivered_volume")
    assert sorted(months) == [D(2025, 11, 1), D(2025, 12, 1), D(2026, 1, 1), D(2026, 2, 1),
                              D(2026, 3, 1)]
    t = total(conn, "OPEN")
    assert (t["total_max_volume"], t["delivered_volume"], t["total_overshoot"]) == (None, 4, False)
    assert t["utilisation"] is None


def test_budget_allocation_overshoot_compares_amounts():
    conn = build(
        [
            alloc("BUD", D(2025, 1, 1), D(2025, 6, 30), budget_eur=1000.0, product_code=None),
            alloc("BUD2", D(2025, 1, 1), D(2025, 6, 30), budget_eur=1000.0, product_code=None),
        ],
        [
            # BUD: 600 + 500 approved = 1100 > 1000 budget (TR369)
            line("BUD", D(2025, 1, 10), 1, 600.0),
            line("BUD", D(2025, 2, 10), 1, 500.0),
            # BUD2: 600 approved + 500 pending: approved 600 <= 1000, but requested (declared)
            # 1100 > 1000: judged on requested amounts (§4), a pending line that breaks the budget
            # is an overshoot too
            line("BUD2", D(2025, 1, 10), 1, 600.0),
            line("BUD2", D(2025, 2, 10), 1, 500.0, answered_on=None),
        ],
        as_of=D(2025, 12, 31),
    )
    maxima = rows(
        conn, "select * from marts.allocation_month_maxima where allocation_number = 'BUD'"
    )
    assert len(maxima) == 6
    assert {(r["max_volume"], r["total_max_volume"], r["year_allowance"]) for r in maxima} == {
        (None, None, None)}
    t = total(conn, "BUD")
    assert t["variant"] == "budget"
    assert float(t["approved_amount_eur"]) == 1100.0
    assert t["total_overshoot"] is True
    assert t["utilisation"] == pytest.approx(1.1)  # 1100 / 1000
    t2 = total(conn, "BUD2")
    assert float(t2["approved_amount_eur"]) == 600.0
    assert float(t2["declared_amount_eur"]) == 1100.0
    assert float(t2["requested_amount_eur"]) == 1100.0
    assert t2["total_overshoot"] is True


def test_allocation_crossing_a_year_has_a_yearly_allowance_per_year():
    conn = build(
        # 3 hours a week, Mon 2025-12-01 .. Sat 2026-01-31
        [alloc("X", D(2025, 12, 1), D(2026, 1, 31), 3, "04", "2")],
        [line("X", D(2025, 12, 15), 18), line("X", D(2026, 1, 15), 10)],
        as_of=D(2026, 6, 30),
    )
    rs = rows(conn, "select * from marts.allocation_months order by month")
    # Dec 1-31: weeks 49-52 and 1 = 5 x 3 = 15; Jan 1-31: weeks 1-5 = 5 x 3 = 15
    assert [(r["month"], r["max_volume"]) for r in rs] == [
        (D(2025, 12, 1), 15), (D(2026, 1, 1), 15)]
    # the part in 2025 (Dec 1-31) touches 5 weeks: 15; the part in 2026 (Jan 1-31) 5 weeks: 15
    assert [(r["year"], r["year_allowance"]) for r in rs] == [(2025, 15), (2026, 15)]
    t = total(conn, "X")
    # whole allocation: weeks 49-52 of 2025 and 1-5 of 2026 = 9 x 3 = 27; delivered 28 > 27
    assert (t["total_max_volume"], t["delivered_volume"], t["total_overshoot"]) == (27, 28, True)
    # December is a peak (18 > 15) and 2025's delivered 18 exceeds its allowance 15: not
    # compensated, even though the whole allocation is only 1 over
    assert (t["peak_months"], t["compensated_peak_months"], t["peak_excess_volume"]) == (1, 0, 3)


# ---------------------------------------------------------------------------------------------
# §4 realisation, statuses, as-of, peaks
# ---------------------------------------------------------------------------------------------


def test_worked_peak_example_of_section_4():
    conn = build(
        [alloc("P", D(2025, 1, 1), D(2025, 3, 31), 3, "04", "2")],
        [line("P", D(2025, 1, 31), 20), line("P", D(2025, 2, 28), 10),
         line("P", D(2025, 3, 31), 10)],
        as_of=D(2025, 12, 31),
    )
    rs = rows(conn, "select * from marts.allocation_months order by month")
    # Jan 1 (Wed, week 1) .. Jan 31 (Fri, week 5): 5 weeks = 15; Feb 1 (Sat, week 5) .. Feb 28
    # (week 9): 15; Mar 1 (Sat, week 9) .. Mar 31 (Mon, week 14): 6 weeks = 18
    assert [r["max_volume"] for r in rs] == [15, 15, 18]
    assert [r["delivered_volume"] for r in rs] == [20, 10, 10]
    assert [r["period_overshoot"] for r in rs] == [True, False, False]
    assert [r["utilisation"] for r in rs] == pytest.approx([20 / 15, 10 / 15, 10 / 18])
    # allowance: ISO weeks 1-14 = 42
    assert {r["year_allowance"] for r in rs} == {42}
    t = total(conn, "P")
    # 40 <= 42: January's peak is compensated; peak excess 20 - 15 = 5
    assert (t["total_max_volume"], t["delivered_volume"], t["total_overshoot"]) == (42, 40, False)
    assert (t["peak_months"], t["compensated_peak_months"], t["peak_excess_volume"]) == (1, 1, 5)
    assert t["utilisation"] == pytest.approx(40 / 42)


def test_overshoots_and_peaks_are_judged_on_requested_volume():
    """A municipality that applies TR321/TR322 rejects exactly the lines above the maximum: judged on
    approved volume its overshoots would vanish. Requested = declared + lines rejected only with
    codes of category 'volume exceeds allocation' (9321, 9322, 9369)."""

    def rejected(number, day, volume, codes, amount=0.0):
        return line(number, day, volume, amount, rejected_on=day + dt.timedelta(days=10),
                    answered_on=day + dt.timedelta(days=10), return_codes=codes)

    conn = build(
        [
            # 3 hours a week, Jan 1 .. Mar 31 2025: maxima 15, 15, 18; allowance 42 (weeks 1-14)
            alloc("R", D(2025, 1, 1), D(2025, 3, 31), 3, "04", "2"),
            alloc("C", D(2025, 1, 1), D(2025, 3, 31), 3, "04", "2"),
            alloc("BUD", D(2025, 1, 1), D(2025, 6, 30), budget_eur=1000.0, product_code=None),
        ],
        [
            # R: January 15 approved + 5 rejected with 9321: requested 20 > 15, a peak
            line("R", D(2025, 1, 31), 15), rejected("R", D(2025, 1, 31), 5, "9321"),
            # February 10 approved; 6 rejected with 9321 and 9340 (also a product error): not requested
            line("R", D(2025, 2, 28), 10), rejected("R", D(2025, 2, 28), 6, "9321,9340"),
            # March 10 approved + 4 rejected with 9322 and 9321 (both volume codes): requested 14 <= 18;
            # 3 rejected with 9307 (period outside the allocation): not requested
            line("R", D(2025, 3, 31), 10), rejected("R", D(2025, 3, 31), 4, "9322, 9321"),
            rejected("R", D(2025, 3, 31), 3, "9307"),
            # C: the same January, March only 2 rejected: requested 20 + 10 + 12 = 42 <= 42
            line("C", D(2025, 1, 31), 15), rejected("C", D(2025, 1, 31), 5, "9321"),
            line("C", D(2025, 2, 28), 10), line("C", D(2025, 3, 31), 10),
            rejected("C", D(2025, 3, 31), 2, "9322"),
            # BUD: 800 approved, 300 rejected with 9369 (does not fit the budget): requested 1100
            line("BUD", D(2025, 1, 10), 1, 800.0), rejected("BUD", D(2025, 2, 10), 1, "9369", 300.0),
        ],
        as_of=D(2025, 12, 31),
    )
    r = rows(conn, "select * from marts.allocation_months where allocation_number = 'R' order by month")
    assert [m["max_volume"] for m in r] == [15, 15, 18]
    assert [m["delivered_volume"] for m in r] == [15, 10, 10]
    assert [m["declared_volume"] for m in r] == [15, 10, 10]
    assert [m["requested_volume"] for m in r] == [20, 10, 14]
    assert [m["period_overshoot"] for m in r] == [True, False, False]
    assert [m["utilisation"] for m in r] == pytest.approx([1, 10 / 15, 10 / 18])  # still approved
    t = total(conn, "R")
    # requested 44 > 42: TR322 overshoot; January's peak is not compensated (44 > 42); excess 5
    assert (t["delivered_volume"], t["requested_volume"], t["total_max_volume"]) == (35, 44, 42)
    assert t["total_overshoot"] is True
    assert (t["peak_months"], t["compensated_peak_months"], t["peak_excess_volume"]) == (1, 0, 5)
    c = total(conn, "C")
    # requested 42 <= 42: no total overshoot, January's peak compensated
    assert (c["requested_volume"], c["total_overshoot"]) == (42, False)
    assert (c["peak_months"], c["compensated_peak_months"]) == (1, 1)
    b = total(conn, "BUD")
    # approved 800 <= 1000, requested 800 + 300 = 1100 > 1000: TR369
    assert (float(b["approved_amount_eur"]), float(b["requested_amount_eur"])) == (800, 1100)
    assert b["total_overshoot"] is True


def test_statuses_credits_and_as_of_cut_offs():
    as_of = D(2025, 3, 31)
    conn = build(
        [alloc("S", D(2025, 1, 1), D(2025, 12, 31), 100, "04", "4")],
        [
            # January: approved 10, credit of 4 approved (net 6), pending 3, rejected 2
            line("S", D(2025, 1, 5), 10, 100.0),
            line("S", D(2025, 1, 5), 4, 40.0, credit=True),
            line("S", D(2025, 1, 6), 3, 30.0, answered_on=None),
            line("S", D(2025, 1, 7), 2, 20.0, rejected_on=D(2025, 2, 10),
                 answered_on=D(2025, 2, 10)),
            # February: declared after as_of: not counted at all
            line("S", D(2025, 2, 5), 7, 70.0, declared_on=D(2025, 4, 2)),
            # February: answered after as_of: pending at as_of (declared, not delivered)
            line("S", D(2025, 2, 6), 5, 50.0, declared_on=D(2025, 3, 5), answered_on=D(2025, 4, 3)),
            # February: rejected after as_of but answered before: approved at as_of
            line("S", D(2025, 2, 7), 8, 80.0, declared_on=D(2025, 3, 5), answered_on=D(2025, 3, 20),
                 rejected_on=D(2025, 4, 20)),
            # February: pending credit of 1 (counts in declared only)
            line("S", D(2025, 2, 8), 1, 10.0, answered_on=None, credit=True),
        ],
        as_of=as_of,
    )
    rs = {r["month"]: r for r in rows(conn, "select * from marts.allocation_months")}
    # months Jan .. Mar (min(end, as_of))
    assert sorted(rs) == [D(2025, 1, 1), D(2025, 2, 1), D(2025, 3, 1)]
    jan, feb, mar = rs[D(2025, 1, 1)], rs[D(2025, 2, 1)], rs[D(2025, 3, 1)]
    # Jan delivered 10 - 4 = 6; declared 6 + 3 = 9; approved amount 100 - 40 = 60; declared 90
    assert (jan["delivered_volume"], jan["declared_volume"]) == (6, 9)
    assert (float(jan["approved_amount_eur"]), float(jan["declared_amount_eur"])) == (60, 90)
    # Feb delivered 8; declared 8 + 5 - 1 = 12; amounts 80 and 80 + 50 - 10 = 120
    assert (feb["delivered_volume"], feb["declared_volume"]) == (8, 12)
    assert (float(feb["approved_amount_eur"]), float(feb["declared_amount_eur"])) == (80, 120)
    assert (mar["delivered_volume"], mar["declared_volume"], mar["declared_lines"]) == (0, 0, 0)
    # the monthly maximum of a per-month allocation is its volume
    assert {r["max_volume"] for r in rs.values()} == {100}
    # with a later as_of the February line declared on Apr 2 counts (approved on Apr 2) and the
    # line answered Apr 3 becomes approved; the Apr 20 rejection removes the 8: Feb delivered
    # 7 + 5 = 12, declared 12 - 1 = 11
    later = build(
        [alloc("S", D(2025, 1, 1), D(2025, 12, 31), 100, "04", "4")],
        [
            line("S", D(2025, 2, 5), 7, 70.0, declared_on=D(2025, 4, 2)),
            line("S", D(2025, 2, 6), 5, 50.0, declared_on=D(2025, 3, 5), answered_on=D(2025, 4, 3)),
            line("S", D(2025, 2, 7), 8, 80.0, declared_on=D(2025, 3, 5), answered_on=D(2025, 3, 20),
                 rejected_on=D(2025, 4, 20)),
            line("S", D(2025, 2, 8), 1, 10.0, answered_on=None, credit=True),
        ],
        as_of=D(2025, 4, 30),
    )
    feb_later = by_month(later, "allocation_months", "S", "delivered_volume")[D(2025, 2, 1)]
    assert feb_later == 12
    assert by_month(later, "allocation_months", "S", "declared_volume")[D(2025, 2, 1)] == 11


def test_unit_conversion_uses_the_volume_in_the_allocation_unit():
    # an hour allocation (04) declared in minutes (01): staging converts 90 minutes to 1.5 hours in
    # volume_alloc_unit; the mart must count 1.5, not 90. 3 hours a week in Feb 2025 (weeks 5-9):
    # max 15; 1.5 + 0.5 (30 minutes) = 2 hours delivered
    conn = build(
        [alloc("U", D(2025, 2, 1), D(2025, 2, 28), 3, "04", "2")],
        [
            line("U", D(2025, 2, 3), 90, unit="01", volume_alloc_unit=1.5, hours=1.5),
            line("U", D(2025, 2, 4), 30, unit="01", volume_alloc_unit=0.5, hours=0.5),
        ],
        as_of=D(2025, 12, 31),
    )
    (row,) = rows(conn, "select * from marts.allocation_months")
    assert (row["max_volume"], row["delivered_volume"], row["declared_hours"]) == (15, 2, 2)
    assert row["utilisation"] == pytest.approx(2 / 15)


def test_legacy_line_crossing_months_is_split_by_days():
    # a four-weekly legacy line Jan 20 .. Feb 16 (28 days): Jan 20-31 = 12 days, Feb 1-16 = 16
    # days; volume 28 -> 12 and 16; amount 280 -> 120 and 160
    conn = build(
        [alloc("L", D(2025, 1, 1), D(2025, 3, 31), 100, "04", "4")],
        [line("L", D(2025, 1, 20), 28, 280.0, period_end=D(2025, 2, 16))],
        as_of=D(2025, 3, 31),
    )
    rs = {r["month"]: r for r in rows(conn, "select * from marts.allocation_months")}
    assert rs[D(2025, 1, 1)]["delivered_volume"] == pytest.approx(12)
    assert rs[D(2025, 2, 1)]["delivered_volume"] == pytest.approx(16)
    assert rs[D(2025, 3, 1)]["delivered_volume"] == 0
    assert float(rs[D(2025, 1, 1)]["approved_amount_eur"]) == 120
    assert float(rs[D(2025, 2, 1)]["approved_amount_eur"]) == 160


def test_allocation_versions_as_of_and_deletions():
    versions = [
        # version 1 (3 a week) decided Dec 2024; version 2 (5 a week) decided Jun 15 2025
        alloc("V", D(2025, 1, 1), D(2025, 12, 31), 3, "04", "2"),
        alloc("V", D(2025, 1, 1), D(2025, 12, 31), 5, "04", "2",
              decided_on=dt.datetime(2025, 6, 15, 10, 0)),
        # deleted in March: gone from March on
        alloc("DEL", D(2025, 1, 1), D(2025, 12, 31), 3, "04", "2"),
        alloc("DEL", D(2025, 1, 1), D(2025, 12, 31), 3, "04", "2", change_reason="13",
              decided_on=dt.datetime(2025, 3, 1, 8, 0)),
        # decided on the as_of day itself (in the afternoon): counts
        alloc("LATE", D(2025, 1, 1), D(2025, 12, 31), 2, "04", "2",
              decided_on=dt.datetime(2025, 5, 31, 15, 30)),
    ]
    before = build(versions, as_of=D(2025, 5, 31))
    numbers = {r["allocation_number"]: r["volume"] for r in rows(
        before, "select distinct allocation_number, volume from marts.allocation_month_maxima")}
    assert numbers == {"V": 3, "LATE": 2}
    # Jan 2025: weeks 1-5 = 5 weeks x 3 = 15 under version 1
    assert by_month(before, "allocation_months", "V", "max_volume")[D(2025, 1, 1)] == 15
    # an older as_of still sees DEL, before its deletion
    older = build(versions, as_of=D(2025, 2, 28))
    older_numbers = rows(older, "select allocation_number from marts.allocation_totals")
    assert {r["allocation_number"] for r in older_numbers} == {"V", "DEL"}
    after = build(versions, as_of=D(2025, 6, 30))
    assert by_month(after, "allocation_months", "V", "max_volume")[D(2025, 1, 1)] == 25  # 5 x 5


# ---------------------------------------------------------------------------------------------
# §5 band utilisation, under-use and suggested products
# ---------------------------------------------------------------------------------------------

BAND_PRODUCTS = [
    {"product_code": "BEGL", "product_category": "02", "law": "wmo", "unit": "82",
     "band_min_hours_per_week": 0.0, "band_max_hours_per_week": 2.0,
     "reference_hours_per_week": 1.0, "rekenfactor": 0.8, "valid_from": D(2024, 1, 1)},
    {"product_code": "BEGM", "product_category": "02", "law": "wmo", "unit": "82",
     "band_min_hours_per_week": 2.0, "band_max_hours_per_week": 4.0,
     "reference_hours_per_week": 3.0, "rekenfactor": 0.8, "valid_from": D(2024, 1, 1)},
    {"product_code": "BEGZ", "product_category": "02", "law": "wmo", "unit": "82",
     "band_min_hours_per_week": 4.0, "band_max_hours_per_week": 6.0,
     "reference_hours_per_week": 5.0, "rekenfactor": 0.8, "valid_from": D(2024, 1, 1)},
]


def hours_row(number: str, start: dt.date, end: dt.date, hours: float, kind: str = "month") -> dict:
    return {"municipality_code": "0363", "law": "wmo", "allocation_number": number,
            "provider_agb": "11111111", "period_kind": kind, "period_start": start,
            "period_end": end, "hours": hours}


def band_alloc(number: str, start: dt.date, end: dt.date, product: str = "BEGM", **kw) -> dict:
    # one unit of output a month
    return alloc(number, start, end, 1, "82", "4", product_code=product, **kw)


def test_worked_band_examples_of_section_5():
    # Jan 1 .. Mar 11 2025 = 31 + 28 + 11 = 70 days = 10 weeks; as_of May 31: March is mature
    # (Mar 31 + 2 months = May 31), so the window is Jan 1 .. Mar 11 (the allocation's own end).
    # Registered hours: Jan 14, Feb 10, Mar 11: 35 hours.
    conn = build(
        [band_alloc("E", D(2025, 1, 1), D(2025, 3, 11))],
        [line("E", D(2025, 1, 31), 1), line("E", D(2025, 2, 28), 1), line("E", D(2025, 3, 11), 1)],
        as_of=D(2025, 5, 31),
        products=BAND_PRODUCTS,
        delivered_hours=[
            hours_row("E", D(2025, 1, 1), D(2025, 1, 31), 14),
            hours_row("E", D(2025, 2, 1), D(2025, 2, 28), 10),
            hours_row("E", D(2025, 3, 1), D(2025, 3, 31), 11),
        ],
    )
    (b,) = rows(conn, "select * from marts.band_utilisation")
    assert (b["window_start"], b["window_end"], b["days_in_window"]) == (
        D(2025, 1, 1), D(2025, 3, 11), 70)
    assert b["weeks_in_care"] == pytest.approx(10)
    assert b["hours"] == pytest.approx(35)
    assert b["hours_source"] == "delivered_hours"
    # r = 35 / 10 = 3.5; q = (3.5 - 2) / (4 - 2) = 0.75: high
    assert b["hours_per_week"] == pytest.approx(3.5)
    assert b["band_position"] == pytest.approx(0.75)
    assert b["band_class"] == "high"
    t = total(conn, "E")
    assert (t["underused"], t["underuse_reason"]) == (False, None)
    assert t["suggested_product_code"] is None


def test_registered_months_count_whole_at_the_allocations_start_and_end():
    # §5's second example: Thursday 9 April .. Wednesday 17 June 2026 = 22 + 31 + 17 = 70 days =
    # 10 weeks, all mature at as_of 31 August (June 30 + 2 months). The provider registered 6, 16
    # and 8 hours for April, May and June: they count whole (the old pro rata cut gave
    # 6 x 22/30 + 16 + 8 x 17/30 = 4.4 + 16 + 4.53 = 24.93 hours, r 2.49, low): 30 hours,
    # r = 3.0, q = (3 - 2) / 2 = 0.5: mid.
    conn = build(
        [band_alloc("APR", D(2026, 4, 9), D(2026, 6, 17))],
        [line("APR", D(2026, 4, 30), 1), line("APR", D(2026, 5, 31), 1), line("APR", D(2026, 6, 17), 1)],
        as_of=D(2026, 8, 31),
        products=BAND_PRODUCTS,
        delivered_hours=[
            hours_row("APR", D(2026, 4, 1), D(2026, 4, 30), 6),
            hours_row("APR", D(2026, 5, 1), D(2026, 5, 31), 16),
            hours_row("APR", D(2026, 6, 1), D(2026, 6, 30), 8),
        ],
    )
    (b,) = rows(conn, "select * from marts.band_utilisation")
    assert (b["window_start"], b["window_end"], b["days_in_window"]) == (
        D(2026, 4, 9), D(2026, 6, 17), 70)
    assert b["weeks_in_care"] == pytest.approx(10)
    assert b["hours"] == pytest.approx(30)
    assert b["hours_per_week"] == pytest.approx(3.0)
    assert b["band_position"] == pytest.approx(0.5)
    assert b["band_class"] == "mid"


def test_only_the_maturity_cut_splits_a_registered_period():
    # Mon 2025-01-06 .. Mon 2025-06-30, as_of 2025-05-31: the last mature month is March, so the
    # window is Jan 6 .. Mar 31 = 26 + 28 + 31 = 85 days = 12.142857 weeks. Registered weeks:
    # Mon Jan 6 .. Sun Jan 12, 7 hours (whole); Mon Mar 24 .. Sun Mar 30, 7 hours (whole);
    # Mon Mar 31 .. Sun Apr 6, 7 hours: only Mar 31 lies before the cut: 7 x 1/7 = 1 hour;
    # Apr 7 .. 13 lies after it: nothing. A registered month Jan 1 .. 31 (beginning before the
    # start) of 20 hours counts whole. Total 7 + 7 + 1 + 20 = 35; r = 35 / (85 / 7) = 2.882353.
    conn = build(
        [band_alloc("CUT", D(2025, 1, 6), D(2025, 6, 30))],
        [line("CUT", D(2025, 1, 31), 1)],
        as_of=D(2025, 5, 31),
        products=BAND_PRODUCTS,
        delivered_hours=[
            hours_row("CUT", D(2025, 1, 6), D(2025, 1, 12), 7, "week"),
            hours_row("CUT", D(2025, 3, 24), D(2025, 3, 30), 7, "week"),
            hours_row("CUT", D(2025, 3, 31), D(2025, 4, 6), 7, "week"),
            hours_row("CUT", D(2025, 4, 7), D(2025, 4, 13), 7, "week"),
            hours_row("CUT", D(2025, 1, 1), D(2025, 1, 31), 20),
        ],
    )
    (b,) = rows(conn, "select * from marts.band_utilisation")
    assert (b["window_start"], b["window_end"], b["days_in_window"]) == (
        D(2025, 1, 6), D(2025, 3, 31), 85)
    assert b["hours"] == pytest.approx(35)
    assert b["hours_per_week"] == pytest.approx(35 / (85 / 7))
    # q = (2.882353 - 2) / 2 = 0.441176: mid
    assert b["band_class"] == "mid"


def test_band_hours_from_declarations_window_and_short_allocations():
    conn = build(
        [
            # no registered hours: declared hours (approved + pending) of the mature months.
            # as_of May 31: March is mature, April is not, so the window is Feb 4 .. Mar 31 =
            # 25 + 31 = 56 days = 8 weeks; hours 4 (Feb, approved) + 6 (Mar, pending) = 10; the
            # rejected March line and the April line do not count.
            # r = 10 / 8 = 1.25 < 2: below; q = (1.25 - 2) / (4 - 2) = -0.375 (not clipped)
            band_alloc("DECL", D(2025, 2, 4), D(2025, 4, 30)),
            # 22 days in the window (Mar 10-31; April is not mature): left out
            band_alloc("SHORT", D(2025, 3, 10), D(2025, 4, 30)),
            # not a band product: left out
            alloc("NOBAND", D(2025, 1, 1), D(2025, 4, 30), 1, "82", "4", product_code="XX"),
        ],
        [
            line("DECL", D(2025, 2, 10), 1, hours=4),
            line("DECL", D(2025, 3, 10), 1, hours=6, answered_on=None),
            line("DECL", D(2025, 3, 12), 1, hours=9, rejected_on=D(2025, 4, 1),
                 answered_on=D(2025, 4, 1)),
            line("DECL", D(2025, 4, 10), 1, hours=20),
            line("SHORT", D(2025, 3, 20), 1, hours=10),
        ],
        as_of=D(2025, 5, 31),
        products=BAND_PRODUCTS,
    )
    (b,) = rows(conn, "select * from marts.band_utilisation")
    assert b["allocation_number"] == "DECL"
    assert (b["window_start"], b["window_end"], b["days_in_window"]) == (
        D(2025, 2, 4), D(2025, 3, 31), 56)
    assert b["weeks_in_care"] == pytest.approx(8)
    assert b["hours"] == pytest.approx(10)
    assert b["hours_source"] == "declarations"
    assert b["hours_per_week"] == pytest.approx(1.25)
    assert b["band_position"] == pytest.approx(-0.375)
    assert b["band_class"] == "below"


def test_output_band_allocation_without_any_hour_measure_is_left_out():
    # Declared in stuks (unit 82, no hours) and no registered hours: nothing says how many hours
    # were delivered, so the allocation is not placed in the band (it would read as 0 h, below).
    conn = build(
        [band_alloc("STUKS", D(2025, 1, 1), D(2025, 4, 30)), band_alloc("HOURS", D(2025, 1, 1), D(2025, 4, 30))],
        [line("STUKS", D(2025, 1, 10), 1), line("HOURS", D(2025, 1, 10), 1, hours=8)],
        as_of=D(2025, 5, 31),
        products=BAND_PRODUCTS,
    )
    assert [r["allocation_number"] for r in rows(conn, "select * from marts.band_utilisation")] == ["HOURS"]


@pytest.mark.parametrize(
    ("hours", "expected_class"),
    # 10 weeks, band 2-4: r = hours / 10; q < 1/3 low, < 2/3 mid, else high; q = 1/3 exactly is mid
    [(15, "below"), (20, "low"), (26, "low"), (80 / 3, "mid"), (30, "mid"), (40, "high"),
     (41, "above")],
)
def test_band_classes(hours, expected_class):
    conn = build(
        [band_alloc("C", D(2025, 1, 1), D(2025, 3, 11))],
        [line("C", D(2025, 1, 31), 1)],
        as_of=D(2025, 5, 31),
        products=BAND_PRODUCTS,
        delivered_hours=[hours_row("C", D(2025, 1, 1), D(2025, 1, 31), hours)],
    )
    (b,) = rows(conn, "select * from marts.band_utilisation")
    assert b["band_class"] == expected_class


def test_underuse_reasons_and_suggested_products():
    allocations = [
        # NODECL: Jan..Mar mature (as_of May 31) and nothing declared (one rejected line only)
        alloc("NODECL", D(2025, 1, 1), D(2025, 3, 31), 3, "04", "2"),
        # LOW: maxima 15, 15, 18 = 48 over 3 mature months; delivered 10 + 5 + 5 = 20;
        # 20 / 48 = 0.417 < 0.5
        alloc("LOW", D(2025, 1, 1), D(2025, 3, 31), 3, "04", "2"),
        # OK: delivered 15 + 15 + 18 = 48 = 48: utilisation 1
        alloc("OK", D(2025, 1, 1), D(2025, 3, 31), 3, "04", "2"),
        # BELOW: band 2-4, 10 weeks (Jan 1 .. Mar 11), 12 registered hours: r = 1.2 < 2;
        # the band 0-2 of BEGL holds 1.2
        band_alloc("BELOW", D(2025, 1, 1), D(2025, 3, 11)),
        # ABOVE: 50 hours: r = 5.0 > 4: not under-used; BEGZ (4-6) holds 5.0
        band_alloc("ABOVE", D(2025, 1, 1), D(2025, 3, 11)),
        # FAR: 80 hours: r = 8.0: no band holds it: no suggestion
        band_alloc("FAR", D(2025, 1, 1), D(2025, 3, 11)),
    ]
    lines = [
        line("NODECL", D(2025, 1, 31), 15, rejected_on=D(2025, 2, 5), answered_on=D(2025, 2, 5)),
        line("LOW", D(2025, 1, 31), 10), line("LOW", D(2025, 2, 28), 5),
        line("LOW", D(2025, 3, 31), 5),
        line("OK", D(2025, 1, 31), 15), line("OK", D(2025, 2, 28), 15),
        line("OK", D(2025, 3, 31), 18),
    ] + [line(n, D(2025, m, 1), 1) for n in ("BELOW", "ABOVE", "FAR") for m in (1, 2, 3)]
    delivered = [hours_row("BELOW", D(2025, 1, 1), D(2025, 1, 31), 12),
                 hours_row("ABOVE", D(2025, 1, 1), D(2025, 1, 31), 50),
                 hours_row("FAR", D(2025, 1, 1), D(2025, 1, 31), 80)]
    conn = build(allocations, lines, as_of=D(2025, 5, 31), products=BAND_PRODUCTS,
                 delivered_hours=delivered)
    got = {
        r["allocation_number"]: (r["underused"], r["underuse_reason"], r["suggested_product_code"])
        for r in rows(conn, "select * from marts.allocation_totals")
    }
    assert got == {
        "NODECL": (True, "no_declarations", None),
        "LOW": (True, "low_utilisation", None),
        "OK": (False, None, None),
        "BELOW": (True, "below_band", "BEGL"),
        "ABOVE": (False, None, "BEGZ"),
        "FAR": (False, None, None),
    }
    assert total(conn, "LOW")["mature_utilisation"] == pytest.approx(20 / 48)
    # with as_of Apr 30 only Jan and Feb are mature (Feb 28 + 2 months = Apr 28; Mar 31 + 2 months
    # = May 31 > Apr 30): 2 < min_mature_months 3, so LOW is not judged; NODECL still has mature
    # months without declarations
    early = build(allocations, lines, as_of=D(2025, 4, 30), products=BAND_PRODUCTS)
    early_got = {r["allocation_number"]: r["underuse_reason"]
                 for r in rows(early, "select * from marts.allocation_totals")}
    assert early_got["LOW"] is None
    assert early_got["NODECL"] == "no_declarations"
    # min_mature_months is a setting: with 2, LOW is judged on Jan + Feb: (10 + 5) / 30 = 0.5, not
    # below 0.5; with threshold 0.6 it is
    assert rows(build(allocations, lines, as_of=D(2025, 4, 30), min_mature_months=2),
                "select underuse_reason from marts.allocation_totals "
                "where allocation_number = 'LOW'") == [{"underuse_reason": None}]
    assert rows(build(allocations, lines, as_of=D(2025, 4, 30), min_mature_months=2,
                      underuse_threshold=0.6),
                "select underuse_reason from marts.allocation_totals "
                "where allocation_number = 'LOW'") == [{"underuse_reason": "low_utilisation"}]


# ---------------------------------------------------------------------------------------------
# §6 rekenfactor
# ---------------------------------------------------------------------------------------------


def test_rekenfactor_per_product_provider_and_municipality():
    products = BAND_PRODUCTS + [
        {"product_code": "UUR", "product_category": "02", "law": "wmo", "unit": "04",
         "rekenfactor": 1.0, "valid_from": D(2024, 1, 1)},
    ]
    allocations = [
        # band product BEGM (reference 3 h/week), 10 weeks each: indicated 3 x 10 = 30 each
        band_alloc("R1", D(2025, 1, 1), D(2025, 3, 11)),
        band_alloc("R2", D(2025, 1, 1), D(2025, 3, 11), municipality_code="0518"),
        # hours per week, Mon Jan 6 .. Sun Mar 30 2025, provider 22222222, minutes allocation:
        # 120 minutes a week. Jan 6-31 weeks 2-5 (4 x 120 = 480 min = 8 h), Feb weeks 5-9
        # (5 x 120 = 600 min = 10 h), Mar 1-30 weeks 9-13 (10 h): indicated 28 h
        alloc("H1", D(2025, 1, 6), D(2025, 3, 30), 120, "01", "2", product_code="UUR",
              provider_agb="22222222"),
    ]
    lines = [
        line("R1", D(2025, 1, 31), 1, 1000.0),
        # (0518's observation window starts with this line's month, January: R2 is observed whole)
        line("R2", D(2025, 1, 31), 1, 500.0, municipality_code="0518"),
        # H1: realised 6 + 7 + 8 = 21 hours (declared hours), approved amount 21 x 50 = 1050
        line("H1", D(2025, 1, 31), 360, 300.0, hours=6, provider_agb="22222222"),
        line("H1", D(2025, 2, 28), 420, 350.0, hours=7, provider_agb="22222222"),
        line("H1", D(2025, 3, 30), 480, 400.0, hours=8, provider_agb="22222222"),
    ]
    delivered = [
        hours_row("R1", D(2025, 1, 1), D(2025, 1, 31), 24),  # realised 24
        {**hours_row("R2", D(2025, 1, 1), D(2025, 1, 31), 27), "municipality_code": "0518"},
    ]
    conn = build(allocations, lines, as_of=D(2025, 5, 31), products=products,
                 delivered_hours=delivered)
    got = {
        (r["grain"], r["product_code"], r["provider_agb"], r["municipality_code"]): r
        for r in rows(conn, "select * from marts.rekenfactor")
    }
    assert len(got) == 7
    begm = got[("product", "BEGM", None, None)]
    # indicated 30 + 30 = 60; realised 24 + 27 = 51; implied 0.85; unused 0.15;
    # contract 0.8; effect (1000 + 500) x (0.85 / 0.8 - 1) = 1500 x 0.0625 = 93.75
    assert (begm["allocations"], begm["indicated_hours"], begm["realised_hours"]) == (2, 60, 51)
    assert begm["implied_rekenfactor"] == pytest.approx(0.85)
    assert begm["unused_share"] == pytest.approx(0.15)
    assert begm["contract_rekenfactor"] == 0.8
    assert float(begm["budget_effect_eur"]) == 93.75
    assert got[("product_provider", "BEGM", "11111111", None)]["realised_hours"] == 51
    # per municipality: 0363 24 / 30 = 0.8 -> 1000 x (0.8 / 0.8 - 1) = 0;
    # 0518 27 / 30 = 0.9 -> 500 x (0.9 / 0.8 - 1) = 62.50
    m0363 = got[("product_municipality", "BEGM", None, "0363")]
    m0518 = got[("product_municipality", "BEGM", None, "0518")]
    assert m0363["implied_rekenfactor"] == pytest.approx(0.8)
    assert float(m0363["budget_effect_eur"]) == 0
    assert m0518["implied_rekenfactor"] == pytest.approx(0.9)
    assert float(m0518["budget_effect_eur"]) == 62.5
    uur = got[("product", "UUR", None, None)]
    # 21 / 28 = 0.75; effect 1050 x (0.75 / 1.0 - 1) = -262.50
    assert (uur["allocations"], uur["indicated_hours"], uur["realised_hours"]) == (1, 28, 21)
    assert uur["implied_rekenfactor"] == pytest.approx(0.75)
    assert float(uur["budget_effect_eur"]) == -262.5
    assert ("product_provider", "UUR", "22222222", None) in got
    assert ("product_municipality", "UUR", None, "0363") in got


# ---------------------------------------------------------------------------------------------
# keys and cost
# ---------------------------------------------------------------------------------------------


def test_the_one_row_per_key_check_finds_every_duplicated_key_and_only_those():
    from pipeline.checks import duplicate_keys_sql

    conn = duckdb.connect()
    conn.execute("""create table t as select * from (values
        ('0363', 'wmo', 'A', 1), ('0363', 'wmo', 'A', 2), ('0363', 'jeugd', 'A', 3),
        ('0363', 'wmo', 'B', 4), (null, 'wmo', 'C', 5), (null, 'wmo', 'C', 6), (null, 'wmo', 'D', 7),
        ('0518', 'wmo', 'A', 8), ('0518', 'wmo', 'A', 9), ('0518', 'wmo', 'A', 10)) v(m, law, number, row)""")
    query = duplicate_keys_sql("t", "m, law, number") + " order by all"
    assert conn.execute(query).fetchall() == [("0363", "wmo", "A", 2), ("0518", "wmo", "A", 3), (None, "wmo", "C", 2)]
    conn.execute("delete from t where row in (2, 6, 9, 10)")
    assert conn.execute(query).fetchall() == []


def test_exactly_one_row_per_key():
    conn = build(
        [
            alloc("K1", D(2024, 11, 15), D(2025, 8, 20), 3, "04", "2"),
            alloc("K1", D(2024, 11, 15), D(2025, 9, 20), 3, "04", "2",
                  decided_on=dt.datetime(2025, 1, 5, 12, 0)),
            alloc("K1", D(2024, 11, 15), D(2025, 9, 20), 3, "04", "2", law="jeugd",
                  product_category="45"),
            band_alloc("K2", D(2025, 1, 1), None),
        ],
        [line("K1", D(2025, 1, 20), 5, period_end=D(2025, 3, 2)), line("K1", D(2025, 1, 3), 2),
         line("K1", D(2025, 1, 3), 2, credit=True), line("K2", D(2025, 2, 3), 1, hours=3),
         line("K1", D(2025, 2, 3), 1, law="jeugd")],
        as_of=D(2025, 6, 30),
        products=BAND_PRODUCTS,
    )
    checks = {
        "allocation_month_maxima": (*KEY, "month"),
        "allocation_months": (*KEY, "month"),
        "allocation_totals": KEY,
        "band_utilisation": KEY,
        "rekenfactor": ("grain", "product_code", "provider_agb", "municipality_code"),
    }
    for table, key in checks.items():
        cols = ", ".join(key)
        (n, distinct) = rows(
            conn, f"select count(*) as n, count(distinct ({cols})) as d from marts.{table}"
        )[0].values()
        assert n == distinct and n > 0, table
    # K1 wmo runs Nov 2024 .. Sep 2025 (11 months) in the maxima; the first wmo line of 0363 lies
    # in January 2025, so its observed months to as_of are Jan .. Jun (6); K2 (open-ended) Jan ..
    # Dec 2025 (12) and Jan .. Jun (6); K1 jeugd 11, and Feb .. Jun (5): the first jeugd line lies
    # in February
    counts = rows(conn, "select (select count(*) from marts.allocation_month_maxima) as maxima, "
                        "(select count(*) from marts.allocation_months) as months, "
                        "(select count(*) from marts.allocation_totals) as totals")[0]
    assert counts == {"maxima": 11 + 12 + 11, "months": 6 + 6 + 5, "totals": 3}


def test_no_query_expands_allocations_or_lines_into_days():
    for name in MARTS:
        text = (SQL_DIR / "marts" / f"{name}.sql").read_text(encoding="utf-8").lower()
        for call in re.findall(r"(?:generate_series|range)\s*\((.*?)\)\s*\)", text, flags=re.S):
            assert "interval 1 month" in call, (name, call)
        assert "calendar_days" not in text, name
        assert not re.search(r"interval\s*'?1'?\s*day", text), name


# ---------------------------------------------------------------------------------------------
# §12 rejections: every rejected line counted once over the primary rows
# ---------------------------------------------------------------------------------------------


def test_a_line_rejected_with_several_codes_has_one_primary_code():
    rejected = dict(answered_on=D(2025, 2, 10), rejected_on=D(2025, 2, 10))
    lines = [
        # 9321 and 9322, both 'volume exceeds allocation': the lowest code, 9321, is primary
        line("A", D(2025, 1, 31), 1, 100.0, return_codes="9321, 9322", **rejected),
        line("A", D(2025, 1, 30), 1, 40.0, return_codes="9322", **rejected),
        # 9338 (no valid allocation) goes before 9321 (volume): 9338 is primary
        line("A", D(2025, 1, 29), 1, 25.0, return_codes="9321,9338", **rejected),
        line("A", D(2025, 1, 28), 1, 99.0),  # approved: not a rejection
    ]
    conn = duckdb.connect()
    create_staging(conn, declaration_lines=frame("declaration_lines", lines))
    build_table(conn, "marts", "rejections", MetricSettings().sql_params(D(2025, 3, 31)))
    got = {(r["return_code"], r["primary"]): (r["category"], r["lines"], float(r["amount_eur"]))
           for r in rows(conn, "select * from marts.rejections")}
    assert got == {
        ("9321", True): ("volume exceeds allocation", 1, 100),
        ("9321", False): ("volume exceeds allocation", 1, 25),
        ("9322", True): ("volume exceeds allocation", 1, 40),
        ("9322", False): ("volume exceeds allocation", 1, 100),
        ("9338", True): ("no valid allocation", 1, 25),
    }
    # over the primary rows: 3 lines, 100 + 40 + 25 = 165 euros; over all rows the first and
    # the third line count twice (5 lines, 290 euros)
    assert rows(conn, 'select sum(lines) as n, sum(amount_eur) as eur from marts.rejections where "primary"') == [
        {"n": 3, "eur": 165}]
    assert rows(conn, "select sum(lines) as n, sum(amount_eur) as eur from marts.rejections") == [
        {"n": 5, "eur": 290}]


# ---------------------------------------------------------------------------------------------
# §1 observation window
# ---------------------------------------------------------------------------------------------

TARIFF_02A01 = [{"product_code": "02A01", "product_category": "02", "law": "wmo", "unit": "04",
                 "tariff_eur": 50.0, "valid_from": D(2024, 1, 1)}]


def test_an_allocation_older_than_the_window_counts_from_the_window():
    # 0363 wmo's first declaration lines lie in March 2026: its window starts 2026-03-01. OLD, 3
    # hours a week since 2024-01-01 (to 2026-12-31), was never observed before March 2026.
    # as_of 2026-08-31: the mature months are those up to June.
    # Maxima (ISO weeks x 3): Mar 2026 6 weeks 18, Apr 15, May 15, Jun 15, Jul 15, Aug 6 weeks 18.
    # OLDND (jeugd, also since 2024) has its payer's first line in July 2026: none of its observed
    # months is mature yet.
    allocations = [
        alloc("OLD", D(2024, 1, 1), D(2026, 12, 31), 3, "04", "2"),
        alloc("OLDND", D(2024, 1, 1), D(2026, 12, 31), 3, "04", "2", law="jeugd"),
    ]
    lines = [
        line("OLD", D(2026, 3, 31), 18), line("OLD", D(2026, 4, 30), 20),
        line("OLD", D(2026, 5, 31), 15), line("OLD", D(2026, 6, 30), 15),
        line("OLD", D(2026, 7, 31), 10),
        line("OLDND", D(2026, 7, 31), 10, law="jeugd"),
    ]
    conn = build(allocations, lines, as_of=D(2026, 8, 31), products=TARIFF_02A01)
    (w,) = rows(conn, "select * from staging.observation_windows where law = 'wmo'")
    assert (w["payer_kind"], w["payer_code"], w["first_month"], w["window_source"]) == (
        "municipality", "0363", D(2026, 3, 1), "declarations")
    months = rows(conn, "select * from marts.allocation_months where allocation_number = 'OLD' order by month")
    # observed months Mar .. Aug 2026 only (not the 26 months since January 2024)
    assert [m["month"] for m in months] == [D(2026, m, 1) for m in range(3, 9)]
    assert [m["max_volume"] for m in months] == [18, 15, 15, 15, 15, 18]
    assert {m["observed_start"] for m in months} == {D(2026, 3, 1)}
    # the allowance of 2026's observed part: Sun Mar 1 (week 9) .. Thu Dec 31 (week 53): 45 x 3
    assert {m["year_allowance"] for m in months} == {135}
    t = total(conn, "OLD")
    # the whole allocation: 157 ISO weeks x 3 = 471; its observed part 135
    assert (t["total_max_volume"], t["observed_total_max_volume"]) == (471, 135)
    assert (t["months"], t["mature_months"], t["mature_max_volume"]) == (6, 4, 63)
    # delivered 18 + 20 + 15 + 15 + 10 = 78; utilisation 78 / 135; mature 68 / 63: not under-used
    # (counted from 2024 it was 68 over 30 mature months: low_utilisation)
    assert t["delivered_volume"] == 78
    assert t["utilisation"] == pytest.approx(78 / 135)
    assert t["mature_utilisation"] == pytest.approx(68 / 63)
    assert (t["underused"], t["underuse_reason"]) == (False, None)
    # April 20 > 15 is the one peak; 78 <= 135 in 2026: compensated
    assert (t["peak_months"], t["compensated_peak_months"], t["peak_excess_volume"]) == (1, 1, 5)
    nd = total(conn, "OLDND")
    # observed Jul .. Aug 2026, none mature: not judged (from 2024 it was no_declarations)
    assert (nd["months"], nd["mature_months"], nd["underuse_reason"]) == (2, 0, None)
    # commitments: the product's expected utilisation over the observed mature months of the last
    # twelve (Mar .. Jun 2026): 68 / 63, not 68 / (6 x 15 + 63) = 68 / 153 with the unobserved
    # Sep 2025 .. Feb 2026 counted as unused. Remaining months Sep 15 + Oct 15 + Nov 18 + Dec 15 =
    # 63 hours x 50 euro x 68 / 63 = 3400
    (c,) = rows(conn, "select * from marts.allocation_commitments where allocation_number = 'OLD'")
    assert c["committed_eur"] == pytest.approx(3400)


def test_data_start_setting_sets_the_window():
    allocations = [alloc("OLD", D(2024, 1, 1), D(2026, 12, 31), 3, "04", "2"),
                   alloc("J", D(2024, 1, 1), D(2026, 12, 31), 3, "04", "2", law="jeugd")]
    lines = [line("OLD", D(2026, 3, 31), 18), line("J", D(2026, 3, 31), 18, law="jeugd")]
    windows = lambda conn: {  # noqa: E731
        r["law"]: (r["first_month"], r["window_source"])
        for r in rows(conn, "select * from staging.observation_windows")}
    # the most specific key wins: 0363/wmo over 0363 over *; a mid-month date starts its month
    conn = build(allocations, lines, as_of=D(2026, 8, 31),
                 data_start={"*": "2025-01-01", "0363": "2026-05-01", "0363/wmo": "2026-02-15"})
    assert windows(conn) == {"wmo": (D(2026, 2, 1), "data_start"), "jeugd": (D(2026, 5, 1), "data_start")}
    assert min(by_month(conn, "allocation_months", "OLD", "month")) == D(2026, 2, 1)
    assert min(by_month(conn, "allocation_months", "J", "month")) == D(2026, 5, 1)
    conn = build(allocations, lines, as_of=D(2026, 8, 31), data_start={"*": "2025-01-01"})
    assert windows(conn) == {"wmo": (D(2025, 1, 1), "data_start"), "jeugd": (D(2025, 1, 1), "data_start")}
    with pytest.raises(ValueError, match="no payer"):
        MetricSettings(data_start={"0363/wlz": "2025-01-01"})
    with pytest.raises(ValueError, match="no ISO date"):
        MetricSettings(data_start={"0363": "1-1-2025"})


def _region_lines(history_from: dt.date) -> list[dict]:
    """The same region's lines, loaded from `history_from` on: every allocation declares every month
    of its own from its start to September 2026."""
    plan = {  # allocation -> (start, volume per month, months with another volume)
        "IN1": (D(2026, 2, 1), 8, {D(2026, 3, 1): 14}),   # inside both windows; March over 2 x 6
        "BAND": (D(2026, 3, 10), 1, {}),                  # a band product inside both windows
        "OLD": (D(2024, 6, 1), 12, {D(2025, 7, 1): 20}),  # older than both windows
    }
    out = []
    for number, (start, volume, special) in plan.items():
        month = max(start.replace(day=1), history_from)
        while month <= D(2026, 9, 1):
            out.append(line(number, month, special.get(month, volume), 10.0 * volume,
                            hours=3.0 if number == "BAND" else None,
                            declared_on=month + dt.timedelta(days=40)))
            month = (month + dt.timedelta(days=32)).replace(day=1)
    return out


def test_more_history_changes_only_the_allocations_older_than_the_window():
    allocations = [
        alloc("IN1", D(2026, 2, 1), D(2026, 12, 31), 2, "04", "2", product_code="IN"),
        band_alloc("BAND", D(2026, 3, 10), D(2026, 9, 30)),
        alloc("OLD", D(2024, 6, 1), None, 3, "04", "2"),
    ]
    products = BAND_PRODUCTS + TARIFF_02A01 + [
        {"product_code": "IN", "product_category": "02", "law": "wmo", "unit": "04",
         "tariff_eur": 40.0, "valid_from": D(2024, 1, 1)}]
    delivered = [hours_row("BAND", D(2026, m, 1), D(2026, m + 1, 1) - dt.timedelta(days=1), 13)
                 for m in range(3, 9)]
    loads = {
        history: build(allocations, _region_lines(history), as_of=D(2026, 10, 31), products=products,
                       delivered_hours=delivered)
        for history in (D(2026, 1, 1), D(2025, 1, 1))
    }
    short, long = loads[D(2026, 1, 1)], loads[D(2025, 1, 1)]
    for conn, first in ((short, D(2026, 1, 1)), (long, D(2025, 1, 1))):
        assert rows(conn, "select first_month from staging.observation_windows") == [{"first_month": first}]
    tables = {"allocation_months": "allocation_number, month", "allocation_totals": "allocation_number",
              "band_utilisation": "allocation_number", "allocation_commitments": "allocation_number"}
    # allocations that start inside the later window: every figure equal
    for table, order in tables.items():
        query = f"select * from marts.{table} where allocation_number in ('IN1', 'BAND') order by {order}"
        assert rows(short, query) == rows(long, query), table
        assert rows(short, query), table
    # IN1: March 14 > 2 x 6 ISO weeks = 12 is its one peak in both loads
    assert total(short, "IN1")["peak_months"] == 1
    # BAND: Mar 10 .. Aug 31 (as_of Oct 31: August is mature) = 175 days = 25 weeks; registered 13 x 6
    # = 78 hours (March counts whole): r = 3.12
    assert rows(short, "select hours, weeks_in_care from marts.band_utilisation") == [
        {"hours": pytest.approx(78), "weeks_in_care": pytest.approx(25)}]
    # OLD, open-ended, counts from each window's first month; mature months up to August 2026
    old_short, old_long = total(short, "OLD"), total(long, "OLD")
    assert (old_short["observed_start"], old_short["months"], old_short["mature_months"]) == (
        D(2026, 1, 1), 10, 8)
    assert (old_long["observed_start"], old_long["months"], old_long["mature_months"]) == (
        D(2025, 1, 1), 22, 20)
    # delivered: 12 a month up to September 2026, July 2025 20: 9 x 12 = 108 and 20 x 12 + 20 = 260
    assert (old_short["delivered_volume"], old_long["delivered_volume"]) == (108, 260)
    # July 2025 (20 > 5 weeks x 3 = 15) is a peak only where it was observed
    assert (old_short["peak_months"], old_long["peak_months"]) == (0, 1)
    # neither load judges OLD under-used: 12 a month against 15-18 is above half
    assert (old_short["underuse_reason"], old_long["underuse_reason"]) == (None, None)


def test_a_budget_older_than_the_window_commits_its_observed_share():
    # 2025-01-01 .. 2026-12-31 = 730 days, a budget of 1200; the window starts 2026-01-01 (the
    # payer's first line): the observed 365 days carry 1200 x 365 / 730 = 600 of it, of which 200 was
    # declared. At as_of 2026-06-30 the remaining 400 is spread over Jul 1 .. Dec 31, all in the
    # year: 400 is committed (1200 - 200 = 1000 would count the unobserved 2025 as unspent).
    conn = build([alloc("BUDOLD", D(2025, 1, 1), D(2026, 12, 31), budget_eur=1200.0, product_code=None)],
                 [line("BUDOLD", D(2026, 1, 10), 1, 200.0)], as_of=D(2026, 6, 30))
    (c,) = rows(conn, "select * from marts.allocation_commitments")
    assert c["committed_eur"] == pytest.approx(400)
    t = total(conn, "BUDOLD")
    # what was spent before the window is unknown: no utilisation; 200 < 1200, no overshoot
    assert (t["utilisation"], t["total_overshoot"]) == (None, False)


# ---------------------------------------------------------------------------------------------
# §10, §15 commitments end at a stop
# ---------------------------------------------------------------------------------------------


def event(number: str, kind: str, start: dt.date, end: dt.date | None = None, reason: str | None = None,
          sent_on: dt.date | None = None) -> dict:
    return {"municipality_code": "0363", "law": "wmo", "allocation_number": number,
            "provider_agb": "11111111", "client_id": "c" * 64, "event": kind, "start_date": start,
            "end_date": end, "end_reason": reason, "is_temporary_stop": reason == "20", "sent_on": sent_on}


def test_commitments_end_at_a_final_stop():
    # 4 hours a week from 2026-02-01 to 2026-12-31, 50 euro an hour; no mature month yet at as_of
    # 2026-03-31, so the expected utilisation is 1. Remaining maxima (ISO weeks x 4): Apr 5, May 5,
    # Jun 5, Jul 5, Aug 6, Sep 5, Oct 5, Nov 6, Dec 5 = 47 weeks = 188 hours = 9400 euro.
    allocations = [alloc(n, D(2026, 2, 1), D(2026, 12, 31), 4, "04", "2") for n in ("77", "78", "79", "80", "81")]
    events = [
        # §15: allocation 77 stops on 10 March (reason 19), the message sent on 20 March
        event("77", "start", D(2026, 2, 1), sent_on=D(2026, 2, 3)),
        event("77", "stop", D(2026, 2, 1), D(2026, 3, 10), "19", sent_on=D(2026, 3, 20)),
        # 78 stops temporarily (reason 20) and is resumed on 1 April: still committed
        event("78", "stop", D(2026, 2, 1), D(2026, 3, 10), "20", sent_on=D(2026, 3, 11)),
        event("78", "start", D(2026, 4, 1), sent_on=D(2026, 3, 30)),
        # 79 stops for good, but a later start (known by as_of) resumes it: still committed
        event("79", "stop", D(2026, 2, 1), D(2026, 3, 10), "19", sent_on=D(2026, 3, 11)),
        event("79", "start", D(2026, 3, 20), sent_on=D(2026, 3, 21)),
        # 80 stops for good on Sunday 10 May, announced on 25 March: committed April (5 weeks, 20
        # hours) and May 1 (Fri, week 18) .. May 10 (Sun, week 19): 2 weeks, 8 hours: 28 x 50 = 1400
        event("80", "stop", D(2026, 2, 1), D(2026, 5, 10), "19", sent_on=D(2026, 3, 25)),
        # 81's stop message comes after as_of (sent 2 April): not known yet, still committed
        event("81", "stop", D(2026, 2, 1), D(2026, 3, 10), "19", sent_on=D(2026, 4, 2)),
    ]
    conn = build(allocations, as_of=D(2026, 3, 31), products=TARIFF_02A01, care_events=events)
    committed = {r["allocation_number"]: r["committed_eur"]
                 for r in rows(conn, "select * from marts.allocation_commitments")}
    # 77: nothing committed from 11 March (at as_of 31 March it no longer runs at all)
    assert committed == {"78": pytest.approx(9400), "79": pytest.approx(9400), "80": pytest.approx(1400),
                         "81": pytest.approx(9400)}
    assert float(total(conn, "77")["committed_eur"]) == 0
    # at as_of 28 February the stop of 77 (sent 20 March) is not known yet: March (Mar 1 Sun,
    # week 9 .. Mar 31 Tue, week 14: 6 weeks, 24 hours) and the rest, 212 hours = 10600 euro
    early = build(allocations, as_of=D(2026, 2, 28), products=TARIFF_02A01, care_events=events)
    early_committed = rows(early, "select committed_eur from marts.allocation_commitments where allocation_number = '77'")
    assert early_committed == [{"committed_eur": pytest.approx(10600)}]

    # the stops for good with the days they hold: 77 from its message on; 79 until the start that
    # resumes it is known (21 March); 80 from its announcement; 81 from 2 April; 78 is temporary
    spans = {r["allocation_number"]: (r["known_from"], r["resumed_from"])
             for r in rows(conn, "select * from staging.stops_for_good")}
    assert spans == {"77": (D(2026, 3, 20), D(9999, 12, 31)), "79": (D(2026, 3, 11), D(2026, 3, 21)),
                     "80": (D(2026, 3, 25), D(9999, 12, 31)), "81": (D(2026, 4, 2), D(9999, 12, 31))}
    # one build with both reporting dates gives each date's rows as the two builds above (§14)
    params = {**MetricSettings().sql_params(D(2026, 3, 31)), "as_of_dates": [D(2026, 2, 28), D(2026, 3, 31)]}
    build_table(conn, "marts", "allocation_commitments", params)
    both = {(r["as_of"], r["allocation_number"]): r["committed_eur"]
            for r in rows(conn, "select * from marts.allocation_commitments")}
    assert {n: v for (t, n), v in both.items() if t == D(2026, 3, 31)} == committed
    assert both[(D(2026, 2, 28), "77")] == pytest.approx(10600)
    assert both[(D(2026, 2, 28), "79")] == pytest.approx(10600)  # its stop was not known yet either


def test_a_credit_answered_before_its_debit_leaves_the_month_below_zero_and_only_warns():
    # found at scale 106: a debit of 4 hours for August, declared 19 September and not answered by
    # as_of; its credit (-4) and a new debit of 3, declared 12 October and approved 23 October.
    # Approved at as_of 31 October: -4 + 3 = -1 of a maximum of 6 x 4 = 24 (Sat 1 Aug .. Mon 31 Aug
    # touch 6 ISO weeks)
    from pipeline.checks import CHECKS

    aug = D(2026, 8, 1)
    lines = [
        line("N", aug, 4, period_end=D(2026, 8, 31), declared_on=D(2026, 9, 19), answered_on=None),
        line("N", aug, 4, period_end=D(2026, 8, 31), declared_on=D(2026, 10, 12), answered_on=D(2026, 10, 23),
             credit=True),
        line("N", aug, 3, period_end=D(2026, 8, 31), declared_on=D(2026, 10, 12), answered_on=D(2026, 10, 23)),
    ]
    conn = build([alloc("N", D(2026, 1, 1), D(2026, 12, 31), 4, "04", "2")], lines, as_of=D(2026, 10, 31))
    (month,) = rows(conn, "select * from marts.allocation_months where month = '2026-08-01'")
    assert month["delivered_volume"] == -1 and month["declared_volume"] == 3
    assert month["utilisation"] == pytest.approx(-1 / 24)
    (check,) = [c for c in CHECKS if c.name == "utilisation_not_negative"]
    result = check.evaluate(conn)
    assert not result["passed"] and result["severity"].value == "WARN" and not check.blocking
