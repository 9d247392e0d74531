"""metrics.md §7–§13 through the SQL files of sql/marts/:

payer_lines -> chain_ladder -> ceiling_position, budget_exhaustion
payer_lines -> hours_per_client_month -> hours_agreement
declaration_timeliness, rejections, quarantine_summary, quarantine_reasons

Every test builds tiny staging tables with `create_staging` (and, for §10, the two allocation marts
of the other helper by hand: they are inputs here), runs `build_table` in dependency order and
asserts rows whose expected values were computed by hand (the arithmetic is in the comments).
Calendar facts used below: 2025-03-31 and 2025-06-30 are a Monday, 2025-04-14 a Monday,
2025-04-21 Easter Monday, 2025-05-30 a Friday, 2025-10-01 a Wednesday, 2025-12-01 a Monday.
"""

from __future__ import annotations

import datetime as dt
import itertools

import duckdb
import polars as pl
import pytest

from pipeline.settings import MetricSettings
from pipeline.paths import SQL_DIR
from pipeline.sql import TABLE_REF, build_table, sql_text
from staging_schema import RAW_COLUMNS, STAGING_COLUMNS, create_staging

D = dt.date
T = dt.datetime

# the two inputs from metrics.md §3/§4 that another helper builds; here made by hand
ALLOCATION_MONTH_MAXIMA = {
    "municipality_code": "varchar", "law": "varchar", "allocation_number": "varchar",
    "client_id": "varchar", "provider_agb": "varchar", "product_category": "varchar",
    "product_code": "varchar", "variant": "varchar", "unit": "varchar", "frequency": "varchar",
    "volume": "double", "budget_eur": "decimal(18,2)", "start_date": "date", "end_date": "date",
    "month": "date", "year": "integer", "period_start": "date", "period_end": "date",
    "days_in_period": "integer", "iso_weeks_in_period": "integer", "sundays_in_period": "integer",
    "max_volume": "double", "total_max_volume": "double", "year_allowance": "double",
    "is_mature": "boolean", "is_after_as_of": "boolean",
}
ALLOCATION_MONTHS = {
    "municipality_code": "varchar", "law": "varchar", "allocation_number": "varchar",
    "provider_agb": "varchar", "product_category": "varchar", "product_code": "varchar",
    "month": "date", "max_volume": "double", "delivered_volume": "double",
    "declared_volume": "double", "approved_amount_eur": "decimal(18,2)", "utilisation": "double",
    "period_overshoot": "boolean", "year": "integer", "is_mature": "boolean",
    "declared_amount_eur": "decimal(18,2)", "start_date": "date", "end_date": "date",
    "observed_start": "date", "requested_volume": "double",
}

_POLARS_TYPES = {
    "varchar": pl.String, "date": pl.Date, "timestamp": pl.Datetime, "double": pl.Float64,
    "decimal(18,2)": pl.Float64, "boolean": pl.Boolean, "integer": pl.Int32, "bigint": pl.Int64,
}


def frame(columns: dict[str, str], rows: list[dict]) -> pl.DataFrame:
    """A polars frame typed from the DDL (so all-null columns keep a type)."""
    names = sorted({name for row in rows for name in row})
    schema = {name: _POLARS_TYPES[columns[name]] for name in names}
    return pl.DataFrame([{n: row.get(n) for n in names} for row in rows], schema=schema, orient="row")


def staging(conn: duckdb.DuckDBPyConnection, **tables: list[dict]) -> None:
    frames = {}
    for name, rows in tables.items():
        columns = STAGING_COLUMNS.get(name) or RAW_COLUMNS[name]
        frames[name] = frame(columns, rows)
    create_staging(conn, **frames)


def hand_table(conn, name: str, columns: dict[str, str], rows: list[dict]) -> None:
    conn.execute("create schema if not exists marts")
    ddl = ", ".join(f"{c} {t}" for c, t in columns.items())
    conn.execute(f"create or replace table marts.{name} ({ddl})")
    if rows:
        data = frame(columns, rows)
        conn.register("_hand", data)
        names = ", ".join(data.columns)
        conn.execute(f"insert into marts.{name} ({names}) select {names} from _hand")
        conn.unregister("_hand")


def build(conn, as_of: dt.date, *names: str, **settings) -> None:
    """Build the marts in order, after the staging models they read that are derived from the
    staging tables made by hand (observation_windows, allocation_products)."""
    params = MetricSettings(**settings).sql_params(as_of)
    for name in names:
        for schema, table in sorted(set(TABLE_REF.findall(sql_text("marts", name)))):
            if schema == "staging" and table not in STAGING_COLUMNS and (SQL_DIR / schema / f"{table}.sql").exists():
                build_table(conn, schema, table, params)
        build_table(conn, "marts", name, params)


def rows(conn: duckdb.DuckDBPyConnection, query: str) -> list[dict]:
    """Query rows as dicts (a fresh cursor: build_table leaves a fetched-once result on conn)."""
    result = conn.cursor().execute(query)
    names = [d[0] for d in result.description]
    return [dict(zip(names, row)) for row in result.fetchall()]


def assert_one_row_per_key(conn, table: str, keys: tuple[str, ...]) -> None:
    cols = ", ".join(keys)
    dupes = rows(conn, f"select {cols}, count(*) as n from marts.{table} group by all having count(*) > 1")
    assert dupes == [], dupes


_ref = itertools.count(1)


def zvw(provider: str, service: dt.date, submitted: dt.datetime, amount: float, *,
        insurer: str = "3311", status: str = "approved", minutes: float | None = None,
        client: str = "a", credit: bool = False) -> dict:
    sign = -1 if credit else 1
    minutes = 60.0 if minutes is None else minutes
    return {
        "insurer_code": insurer, "provider_agb": provider, "client_id": client,
        "reference_number": f"Z{next(_ref):05d}", "service_start": service, "service_end": service,
        "month": service.replace(day=1), "prestation_code": "1000", "minutes": minutes,
        "hours": minutes / 60, "amount_eur": amount, "debit_credit": "C" if credit else "D",
        "sign": sign, "net_minutes": sign * minutes, "net_hours": sign * minutes / 60,
        "net_amount_eur": sign * amount, "submitted_on": submitted, "status": status,
    }


