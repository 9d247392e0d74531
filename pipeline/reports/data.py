"""Read the `marts` tables (and two staging columns sets) into polars frames for the reports.

Everything is read first, into a plain :class:`ReportData`; the figure builders and writers never
touch the database. Columns that could identify a client are dropped on the way in.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import duckdb
import polars as pl

S, F, I, D, B = pl.String, pl.Float64, pl.Int64, pl.Date, pl.Boolean

# table -> (required columns, optional columns). Required ones are metrics.md's public interface
# (plus the key columns every row needs); optional ones are filled with nulls when absent.
MART_COLUMNS: dict[str, tuple[dict[str, pl.DataType], dict[str, pl.DataType]]] = {
    "budget_exhaustion": (
        {"municipality_code": S, "law": S, "product_category": S, "year": I, "budget_eur": F,
         "approved_eur": F, "pending_eur": F, "expected_late_eur": F, "committed_eur": F,
         "forecast_eur": F, "exhaustion": F},
        {},
    ),
    "allocation_months": (
        {"municipality_code": S, "law": S, "allocation_number": S, "provider_agb": S,
         "product_category": S, "product_code": S, "month": D, "max_volume": F,
         "delivered_volume": F, "declared_volume": F, "approved_amount_eur": F,
         "utilisation": F, "period_overshoot": B},
        {},
    ),
    "allocation_totals": (
        {"municipality_code": S, "law": S, "allocation_number": S, "total_max_volume": F,
         "delivered_volume": F, "utilisation": F, "total_overshoot": B, "peak_months": I,
         "compensated_peak_months": I, "peak_excess_volume": F, "underused": B,
         "underuse_reason": S, "suggested_product_code": S},
        {"provider_agb": S, "product_category": S, "product_code": S, "committed_eur": F,
         "start_date": D, "end_date": D},
    ),
    "band_utilisation": (
        {"product_code": S, "band_position": F, "band_class": S},
        {"municipality_code": S, "law": S, "allocation_number": S, "provider_agb": S,
         "product_category": S, "weeks_in_care": F, "hours_per_week": F},
    ),
    "rekenfactor": (
        {"grain": S, "product_code": S, "allocations": I, "indicated_hours": F,
         "realised_hours": F, "implied_rekenfactor": F, "contract_rekenfactor": F,
         "unused_share": F, "budget_effect_eur": F},
        {"provider_agb": S, "municipality_code": S, "approved_amount_eur": F},
    ),
    "ceiling_position": (
        {"payer_code": S, "provider_agb": S, "year": I, "ceiling_eur": F, "realised_eur": F,
         "share": F, "ceiling_reached_on": D, "paid_eur": F, "above_ceiling_eur": F,
         "expected_late_eur": F, "expected_ultimate_eur": F, "projected_year_end_eur": F,
         "projected_run_out_date": D, "alert": S, "request_increase_by": D},
        {"payer_kind": S, "policy": S},
    ),
    "hours_per_client_month": (
        {"payer_code": S, "provider_agb": S, "month": D, "hours": F, "clients": I,
         "hours_per_client": F},
        {},
    ),
    "hours_agreement": (
        {"payer_code": S, "provider_agb": S, "year": I, "hours": F, "client_months": I,
         "avg_hours_per_client_month": F, "max_hours_per_client_month": F, "excess_hours": F,
         "avg_hourly_tariff_eur": F, "expected_reclaim_eur": F, "avg_hours_full_months": F},
        {},
    ),
    "declaration_timeliness": (
        {"provider_agb": S, "municipality_code": S, "month": D, "lines": I, "late_lines": I,
         "late_amount_eur": F, "median_lag_days": F, "late_answers": I},
        {"law": S, "product_category": S, "missing_answers": I},
    ),
    "rejections": (
        {"provider_agb": S, "municipality_code": S, "month": D, "return_code": S, "lines": I,
         "amount_eur": F, "category": S},
        {"law": S, "product_category": S},
    ),
    "quarantine_summary": (
        {"source_file": S, "kind": S, "rows_received": I, "rows_loaded": I,
         "rows_quarantined": I},
        {"status": S},
    ),
    "quarantine_reasons": (
        {"source_file": S, "reason_code": S, "reason_text": S, "rows": I},
        {},
    ),
}

# read from staging with an explicit column list (never client_id)
ZVW_COLUMNS: dict[str, pl.DataType] = {
    "insurer_code": S, "provider_agb": S, "submitted_on": D, "net_amount_eur": F, "status": S,
    "month": D,
}

# a column whose name matches this never leaves read_report_data
# (client-level keys; aggregates such as ``clients`` or ``hours_per_client`` are fine)
_CLIENT_COLUMN = re.compile(
    r"^(client_(id|key|bsn|ref|reference|number|pseudonym)|bsn|clientnummer|burgerservicenummer)$|_bsn$",
    re.IGNORECASE,
)


@dataclasses.dataclass(frozen=True)
class ReportData:
    """Every frame the reports read, as known at ``as_of``."""

    as_of: dt.date
    marts: dict[str, pl.DataFrame]
    zvw_lines: pl.DataFrame
    refused_files: pl.DataFrame  # source_file, reason_text
    latest_declared_on: dt.date | None
    latest_submitted_on: dt.date | None

    def __getitem__(self, table: str) -> pl.DataFrame:
        return self.marts[table]


def conform(frame: pl.DataFrame, table: str) -> pl.DataFrame:
    """Check the required columns, add missing optional ones, cast, drop client columns."""
    required, optional = MART_COLUMNS[table]
    missing = sorted(set(required) - set(frame.columns))
    if missing:
        raise KeyError(f"marts.{table} lacks the columns {missing}")
    return _conform(frame, {**required, **optional})


def _conform(frame: pl.DataFrame, columns: dict[str, pl.DataType]) -> pl.DataFrame:
    frame = frame.drop([c for c in frame.columns if _CLIENT_COLUMN.search(c)])
    frame = frame.with_columns(
        pl.lit(None, dtype=dtype).alias(name)
        for name, dtype in columns.items()
        if name not in frame.columns
    )
    extra = [c for c in frame.columns if c not in columns]
    return frame.select(
        *(pl.col(name).cast(dtype) for name, dtype in columns.items()),
        *extra,
    )


def empty_frame(table: str) -> pl.DataFrame:
    required, optional = MART_COLUMNS[table]
    return pl.DataFrame(schema={**required, **optional})


def _table_exists(conn: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    rows = conn.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchall()  # fetchall completes the result (duckdb 2.0 refuses new work on an open one)
    return bool(rows[0][0])


def _columns(conn: duckdb.DuckDBPyConnection, schema: str, table: str) -> set[str]:
    rows = conn.execute(
        "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchall()
    return {r[0] for r in rows}


def read_report_data(conn: duckdb.DuckDBPyConnection, as_of: dt.date) -> ReportData:
    """Read every table the reports need. Missing marts tables are an error; empty ones are fine."""
    marts: dict[str, pl.DataFrame] = {}
    for table in MART_COLUMNS:
        if not _table_exists(conn, "marts", table):
            raise LookupError(f"marts.{table} does not exist; materialise the marts first")
        # table names come from the fixed MART_COLUMNS keys, never from input
        marts[table] = conform(conn.sql(f"select * from marts.{table}").pl(), table)

    zvw = pl.DataFrame(schema=ZVW_COLUMNS)
    latest_submitted = None
    if _table_exists(conn, "staging", "zvw_lines"):
        zvw = _conform(
            conn.sql(
                """
                select insurer_code, provider_agb, cast(submitted_on as date) as submitted_on,
                       cast(net_amount_eur as double) as net_amount_eur, status, month
                from staging.zvw_lines
                where cast(submitted_on as date) <= ?
                """,
                params=[as_of],
            ).pl(),
            ZVW_COLUMNS,
        )
        latest_submitted = zvw["submitted_on"].max()

    latest_declared = None
    if _table_exists(conn, "staging", "declaration_lines"):
        latest_declared = conn.execute(
            "select max(declared_on) from staging.declaration_lines where declared_on <= ?",
            [as_of],
        ).fetchall()[0][0]

    refused = pl.DataFrame(schema={"source_file": S, "reason_text": S})
    if _table_exists(conn, "raw", "manifest") and {"status"} <= _columns(conn, "raw", "manifest"):
        has_quarantine = _table_exists(conn, "raw", "quarantine")
        reason = (
            "(select string_agg(distinct q.reason_text, '; ' order by q.reason_text) "
            "from raw.quarantine q where q.source_file = m.source_file and q.source_row is null)"
            if has_quarantine
            else "null"
        )
        refused = conn.sql(
            f"select m.source_file, {reason} as reason_text from raw.manifest m "
            "where m.status = 'refused' order by m.source_file"
        ).pl().cast({"source_file": S, "reason_text": S})
    else:
        summary = marts["quarantine_summary"]
        refused = (
            summary.filter(pl.col("status") == "refused")
            .join(
                marts["quarantine_reasons"]
                .group_by("source_file")
                .agg(pl.col("reason_text").unique().sort().str.join("; ")),
                on="source_file",
                how="left",
            )
            .select("source_file", "reason_text")
            .sort("source_file")
        )

    return ReportData(
        as_of=as_of,
        marts=marts,
        zvw_lines=zvw,
        refused_files=refused,
        latest_declared_on=_as_date(latest_declared),
        latest_submitted_on=_as_date(latest_submitted),
    )


def _as_date(value) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    return value
