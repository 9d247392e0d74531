"""Load a named SQL file and run it with named parameters."""

from __future__ import annotations

import re
from functools import cache

import duckdb

from pipeline.paths import SQL_DIR

_PARAM = re.compile(r"\$([a-z_][a-z0-9_]*)")
TABLE_REF = re.compile(r"\b(raw|staging|marts)\.([a-z_][a-z0-9_]*)\b")  # a table a SQL file names


@cache
def sql_text(schema: str, name: str) -> str:
    """The text of ``sql/<schema>/<name>.sql`` (one select statement, no trailing semicolon)."""
    return (SQL_DIR / schema / f"{name}.sql").read_text(encoding="utf-8").strip().rstrip(";")


def used_params(text: str, params: dict[str, object]) -> dict[str, object]:
    """Only the parameters the statement names: DuckDB refuses surplus ones."""
    names = set(_PARAM.findall(text))
    missing = names - params.keys()
    if missing:
        raise KeyError(f"SQL needs parameters {sorted(missing)} that were not given")
    return {k: v for k, v in params.items() if k in names}


# Calendar arithmetic the models share, on day numbers (nothing is expanded into days); created
# as temporary macros on the connection before every model runs.
MACROS = """
-- ISO weeks (Monday to Sunday) touched by the days d0..d1: 1900-01-01 was a Monday.
create or replace temp macro iso_weeks_touched(d0, d1) as
    date_diff('day', date '1900-01-01', d1) // 7 - date_diff('day', date '1900-01-01', d0) // 7 + 1;

-- Sundays among the days d0..d1: 1899-12-31 was a Sunday.
create or replace temp macro sundays_between(d0, d1) as
    date_diff('day', date '1899-12-31', d1) // 7 - (date_diff('day', date '1899-12-31', d0) - 1) // 7;

-- Calendar months touched by the days d0..d1.
create or replace temp macro months_touched(d0, d1) as
    (year(d1) * 12 + month(d1)) - (year(d0) * 12 + month(d0)) + 1;

-- metrics.md §3: the maximum volume over the days d0..d1 of an allocation of this frequency, variant
-- and volume that ends on end_date (null = open-ended). Per day: v x days; per week (inspanning):
-- v x ISO weeks touched; per week (output): v x Sundays, + 1 when the allocation's last Sunday lies
-- in d0..d1 and it does not end on a Sunday; per month: v x months touched; in total: v. Null
-- without a volume and for variants other than inspanning and output. The monthly maximum, the
-- total over the allocation, the yearly allowance and the observed part (§1) all use it; the
-- monthly exceptions (huishoudelijke hulp 6 x v, no monthly maximum of a total volume) stay in the
-- model.
create or replace temp macro volume_maximum(frequency, variant, volume, d0, d1, end_date) as
    case
        when volume is null or variant not in ('inspanning', 'output') then null
        when frequency = '1' then volume * (date_diff('day', d0, d1) + 1)
        when frequency = '2' and variant = 'inspanning' then volume * iso_weeks_touched(d0, d1)
        when frequency = '2' and variant = 'output'
            then volume * (
                sundays_between(d0, d1)
                + case
                    when isodow(cast(end_date as date)) <> 7
                        and cast(end_date as date) - cast(isodow(cast(end_date as date)) as integer)
                            between d0 and d1
                        then 1
                    else 0
                end
            )
        when frequency = '4' then volume * months_touched(d0, d1)
        when frequency = '6' then volume
    end;

-- the status at the reporting date t of a line of marts.payer_lines (t no later than the mart's
-- $as_of): a municipal line's from its answer and rejection days, as payer_lines derives it at
-- $as_of; an insurer line's status is delivered with it.
create or replace temp macro status_at(payer_kind, status, answered_on, rejected_on, t) as
    case
        when payer_kind = 'insurer' then status
        when rejected_on <= t then 'rejected'
        when answered_on <= t then 'approved'
        else 'pending'
    end;

-- metrics.md §10: hours per unit of the time units (minutes, hours, dagdelen of 4 hours); null for
-- the others. A volume in one unit is priced per another by the ratio (1 without one).
create or replace temp macro unit_hours(unit) as
    case unit when '01' then 1.0 / 60.0 when '04' then 1.0 when '16' then 4.0 end;

-- metrics.md §10: what a month of a volume allocation commits before the expected utilisation: its
-- maximum in euros (unit 83), or the product's monthly tariff, or maximum x tariff per product unit.
create or replace temp macro month_commitment_eur(unit, product_unit, tariff_period, max_volume, tariff_eur) as
    case
        when unit = '83' then max_volume
        when tariff_period = 'month' then cast(tariff_eur as double)
        else max_volume * coalesce(unit_hours(unit) / unit_hours(product_unit), 1) * cast(tariff_eur as double)
    end;

-- metrics.md §12: the analysis category of an iWmo/iJw return code (../shared/reference/iwmo/README.md
-- §4.7); 0001, 0233 (not assessed because its client or declaration was in error) and the
-- declaration-level codes are 'whole declaration'.
create or replace temp macro return_code_category(code) as
    case
        when code in ('9321', '9322', '9369') then 'volume exceeds allocation'
        when code in ('9307', '9308', '9387', '9388', '9319') then 'period outside allocation'
        when code in ('0611', '9346') then 'tariff or amount'
        when code in ('9338', '9384', '8187') then 'no valid allocation'
        when code in ('9339', '9340', '9341', 'S329') then 'product or unit'
        when code in ('8021', '9389', '9390', '8017') then 'duplicate or credit'
        when code in ('0001', '0233', '9333', '8214', '8848', 'S300', '9056') then 'whole declaration'
        else 'other'
    end;

-- metrics.md §4: a line rejected only because it exceeds the allocation: every code of its
-- rejection (comma-separated) is of category 'volume exceeds allocation'; false without codes.
create or replace temp macro rejected_for_volume_only(return_codes) as
    coalesce(
        list_bool_and(
            list_transform(
                list_filter(string_split(return_codes, ','), lambda c: trim(c) <> ''),
                lambda c: return_code_category(upper(trim(c))) = 'volume exceeds allocation'
            )
        ),
        false
    );
"""


def build_table(
    conn: duckdb.DuckDBPyConnection, schema: str, name: str, params: dict[str, object] | None = None
) -> int:
    """Create or replace ``schema.name`` from its SQL file; return its row count."""
    text = sql_text(schema, name)
    conn.execute(MACROS)
    conn.execute(f"create schema if not exists {schema}")
    conn.execute(
        f"create or replace table {schema}.{name} as {text}", used_params(text, params or {})
    )
    return fetch_one(conn, f"select count(*) from {schema}.{name}")[0]


def fetch_one(conn: duckdb.DuckDBPyConnection, query: str, params=None) -> tuple | None:
    """First row of a query, consuming the whole result.

    duckdb 2.0 keeps a result open after ``fetchone()`` and refuses other work on the
    connection until it is consumed, so small lookups fetch everything.
    """
    rows = conn.execute(query, params or []).fetchall()
    return rows[0] if rows else None