def iwmo(period_start: dt.date, declared_on: dt.date, amount: float, *, category: str = "02",
         answered_on: dt.date | None = None, rejected_on: dt.date | None = None,
         return_codes: str | None = None, credit: bool = False, municipality: str = "0363",
         law: str = "wmo", provider: str = "11111111", hours: float | None = None,
         period_end: dt.date | None = None, message: str = "M1", client: str = "a") -> dict:
    sign = -1 if credit else 1
    if period_end is None:
        period_end = (period_start.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    return {
        "provider_agb": provider, "municipality_code": municipality, "law": law,
        "message_id": message, "declared_on": declared_on, "reference_number": f"R{next(_ref):05d}",
        "client_id": client, "allocation_number": "1", "product_category": category,
        "product_code": f"{category}A01", "period_start": period_start, "period_end": period_end,
        "month": period_start.replace(day=1), "amount_eur": amount, "debit_credit": "C" if credit else "D",
        "sign": sign, "net_amount_eur": sign * amount, "hours": None if hours is None else sign * hours,
        "answered_on": answered_on, "rejected_on": rejected_on, "return_codes": return_codes,
    }


def ceiling(payer: str, provider: str, ceiling_eur: float, *, kind: str = "insurer", year: int = 2025,
            policy: str = "stop_payment", deadline: dt.date | None = None,
            max_hours: float | None = None) -> dict:
    return {
        "payer_code": payer, "payer_kind": kind, "provider_agb": provider, "year": year,
        "ceiling_eur": ceiling_eur, "policy": policy, "increase_request_deadline": deadline,
        "max_hours_per_client_month": max_hours,
    }


def by(rows_: list[dict], *keys: str) -> dict:
    return {tuple(r[k] for k in keys) if len(keys) > 1 else r[keys[0]]: r for r in rows_}


# §9 chain ladder ----------------------------------------------------------------------------------

def section_9_example_lines(provider: str = "P") -> list[dict]:
    # service month, submission, amount: January 600 (lag 0), 300 (lag 1), 100 (lag 2);
    # February 800 (lag 0), 400 (lag 1); March 700 (lag 0)
    return [
        zvw(provider, D(2025, 1, 10), T(2025, 1, 20), 600),
        zvw(provider, D(2025, 1, 10), T(2025, 2, 20), 300),
        zvw(provider, D(2025, 1, 10), T(2025, 3, 20), 100),
        zvw(provider, D(2025, 2, 10), T(2025, 2, 20), 800),
        zvw(provider, D(2025, 2, 10), T(2025, 3, 20), 400),
        zvw(provider, D(2025, 3, 10), T(2025, 3, 20), 700),
    ]


def test_worked_example_of_section_9_and_its_projected_year_end():
    conn = duckdb.connect()
    lines = section_9_example_lines() + [
        # does not count: rejected, and submitted after as_of
        zvw("P", D(2025, 1, 10), T(2025, 2, 1), 5000, status="rejected"),
        zvw("P", D(2025, 3, 10), T(2025, 4, 1, 0, 0), 900),
    ]
    staging(conn, zvw_lines=lines, ceilings=[
        ceiling("3311", "P", 12000, policy="settle", deadline=D(2025, 9, 1)),
    ])
    build(conn, D(2025, 3, 31), "payer_lines", "chain_ladder", "ceiling_position", chain_ladder_max_lag=2)

    cl = by(rows(conn, "select * from marts.chain_ladder"), "month")
    # f0 = (900 + 1200) / (600 + 800) = 1.5; f1 = 1000 / 900
    assert cl[D(2025, 1, 1)]["lag_observed"] == 2
    assert cl[D(2025, 1, 1)]["remaining_factor"] == pytest.approx(1.0)
    assert cl[D(2025, 2, 1)]["remaining_factor"] == pytest.approx(1000 / 900)
    assert cl[D(2025, 3, 1)]["remaining_factor"] == pytest.approx(1.5 * 1000 / 900)
    assert float(cl[D(2025, 2, 1)]["declared_eur"]) == 1200
    # chain ladder C × F: January 1000, February 1333.33, March 700 × 1.6667 = 1166.67 (the old forecast)
    assert cl[D(2025, 2, 1)]["chain_ladder_ultimate_eur"] == pytest.approx(1333.3333, abs=1e-3)
    assert cl[D(2025, 3, 1)]["chain_ladder_ultimate_eur"] == pytest.approx(1166.6667, abs=1e-3)
    # Bornhuetter–Ferguson: p = 1, 0.9, 0.6. January has no earlier month: U = 1000. February: E = 1000
    # (January, p 1 ≥ 0.8), U = 1200 + 0.1 × 1000 = 1300. March: E = (1000 + 1333.33) / 2 = 1166.67
    # (January and February, p ≥ 0.8), U = 700 + 0.4 × 1166.67 = 1166.67
    assert cl[D(2025, 2, 1)]["declared_share"] == pytest.approx(0.9)
    assert cl[D(2025, 3, 1)]["declared_share"] == pytest.approx(0.6)
    assert cl[D(2025, 1, 1)]["expected_ultimate_eur"] == pytest.approx(1000)
    assert cl[D(2025, 2, 1)]["prior_eur"] == pytest.approx(1000)
    assert cl[D(2025, 2, 1)]["expected_ultimate_eur"] == pytest.approx(1300)
    assert cl[D(2025, 3, 1)]["prior_eur"] == pytest.approx(1166.6667, abs=1e-3)
    assert cl[D(2025, 3, 1)]["expected_ultimate_eur"] == pytest.approx(1166.6667, abs=1e-3)
    # expected late 0 + 100 + 466.67 = 566.67
    assert sum(r["expected_late_eur"] for r in cl.values()) == pytest.approx(566.6667, abs=1e-3)
    assert_one_row_per_key(conn, "chain_ladder", ("payer_kind", "payer_code", "law", "provider_agb", "month"))

    (pos,) = rows(conn, "select * from marts.ceiling_position")
    # ultimate 3466.67 + 9 months × (1000 + 1300 + 1166.67) / 3 = 3466.67 + 9 × 1155.56 = 13,866.67
    assert float(pos["expected_ultimate_eur"]) == 3466.67
    assert float(pos["expected_late_eur"]) == 566.67
    assert pos["months_left"] == 9
    assert float(pos["projected_year_end_eur"]) == 13866.67
    # realised = approved 1000 + 1200 + 700 = 2900; share 2900 / 12000
    assert float(pos["realised_eur"]) == 2900.00
    assert pos["share"] == pytest.approx(2900 / 12000)
    # 13,866.67 > 12,000 and not reached: projected_over; the deadline 1 Sep lies ahead
    assert pos["alert"] == "projected_over"
    assert pos["request_increase_by"] == D(2025, 9, 1)
    # the recent submission rate is shown beside it: 2900 / 91 (all submitted after 2024-12-30)
    assert pos["run_rate_eur_per_day"] == pytest.approx(2900 / 91)
    # the run-out date follows the projection: d = (13866.67 − 2900) / 275 days to 31 Dec = 39.88 a day;
    # (12000 − 2900) / d = 228.2 → 229 days; 2025-03-31 + 229 = 2025-11-15, within the year
    # (the old date came from the run rate: 2026-01-11, after the year it was projected over)
    assert pos["projected_run_out_date"] == D(2025, 11, 15)
    assert pos["ceiling_reached_on"] is None
    assert float(pos["paid_eur"]) == 2900.00 and float(pos["above_ceiling_eur"]) == 0


def test_chain_ladder_factors_over_all_providers_applied_per_provider():
    conn = duckdb.connect()
    # the section 9 triangle split over providers A and B (payer totals unchanged), and a second insurer
    # whose triangle must not influence insurer 3311's factors
    lines = [
        zvw("A", D(2025, 1, 10), T(2025, 1, 20), 400), zvw("B", D(2025, 1, 10), T(2025, 1, 21), 200),
        zvw("A", D(2025, 1, 10), T(2025, 2, 20), 300), zvw("B", D(2025, 1, 10), T(2025, 3, 20), 100),
        zvw("A", D(2025, 2, 10), T(2025, 2, 20), 800), zvw("B", D(2025, 2, 10), T(2025, 3, 20), 400),
        zvw("A", D(2025, 3, 10), T(2025, 3, 20), 700),
        zvw("A", D(2025, 2, 10), T(2025, 2, 20), 100, insurer="9999"),
        zvw("A", D(2025, 2, 10), T(2025, 3, 20), 900, insurer="9999"),
        zvw("A", D(2025, 3, 10), T(2025, 3, 20), 100, insurer="9999"),
    ]
    staging(conn, zvw_lines=lines)
    build(conn, D(2025, 3, 31), "payer_lines", "chain_ladder", chain_ladder_max_lag=2)
    cl = by(rows(conn, "select * from marts.chain_ladder"), "payer_code", "provider_agb", "month")
    # insurer 3311: f0 = 1.5, f1 = 1000/900 as in the worked example
    # chain ladder, A: Jan 700 × 1 = 700; Feb 800 × 10/9 = 888.89; Mar 700 × 1.5 × 10/9 = 1166.67;
    # B: Jan 300; Feb 400 × 10/9 = 444.44; March 0 (B declared nothing for March yet)
    # Bornhuetter–Ferguson with each provider's own prior: A Feb 800 + 0.1 × 700 = 870;
    # A Mar 700 + 0.4 × (700 + 888.89) / 2 = 1017.78; B Feb 400 + 0.1 × 300 = 430;
    # B Mar 0 + 0.4 × (300 + 444.44) / 2 = 148.89: a provider late by habit still has March expected
    assert cl[("3311", "A", D(2025, 1, 1))]["expected_ultimate_eur"] == pytest.approx(700)
    assert cl[("3311", "A", D(2025, 2, 1))]["chain_ladder_ultimate_eur"] == pytest.approx(8000 / 9)
    assert cl[("3311", "A", D(2025, 2, 1))]["expected_ultimate_eur"] == pytest.approx(870)
    assert cl[("3311", "A", D(2025, 3, 1))]["chain_ladder_ultimate_eur"] == pytest.approx(700 * 1.5 * 10 / 9)
    assert cl[("3311", "A", D(2025, 3, 1))]["expected_ultimate_eur"] == pytest.approx(700 + 0.4 * (700 + 8000 / 9) / 2)
    assert cl[("3311", "B", D(2025, 1, 1))]["expected_ultimate_eur"] == pytest.approx(300)
    assert cl[("3311", "B", D(2025, 2, 1))]["expected_late_eur"] == pytest.approx(30)
    assert float(cl[("3311", "B", D(2025, 3, 1))]["declared_eur"]) == 0
    assert cl[("3311", "B", D(2025, 3, 1))]["expected_late_eur"] == pytest.approx(0.4 * (300 + 4000 / 9) / 2)
    # insurer 9999: f0 = (100 + 900) / 100 = 10 from February; f1 cannot be estimated (no month with
    # lag 2 observed) and counts as 1: Feb 1000 × 1 = 1000 (p 1); Mar p 0.1, prior 1000 (February):
    # 100 + 0.9 × 1000 = 1000
    assert cl[("9999", "A", D(2025, 2, 1))]["remaining_factor"] == pytest.approx(1.0)
    assert cl[("9999", "A", D(2025, 3, 1))]["expected_ultimate_eur"] == pytest.approx(1000)
    # 700 + 870 + 1017.78 + 300 + 430 + 148.89
    assert sum(r["expected_ultimate_eur"] for k, r in cl.items() if k[0] == "3311") == pytest.approx(3466.6667, abs=1e-3)
    assert_one_row_per_key(conn, "chain_ladder", ("payer_kind", "payer_code", "law", "provider_agb", "month"))


def test_chain_ladder_caps_lags_and_keeps_municipality_and_law_apart():
    conn = duckdb.connect()
    lines = [
        # wmo of 0363: Oct 2024 100 at lag 0 and 50 at lag 5 (capped to lag 2); Jan 2025 200 at lag 0
        iwmo(D(2024, 10, 1), D(2024, 10, 31), 100, answered_on=D(2024, 11, 5)),
        iwmo(D(2024, 10, 1), D(2025, 3, 3), 50, answered_on=D(2025, 3, 5)),
        iwmo(D(2025, 1, 1), D(2025, 1, 31), 200, answered_on=D(2025, 2, 5)),
        # jeugd of 0363: its own factors (all 1: no later declarations)
        iwmo(D(2024, 10, 1), D(2024, 10, 31), 100, law="jeugd", answered_on=D(2024, 11, 5)),
        iwmo(D(2025, 3, 1), D(2025, 3, 31), 300, law="jeugd"),
    ]
    staging(conn, declaration_lines=lines)
    build(conn, D(2025, 3, 31), "payer_lines", "chain_ladder", chain_ladder_max_lag=2)
    cl = by(rows(conn, "select * from marts.chain_ladder"), "law", "month")
    # wmo: C(Oct, 0) = 100, C(Oct, 1) = 100, C(Oct, 2) = 150 (lag 5 capped at 2); Jan: C(Jan, 0) = 200,
    # C(Jan, 1) = 200, C(Jan, 2) = 200 (lag observed 2). f0 = (100 + 200) / (100 + 200) = 1,
    # f1 = (150 + 200) / (100 + 200) = 350 / 300. Every month has lag 2 observed: factor 1.
    assert cl[("wmo", D(2024, 10, 1))]["lag_observed"] == 2
    assert cl[("wmo", D(2025, 1, 1))]["remaining_factor"] == pytest.approx(1.0)
    assert float(cl[("wmo", D(2024, 10, 1))]["declared_eur"]) == 150
    assert cl[("jeugd", D(2025, 3, 1))]["lag_observed"] == 0
    # jeugd: f0 = C(Oct, 1) / C(Oct, 0) = 100 / 100 = 1; f1 = 1: March ultimate 300 (pending counts)
    assert cl[("jeugd", D(2025, 3, 1))]["expected_ultimate_eur"] == pytest.approx(300)
    assert all(r["payer_kind"] == "municipality" and r["payer_code"] == "0363" for r in cl.values())


# §7 ceilings ---------------------------------------------------------------------------------------

def section_7_example_lines(insurer: str) -> list[dict]:
    # approved lines submitted 10 Mar €60,000, 2 Jun €30,000, 20 Aug €15,000, 5 Sep €5,000
    return [
        zvw("P", D(2025, 3, 1), T(2025, 3, 10, 9), 60000, insurer=insurer),
        zvw("P", D(2025, 6, 1), T(2025, 6, 2, 9), 30000, insurer=insurer),
        zvw("P", D(2025, 8, 1), T(2025, 8, 20, 9), 15000, insurer=insurer),
        zvw("P", D(2025, 9, 1), T(2025, 9, 5, 9), 5000, insurer=insurer),
    ]


def test_worked_example_of_section_7_both_policies():
    conn = duckdb.connect()
    staging(
        conn,
        zvw_lines=section_7_example_lines("3311") + section_7_example_lines("3312"),
        ceilings=[
            ceiling("3311", "P", 100000, policy="stop_payment", deadline=D(2025, 9, 1)),
            ceiling("3312", "P", 100000, policy="settle"),
        ],
    )
    build(conn, D(2025, 9, 30), "payer_lines", "chain_ladder", "ceiling_position")
    pos = by(rows(conn, "select * from marts.ceiling_position"), "payer_code")
    for payer in ("3311", "3312"):
        p = pos[payer]
        # realised 110,000, share 1.10, reached on 20 Aug (60 + 30 + 15 = 105 ≥ 100)
        assert float(p["realised_eur"]) == 110000
        assert p["share"] == pytest.approx(1.10)
        assert p["ceiling_reached_on"] == D(2025, 8, 20)
        assert float(p["above_ceiling_eur"]) == 10000
        assert p["alert"] == "reached"
        # every line has lag 0 and every factor is 1: ultimate = 110,000; projected year end
        # 110,000 + 3 × (0 + 15,000 + 5,000) / 3 = 130,000 > ceiling → run-out = the date it was reached
        assert float(p["projected_year_end_eur"]) == 130000
        assert p["projected_run_out_date"] == D(2025, 8, 20)
        assert p["request_increase_by"] is None
    assert float(pos["3311"]["paid_eur"]) == 100000  # stop_payment: min(realised, ceiling)
    assert float(pos["3312"]["paid_eur"]) == 110000  # settle: realised, 10,000 reclaimed at year end
    assert_one_row_per_key(conn, "ceiling_position", ("payer_code", "provider_agb", "year"))


def test_ceiling_cut_offs_statuses_credits_and_projection():
    conn = duckdb.connect()
    lines = [
        zvw("P", D(2025, 1, 10), T(2025, 1, 15, 9), 3000),                       # approved
        zvw("P", D(2025, 1, 10), T(2025, 2, 10, 9), 500, credit=True),           # approved credit
        zvw("P", D(2025, 2, 10), T(2025, 3, 1, 9), 1000, status="pending"),      # pending
        zvw("P", D(2025, 2, 10), T(2025, 3, 1, 9), 2000, status="rejected"),     # rejected
        zvw("P", D(2025, 6, 10), T(2025, 7, 1, 0, 0), 4000),                     # after as_of
        zvw("P", D(2025, 6, 10), T(2025, 6, 30, 17, 30), 250),                   # on as_of day
        zvw("P", D(2024, 12, 10), T(2025, 1, 5, 9), 700),                        # service in 2024
        zvw("P", D(2025, 1, 10), T(2025, 1, 15, 9), 80000, insurer="3312"),      # another payer
    ]
    staging(conn, zvw_lines=lines, ceilings=[
        ceiling("3311", "P", 100000), ceiling("3311", "P", 1, year=2024),
    ])
    build(conn, D(2025, 6, 30), "payer_lines", "chain_ladder", "ceiling_position")
    (pos,) = rows(conn, "select * from marts.ceiling_position")
    # realised = 3000 − 500 + 250 = 2750
    assert float(pos["realised_eur"]) == 2750
    assert pos["year"] == 2025
    # chain ladder (as_of month June, lag observed Dec 6, Jan 5, Feb 4, Jun 0):
    # C(Dec) = 0, 700, …; C(Jan) = 3000, 2500, …; C(Feb) = 0, 1000, …; C(Jun, 0) = 250
    # f0 = (700 + 2500 + 1000) / (0 + 3000 + 0) = 1.4; later factors 1 → June p = 1 / 1.4.
    # Bornhuetter–Ferguson: P declared nothing for March, April and May (months of its span, C = 0,
    # p = 1), so June's prior, the mean of its three latest developed months, is 0: U = 250
    # (the chain ladder would have said 350). year ultimate = 2500 + 1000 + 0 + 0 + 0 + 250 = 3750
    assert float(pos["expected_ultimate_eur"]) == 3750
    assert float(pos["expected_late_eur"]) == 0
    # projected = 3750 + (0 + 0 + 250) / 3 × 6 = 3750 + 500 = 4250
    assert float(pos["projected_year_end_eur"]) == 4250
    # run rate: only the 250 submitted after 2025-06-30 − 91 = 2025-03-31 counts
    assert pos["run_rate_eur_per_day"] == pytest.approx(250 / 91)
    assert pos["projected_run_out_date"] is None  # 4250 stays within 100,000
    assert pos["alert"] == "ok"


def test_alert_levels_run_out_date_and_increase_deadline():
    conn = duckdb.connect()
    dec = D(2025, 12, 1)
    lines = [
        zvw("P70", dec, T(2025, 12, 2), 750),
        zvw("P90", dec, T(2025, 12, 2), 950),
        zvw("POK", dec, T(2025, 12, 2), 500),
        zvw("PB", dec, T(2025, 12, 2), 700),
        zvw("POVER", dec, T(2025, 12, 2), 800),
        zvw("POVER", dec, T(2025, 12, 3), 300, status="pending"),
        zvw("PAHEAD", dec, T(2025, 12, 2), 800),
        zvw("PAHEAD", dec, T(2025, 12, 3), 300, status="pending"),
        zvw("PREACH", dec, T(2025, 12, 2), 600),
        zvw("PREACH", dec, T(2025, 12, 4), 400),
        # over the ceiling on 3 Dec, below it again after a credit on 5 Dec
        zvw("PDIP", dec, T(2025, 12, 2), 700),
        zvw("PDIP", dec, T(2025, 12, 3), 400),
        zvw("PDIP", dec, T(2025, 12, 5), 400, credit=True),
    ]
    staging(conn, zvw_lines=lines, ceilings=[
        ceiling("3311", p, 1000, deadline=D(2025, 12, 1))
        for p in ("P70", "P90", "POK", "PB", "POVER", "PREACH", "PDIP")
    ] + [ceiling("3311", "PAHEAD", 1000, deadline=D(2025, 12, 31))])
    build(conn, D(2025, 12, 31), "payer_lines", "chain_ladder", "ceiling_position")
    pos = by(rows(conn, "select * from marts.ceiling_position"), "provider_agb")
    # no months are left in the year and all factors are 1: projected year end = approved + pending
    assert pos["P70"]["alert"] == "70"        # 750 / 1000 = 0.75
    assert pos["PB"]["alert"] == "70"         # 700 / 1000 = 0.70, the boundary counts
    assert pos["P90"]["alert"] == "90"        # 0.95
    assert pos["POK"]["alert"] == "ok"        # 0.50
    assert pos["PREACH"]["alert"] == "reached"
    assert pos["PREACH"]["ceiling_reached_on"] == D(2025, 12, 4)  # 600 + 400 = 1000 reaches 1000
    assert float(pos["PREACH"]["paid_eur"]) == 1000
    # 700 + 400 = 1100 ≥ 1000 on 3 Dec; the credit of 5 Dec leaves 700 realised, the ceiling stays reached
    assert pos["PDIP"]["ceiling_reached_on"] == D(2025, 12, 3)
    assert float(pos["PDIP"]["realised_eur"]) == 700
    assert pos["PDIP"]["alert"] == "reached"
    # 800 approved + 300 pending → projected 1100 > 1000
    assert pos["POVER"]["alert"] == "projected_over"
    assert float(pos["POVER"]["projected_year_end_eur"]) == 1100
    assert pos["POVER"]["request_increase_by"] is None          # deadline 1 Dec has passed
    assert pos["PAHEAD"]["request_increase_by"] == D(2025, 12, 31)  # deadline on as_of: still open
    # projected over with no day of the year left: the projection's pace is unbounded, the run-out
    # date is as_of itself, within the year (the old run-rate date said 2026-01-23)
    assert pos["POVER"]["projected_run_out_date"] == D(2025, 12, 31)
    for p in ("P70", "P90", "POK", "PB"):
        assert pos[p]["projected_run_out_date"] is None
        assert pos[p]["request_increase_by"] is None


def test_municipality_ceiling_over_both_laws():
    conn = duckdb.connect()
    lines = [
        iwmo(D(2025, 1, 1), D(2025, 2, 3), 600, answered_on=D(2025, 2, 10)),
        iwmo(D(2025, 1, 1), D(2025, 2, 5), 500, law="jeugd", answered_on=D(2025, 2, 10)),
        iwmo(D(2025, 1, 1), D(2025, 2, 5), 900, answered_on=D(2025, 2, 10), rejected_on=D(2025, 2, 10)),
        iwmo(D(2025, 2, 1), D(2025, 3, 3), 400, answered_on=D(2025, 4, 2)),   # answered after as_of
    ]
    staging(conn, declaration_lines=lines, ceilings=[ceiling("0363", "11111111", 1000, kind="municipality")])
    build(conn, D(2025, 3, 31), "payer_lines", "chain_ladder", "ceiling_position")
    (pos,) = rows(conn, "select * from marts.ceiling_position")
    # approved: wmo 600 (3 Feb) + jeugd 500 (5 Feb) = 1100; reached on 5 Feb when 600 + 500 ≥ 1000
    assert float(pos["realised_eur"]) == 1100
    assert pos["ceiling_reached_on"] == D(2025, 2, 5)
    assert float(pos["paid_eur"]) == 1000 and float(pos["above_ceiling_eur"]) == 100


# §8 hours ------------------------------------------------------------------------------------------

def test_worked_example_of_section_8():
    conn = duckdb.connect()
    # January: client A 10 h, B 20 h; February: A 12 h, C 6 h; €60 an hour
    lines = [
        zvw("P", D(2025, 1, 5), T(2025, 2, 1), 600, minutes=600, client="A"),
        zvw("P", D(2025, 1, 5), T(2025, 2, 1), 1200, minutes=1200, client="B"),
        zvw("P", D(2025, 2, 5), T(2025, 3, 1), 720, minutes=720, client="A"),
        zvw("P", D(2025, 2, 5), T(2025, 3, 1), 360, minutes=360, client="C"),
        # not counted: pending, rejected, and after as_of
        zvw("P", D(2025, 2, 5), T(2025, 3, 1), 600, minutes=600, client="D", status="pending"),
        zvw("P", D(2025, 2, 5), T(2025, 3, 1), 600, minutes=600, client="D", status="rejected"),
        zvw("P", D(2025, 2, 5), T(2025, 4, 1), 600, minutes=600, client="D"),
    ]
    staging(conn, zvw_lines=lines, ceilings=[ceiling("3311", "P", 100000, max_hours=11)])
    build(conn, D(2025, 3, 31), "payer_lines", "hours_per_client_month", "hours_agreement")
    monthly = by(rows(conn, "select * from marts.hours_per_client_month"), "month")
    assert monthly[D(2025, 1, 1)]["hours"] == pytest.approx(30) and monthly[D(2025, 1, 1)]["clients"] == 2
    assert monthly[D(2025, 1, 1)]["hours_per_client"] == pytest.approx(15)
    assert monthly[D(2025, 2, 1)]["hours"] == pytest.approx(18) and monthly[D(2025, 2, 1)]["clients"] == 2
    (year,) = rows(conn, "select * from marts.hours_agreement")
    # hours 48, client-months 4, average 12.0; agreement 11 → excess (12 − 11) × 4 = 4 hours;
    # tariff 2880 / 48 = 60 → reclaim 4 × 60 = 240
    assert year["hours"] == pytest.approx(48)
    assert year["client_months"] == 4
    assert year["avg_hours_per_client_month"] == pytest.approx(12.0)
    assert year["max_hours_per_client_month"] == 11
    assert year["excess_hours"] == pytest.approx(4)
    assert year["avg_hourly_tariff_eur"] == pytest.approx(60)
    assert float(year["expected_reclaim_eur"]) == 240
    # every client-month is a first or last month in care: no full months
    assert year["avg_hours_full_months"] is None


def test_hours_from_iwmo_full_months_and_clients_with_no_net_hours():
    conn = duckdb.connect()
    m = lambda month: D(2025, month, 1)  # noqa: E731
    lines = [
        # client D: Jan 5, Feb 8, Mar 9, Apr 4 hours → full months Feb and Mar
        iwmo(m(1), D(2025, 2, 3), 150, hours=5, client="D", answered_on=D(2025, 2, 5)),
        iwmo(m(2), D(2025, 3, 3), 240, hours=8, client="D", answered_on=D(2025, 3, 5)),
        iwmo(m(3), D(2025, 4, 3), 270, hours=9, client="D", answered_on=D(2025, 4, 5)),
        iwmo(m(4), D(2025, 5, 3), 120, hours=4, client="D", answered_on=D(2025, 5, 5)),
        # client E: Feb 10 and Mar 12 hours (first and last months only)
        iwmo(m(2), D(2025, 3, 3), 300, hours=10, client="E", answered_on=D(2025, 3, 5)),
        iwmo(m(3), D(2025, 4, 3), 360, hours=12, client="E", answered_on=D(2025, 4, 5)),
        # client F: a debit and its credit in March: net 0 hours, not a client
        iwmo(m(3), D(2025, 4, 3), 90, hours=3, client="F", answered_on=D(2025, 4, 5)),
        iwmo(m(3), D(2025, 4, 20), 90, hours=3, client="F", credit=True, answered_on=D(2025, 4, 25)),
        # not hours (output unit), and pending
        iwmo(m(3), D(2025, 4, 3), 500, hours=None, client="G", answered_on=D(2025, 4, 5)),
        iwmo(m(3), D(2025, 4, 3), 500, hours=20, client="H"),
        # the same municipality's jeugd lines belong to the same payer
        iwmo(m(3), D(2025, 4, 3), 60, hours=2, client="J", law="jeugd", answered_on=D(2025, 4, 5)),
    ]
    staging(conn, declaration_lines=lines,
            ceilings=[ceiling("0363", "11111111", 1000, kind="municipality", max_hours=7)])
    build(conn, D(2025, 5, 31), "payer_lines", "hours_per_client_month", "hours_agreement")
    monthly = by(rows(conn, "select * from marts.hours_per_client_month"), "month")
    # March: D 9 + E 12 + F 0 + J 2 = 23 hours; clients D, E, J = 3
    assert monthly[D(2025, 3, 1)]["hours"] == pytest.approx(23)
    assert monthly[D(2025, 3, 1)]["clients"] == 3
    assert monthly[D(2025, 3, 1)]["payer_kind"] == "municipality"
    # full months (neither a client's first nor its last month in care): D's Feb 8 and Mar 9 hours; E's Feb
    # and Mar are its first and last, J's March both, F has no positive month
    full = {month: (r["full_month_hours"], r["full_month_clients"]) for month, r in monthly.items()}
    assert full == {m(1): (0, 0), m(2): (8, 1), m(3): (9, 1), m(4): (0, 0)}
    (year,) = rows(conn, "select * from marts.hours_agreement")
    # hours 5 + 8 + 9 + 4 + 10 + 12 + 0 + 2 = 50; client-months Jan 1, Feb 2, Mar 3, Apr 1 = 7
    assert year["hours"] == pytest.approx(50)
    assert year["client_months"] == 7
    assert year["avg_hours_per_client_month"] == pytest.approx(50 / 7)
    # 50/7 = 7.142857 > 7 → excess (50/7 − 7) × 7 = 1 hour; amount 150+240+270+120+300+360+90−90+60 = 1500
    # → tariff 1500 / 50 = 30 → reclaim 30
    assert year["excess_hours"] == pytest.approx(1)
    assert year["avg_hourly_tariff_eur"] == pytest.approx(30)
    assert float(year["expected_reclaim_eur"]) == 30
    # full months: D's Feb 8 and Mar 9 → (8 + 9) / 2 = 8.5 (E and J have no month between first and last)
    assert year["avg_hours_full_months"] == pytest.approx(8.5)
    assert_one_row_per_key(conn, "hours_per_client_month", ("payer_kind", "payer_code", "provider_agb", "month"))
    assert_one_row_per_key(conn, "hours_agreement", ("payer_kind", "payer_code", "provider_agb", "year"))


# §10 budget exhaustion ------------------------------------------------------------------------------

def cak_periods_rule_a(year: int) -> list[dict]:
    """Rule A of domain-facts.md: periods 1–12 of 28 days from 1 January, period 13 to 31 December."""
    start = D(year, 1, 1)
    periods = []
    for n in range(1, 14):
        end = start + dt.timedelta(days=27) if n < 13 else D(year, 12, 31)
        periods.append({"year": year, "period": n, "start_date": start, "end_date": end})
        start = end + dt.timedelta(days=1)
    return periods


def maxima(number: str, month: dt.date, max_volume: float | None, **alloc) -> dict:
    period_start = max(alloc["start_date"], month)
    return {
        "municipality_code": "0363", "law": "wmo", "allocation_number": number, "client_id": "c",
        "provider_agb": "11111111", "month": month, "year": month.year, "period_start": period_start,
        "max_volume": max_volume, "is_mature": False, "is_after_as_of": month > D(2025, 9, 30), **alloc,
    }


def realisation(number: str, month: dt.date, *, product_code: str | None, max_volume: float | None = None,
                delivered: float = 0.0, declared: float = 0.0, declared_eur: float = 0.0,
                mature: bool = True, category: str = "02") -> dict:
    return {
        "municipality_code": "0363", "law": "wmo", "allocation_number": number, "provider_agb": "11111111",
        "product_category": category, "product_code": product_code, "month": month, "year": month.year,
        "max_volume": max_volume, "delivered_volume": delivered, "declared_volume": declared,
        "declared_amount_eur": declared_eur, "approved_amount_eur": declared_eur, "is_mature": mature,
    }


def allocation_inputs(conn, as_of: dt.date, maxima_rows: list[dict], realisations: list[dict]) -> None:
    """The commitments' inputs by hand: allocation_version_months (one version per allocation, in force
    throughout) from the maxima rows, plus a month row for every realisation; and for each
    realisation a declaration line of provider 22222222 without an amount (so that payer lines, chain
    ladder and budget do not change) carrying its delivered (answered) or declared (pending) volume."""
    attributes = {r["allocation_number"]: r for r in maxima_rows}
    months = [{k: v for k, v in r.items() if k not in ("is_mature", "is_after_as_of")} for r in maxima_rows]
    lines = []
    for r in realisations:
        number, month = r["allocation_number"], r["month"]
        alloc = attributes.get(number, {"start_date": D(month.year, 1, 1), "end_date": D(month.year, 12, 31)})
        if not any(m["allocation_number"] == number and m["month"] == month for m in months):
            base = {k: v for k, v in alloc.items() if k not in ("is_mature", "is_after_as_of")}
            months.append({**maxima(number, month, r["max_volume"], **{
                k: v for k, v in base.items() if k in ("start_date", "end_date", "variant", "unit", "frequency",
                                                      "volume", "budget_eur")}),
                "product_code": r["product_code"], "product_category": r["product_category"]})
        for volume, answered in ((r["delivered_volume"], True), (r["declared_volume"], False)):
            if volume:
                line = iwmo(month, min(month + dt.timedelta(days=40), as_of), 0, category=r["product_category"],
                            provider="22222222",
                            answered_on=min(month + dt.timedelta(days=45), as_of) if answered else None)
                lines.append({**line, "allocation_number": number, "volume_alloc_unit": volume})
    for m in months:
        m.update(valid_from=D(2000, 1, 1), valid_to=D(9999, 12, 31))
        m.pop("is_mature", None)
        m.pop("is_after_as_of", None)
    columns = {k: v for k, v in ALLOCATION_MONTH_MAXIMA.items() if k not in ("is_mature", "is_after_as_of")}
    hand_table(conn, "allocation_version_months", {**columns, "valid_from": "date", "valid_to": "date"}, months)
    if lines:
        conn.register("_lines", frame(STAGING_COLUMNS["declaration_lines"], lines))
        conn.execute("insert into staging.declaration_lines by name select * from _lines")
        conn.unregister("_lines")


def product(code: str, category: str, unit: str, tariff: float, valid_from: dt.date,
            valid_to: dt.date | None = None, period: str = "unit") -> dict:
    return {"product_code": code, "product_category": category, "law": "wmo", "unit": unit,
            "tariff_eur": tariff, "tariff_period": period, "valid_from": valid_from, "valid_to": valid_to}


def test_budget_exhaustion_declared_expected_late_commitments_and_forecast():
    conn = duckdb.connect()
    as_of = D(2025, 9, 30)
    lines = [
        iwmo(D(2025, 8, 1), D(2025, 8, 31), 1000, answered_on=D(2025, 9, 5)),                 # approved, lag 0
        iwmo(D(2025, 8, 1), D(2025, 9, 10), 500, answered_on=D(2025, 9, 20)),                 # approved, lag 1
        iwmo(D(2025, 8, 1), D(2025, 9, 12), 100, credit=True, answered_on=D(2025, 9, 20)),    # credit, lag 1
        iwmo(D(2025, 7, 1), D(2025, 8, 1), 400, answered_on=D(2025, 10, 5),
             rejected_on=D(2025, 10, 5)),                                                     # pending at as_of
        iwmo(D(2025, 9, 1), D(2025, 9, 30), 200),                                             # pending, cat 02
        iwmo(D(2025, 9, 1), D(2025, 9, 30), 600, category="01"),                              # pending, cat 01
        iwmo(D(2025, 9, 1), D(2025, 9, 15), 300, category="01", answered_on=D(2025, 9, 20),
             rejected_on=D(2025, 9, 20)),                                                     # rejected
        iwmo(D(2025, 9, 1), D(2025, 10, 1), 999, category="01"),                              # after as_of
        iwmo(D(2025, 9, 1), D(2025, 9, 30), 50, law="jeugd", category="45"),                  # jeugd: no budget
    ]
    products = [
        product("02A03", "02", "04", 50, D(2024, 1, 1), D(2024, 12, 31)),
        product("02A03", "02", "04", 60, D(2025, 1, 1), D(2025, 11, 30)),
        product("02A03", "02", "04", 66, D(2025, 12, 1)),
        product("02A01", "02", "82", 100, D(2025, 1, 1)),
        product("01A04", "01", "04", 30, D(2025, 1, 1)),
        product("02A09", "02", "04", 50, D(2025, 1, 1)),
        product("07A01", "07", "84", 800, D(2025, 1, 1), period="4weeks"),
    ]
    staging(
        conn,
        declaration_lines=lines,
        products=products,
        cak_periods=cak_periods_rule_a(2025),
        budgets=[
            {"municipality_code": "0363", "year": 2025, "law": "wmo", "product_category": None, "budget_eur": 100000},
            {"municipality_code": "0363", "year": 2025, "law": "wmo", "product_category": "02", "budget_eur": 40000},
            {"municipality_code": "0363", "year": 2025, "law": "wmo", "product_category": "01", "budget_eur": 20000},
            {"municipality_code": "0363", "year": 2024, "law": "wmo", "product_category": None, "budget_eur": 1},
        ],
    )
    w1 = dict(product_category="02", product_code="02A03", variant="inspanning", unit="04", frequency="2",
              volume=3.0, start_date=D(2025, 7, 7), end_date=D(2025, 12, 30))
    s1 = dict(product_category="02", product_code="02A03", variant="inspanning", unit="04", frequency="2",
              volume=1.0, start_date=D(2025, 11, 3), end_date=D(2025, 11, 30))
    e1 = dict(product_category="02", product_code="02A03", variant="inspanning", unit="04", frequency="2",
              volume=1.0, start_date=D(2025, 6, 1), end_date=D(2025, 9, 15))
    o1 = dict(product_category="02", product_code="02A01", variant="output", unit="82", frequency="2",
              volume=1.0, start_date=D(2025, 9, 1), end_date=None)
    h1 = dict(product_category="01", product_code="01A04", variant="inspanning", unit="04", frequency="2",
              volume=2.0, start_date=D(2025, 1, 1), end_date=D(2025, 10, 15))
    b1 = dict(product_category="02", product_code=None, variant="budget", unit=None, frequency=None,
              volume=None, budget_eur=12000.0, start_date=D(2025, 1, 1), end_date=D(2026, 3, 31))
    t1 = dict(product_category="02", product_code="02A09", variant="inspanning", unit="04", frequency="6",
              volume=100.0, start_date=D(2025, 6, 1), end_date=D(2026, 1, 31))
    f1 = dict(product_category="07", product_code="07A01", variant="inspanning", unit="84", frequency="4",
              volume=1.0, start_date=D(2025, 3, 1), end_date=D(2025, 11, 20))
    m = lambda month: D(2025, month, 1)  # noqa: E731
    maxima_rows = [
        # W1, 3 hours a week: Sep (before as_of, not committed), Oct 5, Nov 5, Dec 5 ISO weeks → 15 each
        maxima("W1", m(9), 12, **w1), maxima("W1", m(10), 15, **w1),
        maxima("W1", m(11), 15, **w1), maxima("W1", m(12), 15, **w1),
        # S1 starts after as_of: Nov 3–30 touches 4 ISO weeks → 4
        maxima("S1", m(11), 4, **s1),
        # E1 ended before as_of
        maxima("E1", m(9), 3, **e1),
        # O1 output, open-ended: Sundays Oct 4, Nov 5, Dec 4
        maxima("O1", m(9), 4, **o1), maxima("O1", m(10), 4, **o1),
        maxima("O1", m(11), 5, **o1), maxima("O1", m(12), 4, **o1),
        # H1 huishoudelijke hulp: 6 × 2 = 12 in October (ends 15 Oct)
        maxima("H1", m(10), 12, **h1),
        # B1 budget and T1 total volume: no monthly maxima
        maxima("B1", m(10), None, **b1), maxima("B1", m(11), None, **b1), maxima("B1", m(12), None, **b1),
        maxima("T1", m(10), None, **t1), maxima("T1", m(11), None, **t1), maxima("T1", m(12), None, **t1),
        # F1 four-weekly product
        maxima("F1", m(10), 1, **f1), maxima("F1", m(11), 1, **f1),
    ]
    realisations = [
        # 02A03 history: W1 Jul (mature) 9 of 12; W0 Oct 2024 (mature) 9 of 13; W0 Sep 2024 lies
        # outside the twelve months; W1 Aug is not mature → utilisation (9 + 9) / (12 + 13) = 0.72
        realisation("W1", m(7), product_code="02A03", max_volume=12, delivered=9),
        realisation("W1", m(8), product_code="02A03", max_volume=15, delivered=15, mature=False),
        realisation("W0", D(2024, 10, 1), product_code="02A03", max_volume=13, delivered=9),
        realisation("W0", D(2024, 9, 1), product_code="02A03", max_volume=10, delivered=10),
        # 01A04: 6 of 12 in Jun and Jul → 0.5
        realisation("H1", m(6), product_code="01A04", max_volume=12, delivered=6, category="01"),
        realisation("H1", m(7), product_code="01A04", max_volume=12, delivered=6, category="01"),
        # 07A01: 1 of 1 → 1.0
        realisation("F1", m(4), product_code="07A01", max_volume=1, delivered=1, category="07"),
        realisation("F1", m(5), product_code="07A01", max_volume=1, delivered=1, category="07"),
        # T1 declared 40 hours so far (B1 nothing: an amount would change the budget's declared figures)
        realisation("T1", m(7), product_code="02A09", declared=15),
        realisation("T1", m(8), product_code="02A09", declared=25),
    ]
    allocation_inputs(conn, as_of, maxima_rows, realisations)
    build(conn, as_of, "payer_lines", "chain_ladder", "allocation_commitments", "budget_exhaustion", chain_ladder_max_lag=1)
    be = by(rows(conn, "select * from marts.budget_exhaustion"), "law", "product_category")
    assert set(be) == {("wmo", None), ("wmo", "02"), ("wmo", "01"), ("jeugd", None)}
    assert_one_row_per_key(conn, "budget_exhaustion", ("municipality_code", "law", "product_category", "year"))

    # chain ladder of 0363 wmo (max lag 1): Jul C0 0, C1 400; Aug C0 1000, C1 1000 + 500 − 100 = 1400;
    # f0 = (400 + 1400) / (0 + 1000) = 1.8; September (lag 0 observed) declared 200 (02) + 600 (01) = 800,
    # p = 1 / 1.8. Bornhuetter–Ferguson: the prior is the mean of July (400) and August (1400), both
    # developed: 900; U = 800 + (1 − 1 / 1.8) × 900 = 1200, expected late 400 for the whole law
    # (the chain ladder said 640), apportioned by September's declared amounts: 02 100, 01 300
    cat02, cat01, whole = be[("wmo", "02")], be[("wmo", "01")], be[("wmo", None)]
    assert float(cat02["approved_eur"]) == 1400   # 1000 + 500 − 100
    assert float(cat02["pending_eur"]) == 600     # 400 (answered after as_of) + 200
    assert float(cat02["expected_late_eur"]) == 100
    assert float(cat01["approved_eur"]) == 0
    assert float(cat01["pending_eur"]) == 600     # the rejected 300 and the 999 after as_of do not count
    assert float(cat01["expected_late_eur"]) == 300
    assert float(whole["expected_late_eur"]) == 400

    # commitments
    w1_eur = (15 * 60 + 15 * 60 + 15 * 66) * 0.72        # 2790 × 0.72 = 2008.80 (Dec tariff 66)
    s1_eur = 4 * 60 * 0.72                               # 172.80
    o1_eur = (4 + 5 + 4) * 100 * 1.0                     # 1300: no history for 02A01 → utilisation 1
    b1_eur = 12000 * 92 / 182                            # Oct 1–Dec 31 = 92 of Oct 1–Mar 31 = 182 days: 6065.93
    t1_eur = (100 - 40) * 50 * 92 / 123                  # Oct 1–Dec 31 = 92 of Oct 1–Jan 31 = 123 days: 2243.90
    h1_eur = 12 * 30 * 0.5                               # 180
    f1_eur = 3 * 800 * 1.0                               # CAK P10 (10 Sep–7 Oct), P11, P12 (5 Nov–2 Dec): 2400
    assert float(cat02["committed_eur"]) == pytest.approx(w1_eur + s1_eur + o1_eur + b1_eur + t1_eur, abs=0.006)
    assert float(cat01["committed_eur"]) == pytest.approx(h1_eur)
    assert float(whole["committed_eur"]) == pytest.approx(
        w1_eur + s1_eur + o1_eur + b1_eur + t1_eur + h1_eur + f1_eur, abs=0.006)
    assert cat02["committed_allocations"] == 5  # W1, S1, O1, B1, T1 (E1 ended before as_of)
    assert whole["allocations_without_tariff"] == 0

    # forecast = approved + pending + expected late + committed; exhaustion = forecast / budget
    # category 01: 0 + 600 + 300 + 180 = 1080 → 1080 / 20000 = 0.054
    assert float(cat01["forecast_eur"]) == 1080
    assert cat01["exhaustion"] == pytest.approx(0.054)
    f02 = 1400 + 600 + 100 + w1_eur + s1_eur + o1_eur + b1_eur + t1_eur
    assert float(cat02["forecast_eur"]) == pytest.approx(f02, abs=0.006)
    assert cat02["exhaustion"] == pytest.approx(f02 / 40000)
    assert float(cat02["budget_eur"]) == 40000
    fw = 1400 + 1200 + 400 + w1_eur + s1_eur + o1_eur + b1_eur + t1_eur + h1_eur + f1_eur
    assert float(whole["forecast_eur"]) == pytest.approx(fw, abs=0.006)
    assert float(whole["budget_eur"]) == 100000
    # jeugd: data but no budget: pending 50, expected late 0 (no jeugd month can estimate f0)
    jeugd = be[("jeugd", None)]
    assert jeugd["budget_eur"] is None and jeugd["exhaustion"] is None
    assert float(jeugd["forecast_eur"]) == 50


def test_commitment_unit_conversion_and_monthly_tariff():
    conn = duckdb.connect()
    staging(conn, products=[
        product("03A01", "03", "04", 60, D(2025, 1, 1)),                  # per hour; allocated in minutes
        product("10A01", "10", "82", 450, D(2025, 1, 1), period="month"),  # one tariff per month
    ])
    mins = dict(product_category="03", product_code="03A01", variant="inspanning", unit="01", frequency="2",
                volume=120.0, start_date=D(2025, 1, 1), end_date=D(2025, 11, 30))
    month = dict(product_category="10", product_code="10A01", variant="output", unit="82", frequency="4",
                 volume=1.0, start_date=D(2025, 1, 1), end_date=D(2025, 12, 31))
    allocation_inputs(conn, D(2025, 10, 31), [
        maxima("MIN", D(2025, 11, 1), 600, **mins),
        maxima("MON", D(2025, 11, 1), 1, **month), maxima("MON", D(2025, 12, 1), 1, **month),
    ], [])
    build(conn, D(2025, 10, 31), "payer_lines", "chain_ladder", "allocation_commitments", "budget_exhaustion")
    be = by(rows(conn, "select * from marts.budget_exhaustion"), "law", "product_category")
    assert set(be) == {("wmo", None)}
    # 600 minutes = 10 hours × €60 = 600; monthly product: 2 months × €450 = 900
    assert float(be[("wmo", None)]["committed_eur"]) == 1500


# §11 timeliness -------------------------------------------------------------------------------------

def calendar_2025() -> list[dict]:
    holidays = {D(2025, 1, 1), D(2025, 4, 21), D(2025, 5, 5), D(2025, 5, 29)}
    days, number, day = [], 0, D(2025, 1, 1)
    while day.year == 2025:
        working = day.weekday() < 5 and day not in holidays
        number += int(working)
        days.append({"day": day, "is_working_day": working, "working_day_number": number})
        day += dt.timedelta(days=1)
    return days


def test_declaration_timeliness_late_lines_and_late_answers():
    conn = duckdb.connect()
    jan, mar = D(2025, 1, 1), D(2025, 3, 1)
    lines = [
        # January lines (period_end 31 Jan; late after 31 Jan + 3 months = 30 Apr), answered the next day
        iwmo(jan, D(2025, 2, 10), 100, answered_on=D(2025, 2, 11)),                  # lag 10
        iwmo(jan, D(2025, 5, 1), 200, answered_on=D(2025, 5, 2)),                    # lag 90, late
        iwmo(jan, D(2025, 4, 30), 300, answered_on=D(2025, 5, 1)),                   # lag 89, on time
        iwmo(jan, D(2025, 5, 20), 50, credit=True, answered_on=D(2025, 5, 21)),      # lag 109, late credit
        # March lines declared Monday 14 April; Easter Monday 21 April is no working day
        iwmo(mar, D(2025, 4, 14), 10, answered_on=D(2025, 4, 29), message="A1"),     # 10 working days: on time
        iwmo(mar, D(2025, 4, 14), 10, answered_on=D(2025, 4, 30), message="A2"),     # 11: late
        iwmo(mar, D(2025, 4, 14), 10, message="A3"),                                 # still missing: late
        iwmo(mar, D(2025, 4, 14), 10, message="A3"),                                 # same message
        iwmo(mar, D(2025, 5, 30), 10, message="A4"),                                 # missing, 0 days: on time
        iwmo(mar, D(2025, 4, 14), 10, answered_on=D(2025, 6, 15), message="A5"),     # answered after as_of
        iwmo(mar, D(2025, 6, 2), 10, message="A6"),                                  # declared after as_of
    ]
    staging(conn, declaration_lines=lines, calendar_days=calendar_2025())
    build(conn, D(2025, 5, 31), "declaration_timeliness")
    t = by(rows(conn, "select * from marts.declaration_timeliness"), "month")
    assert set(t) == {jan, mar}
    assert t[jan]["lines"] == 4
    assert t[jan]["late_lines"] == 2
    assert float(t[jan]["late_amount_eur"]) == 150  # 200 − 50 (net)
    assert t[jan]["median_lag_days"] == pytest.approx(89.5)  # median of 10, 89, 90, 109
    assert t[jan]["late_answers"] == 0
    assert t[mar]["lines"] == 6
    assert t[mar]["late_lines"] == 0  # not late before 30 June
    assert t[mar]["median_lag_days"] == pytest.approx(14)  # 14, 14, 14, 14, 60, 14
    assert t[mar]["late_answers"] == 4          # lines of A2, A3 (two), A5
    assert t[mar]["late_answer_messages"] == 3  # A2, A3, A5
    assert_one_row_per_key(conn, "declaration_timeliness", ("provider_agb", "municipality_code", "month"))


# §12 rejections -------------------------------------------------------------------------------------

def test_rejections_by_return_code_and_category():
    conn = duckdb.connect()
    jan = D(2025, 1, 1)
    rej = D(2025, 2, 10)

    def rejected(amount, codes, **kw):
        return iwmo(jan, D(2025, 2, 3), amount, answered_on=rej, rejected_on=rej, return_codes=codes, **kw)

    lines = [
        rejected(100, "9321"),
        rejected(25, "9321"),
        rejected(50, "9307, 9346"),
        rejected(70, "0233"),
        rejected(30, "0001"),
        rejected(40, "8017", credit=True),
        rejected(11, "9333"),
        rejected(12, "S329"),
        rejected(13, "9384"),
        rejected(14, "9999"),
        iwmo(jan, D(2025, 2, 3), 15, answered_on=rej, rejected_on=D(2025, 4, 2), return_codes="9338"),  # later
        iwmo(jan, D(2025, 2, 3), 16, answered_on=rej),                                                  # approved
    ]
    staging(conn, declaration_lines=lines)
    build(conn, D(2025, 3, 31), "rejections")
    r = by(rows(conn, "select * from marts.rejections"), "return_code")
    expected = {
        "9321": ("volume exceeds allocation", 2, 125),
        "9307": ("period outside allocation", 1, 50),
        "9346": ("tariff or amount", 1, 50),
        "0233": ("whole declaration", 1, 70),
        "0001": ("whole declaration", 1, 30),
        "8017": ("duplicate or credit", 1, -40),
        "9333": ("whole declaration", 1, 11),
        "S329": ("product or unit", 1, 12),
        "9384": ("no valid allocation", 1, 13),
        "9999": ("other", 1, 14),
    }
    assert {code: (row["category"], row["lines"], float(row["amount_eur"])) for code, row in r.items()} == expected
    assert_one_row_per_key(conn, "rejections", ("provider_agb", "municipality_code", "month", "return_code"))


# §13 quarantine --------------------------------------------------------------------------------------

def test_quarantine_summary_reconciles_and_reasons():
    conn = duckdb.connect()
    t0, t1 = T(2025, 1, 1, 9), T(2025, 2, 1, 9)
    manifest = [
        {"source_file": "a.csv", "kind": "declarations", "sha256": "x1", "loaded_at": t0,
         "rows_received": 9, "rows_loaded": 9, "rows_quarantined": 0, "status": "loaded"},
        # the corrected a.csv replaces it: the latest load counts
        {"source_file": "a.csv", "kind": "declarations", "sha256": "x2", "loaded_at": t1,
         "rows_received": 10, "rows_loaded": 7, "rows_quarantined": 3, "status": "loaded"},
        {"source_file": "b.csv", "kind": "allocations", "sha256": "y", "loaded_at": t0,
         "rows_received": 5, "rows_loaded": 5, "rows_quarantined": 0, "status": "loaded"},
        # 7 ≠ 5 + 1: the reconciliation fails
        {"source_file": "c.csv", "kind": "answers", "sha256": "z", "loaded_at": t0,
         "rows_received": 7, "rows_loaded": 5, "rows_quarantined": 1, "status": "loaded"},
    ]
    quarantine = [
        {"source_file": "a.csv", "kind": "declarations", "source_row": 7, "reason_code": "CODE",
         "reason_text": "row 7: unit 99 not in WJ756"},
        {"source_file": "a.csv", "kind": "declarations", "source_row": 3, "reason_code": "CODE",
         "reason_text": "row 3: unit 98 not in WJ756"},
        {"source_file": "a.csv", "kind": "declarations", "source_row": 5, "reason_code": "BSN",
         "reason_text": "invalid BSN"},
        {"source_file": "c.csv", "kind": "answers", "source_row": 2, "reason_code": "DATE",
         "reason_text": "date in the future"},
        # a file refused as a whole, never in the manifest
        {"source_file": "d.xml", "kind": "iwmo", "source_row": None, "reason_code": "XSD",
         "reason_text": "fails its XSD"},
    ]
    staging(conn, manifest=manifest, quarantine=quarantine)
    build(conn, D(2025, 3, 31), "quarantine_summary", "quarantine_reasons")
    s = by(rows(conn, "select * from marts.quarantine_summary"), "source_file")
    assert set(s) == {"a.csv", "b.csv", "c.csv", "d.xml"}
    assert (s["a.csv"]["rows_received"], s["a.csv"]["rows_loaded"], s["a.csv"]["rows_quarantined"]) == (10, 7, 3)
    assert s["a.csv"]["quarantine_records"] == 3
    assert s["a.csv"]["is_reconciled"] and s["b.csv"]["is_reconciled"]
    assert not s["c.csv"]["is_reconciled"]
    assert s["d.xml"]["kind"] == "iwmo" and s["d.xml"]["quarantine_records"] == 1
    assert not s["d.xml"]["is_reconciled"]
    reasons = by(rows(conn, "select * from marts.quarantine_reasons"), "source_file", "reason_code")
    assert {k: v["rows"] for k, v in reasons.items()} == {
        ("a.csv", "CODE"): 2, ("a.csv", "BSN"): 1, ("c.csv", "DATE"): 1, ("d.xml", "XSD"): 1,
    }
    assert reasons[("a.csv", "CODE")]["reason_text"] == "row 3: unit 98 not in WJ756"  # first row's text
    assert_one_row_per_key(conn, "quarantine_summary", ("source_file",))
    assert_one_row_per_key(conn, "quarantine_reasons", ("source_file", "reason_code"))


def test_legacy_line_crossing_months_is_split_pro_rata():
    conn = duckdb.connect()
    # a four-weekly legacy line 20 Jan–16 Feb (28 days): 12 days in January, 16 in February
    lines = [iwmo(D(2025, 1, 20), D(2025, 3, 3), 280, hours=28, period_end=D(2025, 2, 16),
                  answered_on=D(2025, 3, 5))]
    staging(conn, declaration_lines=lines)
    build(conn, D(2025, 3, 31), "payer_lines", "chain_ladder", "hours_per_client_month")
    cl = by(rows(conn, "select * from marts.chain_ladder"), "month")
    assert float(cl[D(2025, 1, 1)]["declared_eur"]) == 120  # 280 × 12 / 28
    assert float(cl[D(2025, 2, 1)]["declared_eur"]) == 160  # 280 × 16 / 28
    hours = by(rows(conn, "select * from marts.hours_per_client_month"), "month")
    assert hours[D(2025, 1, 1)]["hours"] == pytest.approx(12)
    assert hours[D(2025, 2, 1)]["hours"] == pytest.approx(16)


# §14 forecast history ------------------------------------------------------------------------------

def test_forecast_history_is_the_same_sql_at_every_month_end_with_its_error():
    from pipeline.assets.forecast_history import build_forecast_history, month_ends

    conn = duckdb.connect()
    # insurer 3311, provider P: €1,000 a month January–June 2025, €1,200 July–December, each declared
    # in its own month (every development factor is 1); ceiling €10,000 in 2025 and 2026.
    # municipality 0363 wmo: €300 a month in 2025, approved; budget €5,000; no allocations.
    zl = [zvw("P", D(2025, m, 10), T(2025, m, 20, 9), 1000 if m <= 6 else 1200) for m in range(1, 13)]
    il = [iwmo(D(2025, m, 1), D(2025, m, 25), 300, answered_on=D(2025, m, 27)) for m in range(1, 13)]
    staging(conn, zvw_lines=zl, declaration_lines=il, cak_periods=cak_periods_rule_a(2025) + cak_periods_rule_a(2026),
            ceilings=[ceiling("3311", "P", 10000), ceiling("3311", "P", 10000, year=2026)],
            budgets=[{"municipality_code": "0363", "year": 2025, "law": "wmo", "product_category": None,
                      "budget_eur": 5000}])
    as_of = D(2026, 3, 31)
    settings = MetricSettings()
    names = ("payer_lines", "chain_ladder", "ceiling_position", "allocation_version_months",
             "allocation_commitments", "budget_exhaustion")
    build(conn, as_of, *names)
    assert month_ends(as_of)[0] == D(2025, 1, 31) and month_ends(as_of)[-1] == as_of
    assert len(month_ends(as_of)) == 15  # January 2025 … February 2026, and as_of
    assert build_forecast_history(conn, settings, as_of)[1] == 15
    hist = by(rows(conn, "select * from marts.forecast_history where scope = 'ceiling'"), "forecast_as_of")
    assert len(hist) == 15

    # 30 June: realised 6,000; projected 6,000 + 1,000 × 6 = 12,000 > 10,000. The outcome of 2025 is
    # 6 × 1,000 + 6 × 1,200 = 13,200: error −1,200, 1,200 / 13,200 = 9.09%
    june = hist[D(2025, 6, 30)]
    assert june["months_before_year_end"] == 6 and june["year"] == 2025
    assert float(june["projected_eur"]) == 12000 and float(june["limit_eur"]) == 10000
    assert june["alert"] == "projected_over"
    assert float(june["outcome_eur"]) == 13200
    assert float(june["error_eur"]) == -1200
    assert june["abs_pct_error"] == pytest.approx(1200 / 13200)
    # 30 September: realised 9,600 (share 0.96), projected 9,600 + 1,200 × 3 = 13,200: error 0
    sep = hist[D(2025, 9, 30)]
    assert float(sep["projected_eur"]) == 13200 and float(sep["error_eur"]) == 0
    assert sep["alert"] == "projected_over"
    # 31 October: 10,800 ≥ 10,000, reached with the October lines
    assert hist[D(2025, 10, 31)]["alert"] == "reached"
    # 2026: nothing declared, no outcome yet (the year has not ended)
    assert float(hist[as_of]["projected_eur"]) == 0 and hist[as_of]["outcome_eur"] is None
    assert hist[as_of]["months_before_year_end"] == 9

    # the same SQL with another as_of: the row of 30 June is what ceiling_position says at 30 June
    build(conn, D(2025, 6, 30), "payer_lines", "chain_ladder", "ceiling_position")
    (pos,) = rows(conn, "select * from marts.ceiling_position")
    assert pos["projected_year_end_eur"] == june["projected_eur"] and pos["alert"] == june["alert"]

    # the budget at 30 June: approved 1,800, nothing pending, late or committed (no allocations):
    # forecast 1,800 against an outcome of 3,600, error −1,800 (50%): §10 extrapolates only allocations
    (bj,) = rows(conn, "select * from marts.forecast_history where scope = 'budget' and forecast_as_of = '2025-06-30'")
    assert bj["municipality_code"] == "0363" and bj["law"] == "wmo" and bj["product_category"] is None
    assert float(bj["projected_eur"]) == 1800 and float(bj["outcome_eur"]) == 3600
    assert bj["abs_pct_error"] == pytest.approx(0.5)
    assert bj["alert"] == "ok"
    assert_one_row_per_key(conn, "forecast_history", ("scope", "payer_code", "provider_agb", "law",
                                                      "product_category", "year", "forecast_as_of"))

    # a line of September corrected afterwards changes the month ends from September on; June keeps its
    # projection and gets the new outcome
    conn.execute("update staging.zvw_lines set amount_eur = 1500, net_amount_eur = 1500 "
                 "where service_start = '2025-09-10'")
    build(conn, as_of, *names)
    build_forecast_history(conn, settings, as_of)
    after = by(rows(conn, "select * from marts.forecast_history where scope = 'ceiling'"), "forecast_as_of")
    # realised 9,900; projected 9,900 + 3 × (1,200 + 1,200 + 1,500) / 3 = 13,800
    assert float(after[D(2025, 9, 30)]["projected_eur"]) == 13800
    assert after[D(2025, 6, 30)] == {**june, "outcome_eur": after[D(2025, 6, 30)]["outcome_eur"],
                                     "error_eur": after[D(2025, 6, 30)]["error_eur"],
                                     "abs_pct_error": after[D(2025, 6, 30)]["abs_pct_error"]}
    assert float(after[D(2025, 6, 30)]["outcome_eur"]) == 13500

    # a line of May 2025 answered on 15 February 2026 is pending at the month ends before the answer:
    # the budget's approved amount at 31 May 2025 lacks its 300 (realised 1,200, not 1,500)
    conn.execute("update staging.declaration_lines set answered_on = '2026-02-15' where period_start = '2025-05-01'")
    build(conn, as_of, *names)
    build_forecast_history(conn, settings, as_of)
    budget = by(rows(conn, "select * from marts.forecast_history where scope = 'budget' and year = 2025"),
                "forecast_as_of")
    assert float(budget[D(2025, 5, 31)]["realised_eur"]) == 1200
    assert float(budget[D(2025, 12, 31)]["realised_eur"]) == 3300
    assert float(budget[D(2025, 12, 31)]["outcome_eur"]) == 3600  # approved by as_of
