"""Read what the reports show from the `marts` tables (and two staging tables) into polars frames.

Everything is read first, into a plain :class:`ReportData`; the figure builders and writers never
touch the database. DuckDB filters and aggregates to the grain the pages show, so memory follows
the size of the reports, not of the data: a figure gets its aggregate, a follow-up list its flagged
rows with the columns it shows, a small mart (a row per provider, payer, file or product and month
at most) its rows of the reporting year. Client columns are never selected.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import duckdb
import polars as pl

from .tables import (
    ALLOCATION_KEY,
    SHOWN_CEILING_PROVIDERS,
    TOP_PROVIDERS,
    ceiling_order,
    first_of_twelve_months,
)

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
        {"requested_volume": F},
    ),
    "allocation_totals": (
        {"municipality_code": S, "law": S, "allocation_number": S, "total_max_volume": F,
         "delivered_volume": F, "utilisation": F, "total_overshoot": B, "peak_months": I,
         "compensated_peak_months": I, "peak_excess_volume": F, "underused": B,
         "underuse_reason": S, "suggested_product_code": S},
        {"provider_agb": S, "product_category": S, "product_code": S, "committed_eur": F,
         "start_date": D, "end_date": D, "requested_volume": F, "mature_utilisation": F,
         "mature_months": I},
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
        {"law": S, "product_category": S, "primary": B},
    ),
    "quarantine_summary": (
        {"source_file": S, "kind": S, "rows_received": I, "rows_loaded": I,
         "rows_quarantined": I},
        {"status": S, "loaded_at": pl.Datetime},
    ),
    "quarantine_reasons": (
        {"source_file": S, "reason_code": S, "reason_text": S, "rows": I},
        {},
    ),
}

# approved wijkverpleging euros per insurer, provider and submission day (never client_id)
REALISATION_COLUMNS: dict[str, pl.DataType] = {
    "insurer_code": S, "provider_agb": S, "submitted_on": D, "net_amount_eur": F,
}

# a column whose name matches this is never kept by conform
# (client-level keys; aggregates such as ``clients`` or ``hours_per_client`` are fine)
_CLIENT_COLUMN = re.compile(
    r"^(client_(id|key|bsn|ref|reference|number|pseudonym)|bsn|clientnummer|burgerservicenummer)$|_bsn$",
    re.IGNORECASE,
)


SQL_TYPES: dict[pl.DataType, str] = {S: "varchar", F: "double", I: "bigint", D: "date", B: "boolean",
                                     pl.Datetime: "timestamp"}

# metrics.md §14, built by a concurrent change: read when the table exists
FORECAST_HISTORY_COLUMNS: dict[str, pl.DataType] = {
    "scope": S, "payer_code": S, "provider_agb": S, "municipality_code": S, "law": S, "product_category": S,
    "year": I, "forecast_as_of": D, "months_before_year_end": I, "projected_eur": F, "limit_eur": F,
    "alert": S, "outcome_eur": F, "error_eur": F, "abs_pct_error": F,
}

# marts read row by row: table -> (columns, or None for all of MART_COLUMNS; filter on $year, $as_of,
# $first_month). Each holds a row per provider, payer, file or product (and month) at most.
ROW_READS: dict[str, tuple[tuple[str, ...] | None, str]] = {
    "budget_exhaustion": (None, "year = $year"),
    "band_utilisation": (("product_code", "band_position", "band_class", "municipality_code", "hours_per_week"), "true"),  # a point per allocation is drawn
    "rekenfactor": (None, "true"),  # a row per product and municipality or provider
    "ceiling_position": (None, "year = $year"),
    "hours_per_client_month": (None, "year(month) = $year and month <= $as_of"),
    "hours_agreement": (None, "year = $year"),
    "declaration_timeliness": (None, "month >= $first_month and month <= $as_of"),
    "rejections": (None, "month >= $first_month and month <= $as_of"),
    "quarantine_summary": (None, "true"),
    "quarantine_reasons": (None, "true"),
}

# columns outside MART_COLUMNS that a report query reads when the mart has them
SOURCE_EXTRAS: dict[str, tuple[str, ...]] = {"allocation_totals": ("approved_amount_eur",)}

ALLOCATION_COLUMNS = (*ALLOCATION_KEY, "provider_agb", "product_category", "product_code")


@dataclasses.dataclass(frozen=True)
class AllocationFigures:
    """The allocation figures, aggregated in DuckDB; ``region`` marks the rows of the whole region.

    The three lists hold the enriched allocations (see :func:`tables.enrich_totals`) or allocation
    months of the as-of year that are flagged; the rest are aggregates per municipality and region.
    """

    real_overshoots: pl.DataFrame  # allocations with a total overshoot
    underused: pl.DataFrame  # under-used allocations
    period_overshoots: pl.DataFrame  # allocation months of the year above their maximum
    compensation: pl.DataFrame  # key, peak_months, compensated_peak_months of those allocations
    compensated_peaks: pl.DataFrame  # region, municipality_code, count, eur
    peaks: pl.DataFrame  # product_category, compensated/not_compensated months and euros (region)
    spend: pl.DataFrame  # region, municipality_code, law, month, approved_amount_eur
    spend_providers: pl.DataFrame  # region, municipality_code, provider_agb, approved_amount_eur (top N)
    overshoot_providers: pl.DataFrame  # region, municipality_code, provider_agb, excess_eur (top N)


@dataclasses.dataclass(frozen=True)
class ReportData:
    """Every frame the reports read, as known at ``as_of``."""

    as_of: dt.date
    marts: dict[str, pl.DataFrame]  # the small marts of ROW_READS
    allocations: AllocationFigures
    realisation: pl.DataFrame  # REALISATION_COLUMNS, for the providers a Plafondmonitor draws
    municipalities: list[str]
    insurers: list[str]
    refused_files: pl.DataFrame  # source_file, reason_text
    latest_declared_on: dt.date | None
    latest_submitted_on: dt.date | None
    organisations: pl.DataFrame = dataclasses.field(
        default_factory=lambda: pl.DataFrame(schema={"kind": S, "code": S, "name": S}))
    forecast_history: pl.DataFrame | None = None  # None: the mart does not exist (yet)
    signals: pl.DataFrame | None = None  # §15 per municipality, provider, signal: lines, amount_eur (12 months)
    stop_messages: pl.DataFrame | None = None  # §15 per provider, municipality, month
    signal_lines: pl.DataFrame | None = None  # §15 one row per line × signal (the workbook's sheets)
    refused_detail: pl.DataFrame | None = None  # source_file, reason_code, message

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


def mart_types(table: str) -> dict[str, pl.DataType]:
    """Every column of a marts table the reports know, with its polars type."""
    required, optional = MART_COLUMNS[table]
    return {**required, **optional}


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


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _used(query: str, params: dict[str, object]) -> dict[str, object]:
    """The named parameters ($name) the query uses: DuckDB refuses unused ones."""
    used = set(re.findall(r"\$(\w+)", query))
    return {k: v for k, v in params.items() if k in used}


def fetch(conn: duckdb.DuckDBPyConnection, query: str, params: dict[str, object]) -> pl.DataFrame:
    """Run one report query into a polars frame."""
    return conn.sql(query, params=_used(query, params)).pl()


@dataclasses.dataclass(frozen=True)
class _Marts:
    """The marts tables as SQL: a subquery per table with every MART_COLUMNS column, raw types."""

    sources: dict[str, str]
    present: dict[str, set[str]]

    @classmethod
    def check(cls, conn: duckdb.DuckDBPyConnection) -> _Marts:
        sources, present = {}, {}
        for table, (required, optional) in MART_COLUMNS.items():
            if not _table_exists(conn, "marts", table):
                raise LookupError(f"marts.{table} does not exist; materialise the marts first")
            columns = _columns(conn, "marts", table)
            missing = sorted(set(required) - columns)
            if missing:
                raise KeyError(f"marts.{table} lacks the columns {missing}")
            # table and column names come from the fixed MART_COLUMNS, never from input
            select = ", ".join([
                *(_ident(name) if name in columns else f"cast(null as {SQL_TYPES[dtype]}) as {_ident(name)}"
                  for name, dtype in {**required, **optional}.items()),
                *(_ident(name) for name in SOURCE_EXTRAS.get(table, ()) if name in columns),
            ])
            sources[table] = f"(select {select} from marts.{_ident(table)})"
            present[table] = columns
        return cls(sources, present)

    def __getitem__(self, table: str) -> str:
        return self.sources[table]


def read_report_data(conn: duckdb.DuckDBPyConnection, as_of: dt.date) -> ReportData:
    """Read what the reports show. Missing marts tables are an error; empty ones are fine."""
    marts = _Marts.check(conn)
    params = {"as_of": as_of, "year": as_of.year, "first_month": first_of_twelve_months(as_of)}

    frames: dict[str, pl.DataFrame] = {}
    for table, (columns, where) in ROW_READS.items():
        types = mart_types(table)
        if columns is not None:
            types = {c: types[c] for c in columns}
        select = ", ".join(_ident(c) for c in types)
        # in the order of all columns: sums of doubles over these rows then add up in the same order on
        # every run, so a rerun writes the same bytes (DuckDB returns rows in any order on two threads)
        frames[table] = _conform(
            fetch(conn, f"select {select} from {marts[table]} where {where}", params), types
        ).sort(list(types), nulls_last=True)

    allocations = _read_allocations(conn, marts, params)
    municipalities = fetch(conn, MUNICIPALITIES_SQL.format(**marts.sources), params)["municipality_code"]
    insurers = set(fetch(conn, INSURERS_SQL.format(**marts.sources), params)["payer_code"].to_list())

    # the Plafondmonitor draws the realisation of the first providers of each insurer's ceiling table
    shown = ceiling_order(frames["ceiling_position"]).group_by("payer_code", maintain_order=True).head(
        SHOWN_CEILING_PROVIDERS).drop_nulls(["payer_code", "provider_agb"])
    realisation = pl.DataFrame(schema=REALISATION_COLUMNS)
    latest_submitted = None
    if _table_exists(conn, "staging", "zvw_lines"):
        realisation = _conform(fetch(conn, REALISATION_SQL, {
            **params, "insurers": shown["payer_code"].to_list(), "providers": shown["provider_agb"].to_list(),
        }), REALISATION_COLUMNS)
        zvw = fetch(conn, ZVW_SUMMARY_SQL, params)
        insurers |= set(zvw["insurer_code"].drop_nulls().to_list())
        latest_submitted = zvw["latest_submitted_on"].max()

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
        refused = fetch(
            conn,
            f"select m.source_file, {reason} as reason_text from raw.manifest m "
            "where m.status = 'refused' order by m.source_file",
            params,
        ).cast({"source_file": S, "reason_text": S})
    else:
        summary = frames["quarantine_summary"]
        refused = (
            summary.filter(pl.col("status") == "refused")
            .join(
                frames["quarantine_reasons"]
                .group_by("source_file")
                .agg(pl.col("reason_text").unique().sort().str.join("; ")),
                on="source_file",
                how="left",
            )
            .select("source_file", "reason_text")
            .sort("source_file")
        )

    organisations = pl.DataFrame(schema={"kind": S, "code": S, "name": S})
    if _table_exists(conn, "staging", "organisations"):
        organisations = fetch(conn, "select kind, code, name from staging.organisations order by kind, code",
                              params).cast({"kind": S, "code": S, "name": S})
    if _table_exists(conn, "staging", "products") and {"product_code", "description"} <= _columns(conn, "staging", "products"):
        # a product's name: its description in the products reference table (the latest version)
        products = fetch(conn, "select 'product' as kind, product_code as code, "
                               "arg_max(description, valid_from) as name from staging.products "
                               "where description is not null group by product_code order by product_code",
                         params).cast({"kind": S, "code": S, "name": S})
        organisations = pl.concat([organisations, products])
    history = None
    if _table_exists(conn, "marts", "forecast_history"):
        present = _columns(conn, "marts", "forecast_history")
        select = ", ".join(_ident(c) if c in present else f"cast(null as {SQL_TYPES[t]}) as {_ident(c)}"
                           for c, t in FORECAST_HISTORY_COLUMNS.items())
        history = _conform(fetch(
            conn, f"select {select} from marts.forecast_history where year >= $year - 1 and forecast_as_of <= $as_of "
                  "and (scope = 'ceiling' or product_category is null)", params), FORECAST_HISTORY_COLUMNS)
    signals = stops = None
    if _table_exists(conn, "marts", "declaration_signals") and {"signal", "amount_eur", "provider_agb",
                                                                "municipality_code", "month"} <= _columns(conn, "marts", "declaration_signals"):
        signals = fetch(conn, "select municipality_code, provider_agb, signal, count(*) as lines, "
                              "cast(sum(amount_eur) as double) as amount_eur from marts.declaration_signals "
                              "where month >= $first_month and month <= $as_of group by all order by all", params
                        ).cast({"municipality_code": S, "provider_agb": S, "signal": S, "lines": I, "amount_eur": F})
    signal_lines = None
    line_columns = {"municipality_code": S, "law": S, "provider_agb": S, "allocation_number": S,
                    "reference_number": S, "month": D, "signal": S, "amount_eur": F, "detail": S}
    if _table_exists(conn, "marts", "declaration_signals") and set(line_columns) <= _columns(conn, "marts", "declaration_signals"):
        signal_lines = fetch(conn, "select municipality_code, law, provider_agb, allocation_number, reference_number, "
                                   "month, signal, cast(amount_eur as double) as amount_eur, detail "
                                   "from marts.declaration_signals where month <= $as_of "
                                   "order by signal, amount_eur desc, provider_agb, reference_number", params).cast(line_columns)
    if _table_exists(conn, "marts", "stop_messages") and {"stops", "late_stops", "provider_agb", "municipality_code",
                                                          "month"} <= _columns(conn, "marts", "stop_messages"):
        present = _columns(conn, "marts", "stop_messages")
        open_after = "allocations_open_after_stop" if "allocations_open_after_stop" in present else "null"
        median = "median_delay_days" if "median_delay_days" in present else "null"
        stops = fetch(conn, f"select provider_agb, municipality_code, month, stops, late_stops, "
                            f"cast({median} as double) as median_delay_days, cast({open_after} as bigint) as "
                            "allocations_open_after_stop from marts.stop_messages "
                            "where month >= $first_month and month <= $as_of order by all", params
                      ).cast({"provider_agb": S, "municipality_code": S, "month": D, "stops": I, "late_stops": I,
                              "median_delay_days": F, "allocations_open_after_stop": I})
    refused_detail = None
    if _table_exists(conn, "raw", "manifest") and {"status", "message"} <= _columns(conn, "raw", "manifest"):
        code = ("(select min(q.reason_code) from raw.quarantine q where q.source_file = m.source_file "
                "and q.source_row is null)" if _table_exists(conn, "raw", "quarantine") else "null")
        refused_detail = fetch(conn, f"select m.source_file, {code} as reason_code, m.message from raw.manifest m "
                                     "where m.status = 'refused' order by m.source_file", params
                               ).cast({"source_file": S, "reason_code": S, "message": S})

    return ReportData(
        organisations=organisations,
        forecast_history=history,
        signals=signals,
        stop_messages=stops,
        signal_lines=signal_lines,
        refused_detail=refused_detail,
        as_of=as_of,
        marts=frames,
        allocations=allocations,
        realisation=realisation,
        municipalities=sorted(municipalities.to_list()),
        insurers=sorted(insurers),
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


# ------------------------------------------------------------------------------ allocations

TOTALS_TABLE = "reports_allocation_totals"  # a temporary table, dropped once read

# Sums of doubles over allocations add in key order, so a rerun gives the same last digits (and the
# same figure files); sums over the months of one allocation use fsum, sums of euros in cents are
# exact decimals.
IN_KEY_ORDER = "order by municipality_code, law, allocation_number"

# The volume of one allocation month above its maximum (tables._period_excess_volume); its euros are
# that volume at the allocation's price per approved unit.
PERIOD_EXCESS_VOLUME = """
    case when coalesce(requested_volume, delivered_volume) - max_volume < 0 then 0.0
         else coalesce(requested_volume, delivered_volume) - max_volume end"""

# The allocations active in the as-of year with the figures of their months (tables.enrich_totals),
# those that some figure or list uses: overshooting, under-used, with peak months, or with a period
# overshoot in the year (period_in_year). {approved} is the totals' own approved_amount_eur when the
# mart has one, else the months' sum.
ENRICHED_TOTALS_SQL = """
create or replace temp table {totals_table} as
with months as (
    select municipality_code, law, allocation_number,
           arg_max_null(provider_agb, month) as last_provider,
           arg_max_null(product_category, month) as last_category,
           arg_max_null(product_code, month) as last_product,
           coalesce(sum(approved_amount_eur), 0) as approved_amount_eur,
           fsum(delivered_volume) as delivered_volume,
           coalesce(fsum({period_excess}) filter (where period_overshoot), 0.0) as period_excess_volume,
           bool_or(year(month) = $year) as active,
           bool_or(period_overshoot and year(month) = $year and month <= $as_of) as period_in_year
    from {allocation_months}
    group by municipality_code, law, allocation_number
),
enriched as (
    select t.municipality_code, t.law, t.allocation_number,
           coalesce(t.provider_agb, m.last_provider) as provider_agb,
           coalesce(t.product_category, m.last_category) as product_category,
           coalesce(t.product_code, m.last_product) as product_code,
           t.total_max_volume, t.delivered_volume, t.utilisation, t.total_overshoot, t.peak_months,
           t.compensated_peak_months, t.underused, t.underuse_reason, t.suggested_product_code,
           t.committed_eur, m.period_excess_volume, m.period_in_year, t.mature_utilisation, t.requested_volume,
           case when m.delivered_volume > 0 then {approved} / m.delivered_volume end as price_eur,
           case when coalesce(t.requested_volume, t.delivered_volume) - t.total_max_volume < 0 then 0.0
                else coalesce(t.requested_volume, t.delivered_volume) - t.total_max_volume end as excess_volume
    from {allocation_totals} t
    join months m on m.municipality_code = t.municipality_code and m.law = t.law
                 and m.allocation_number = t.allocation_number
    where m.active and (t.total_overshoot or t.underused or t.peak_months > 0 or m.period_in_year)
)
select *, coalesce(excess_volume * price_eur, 0.0) as excess_eur,
       coalesce(period_excess_volume * price_eur, 0.0) as period_excess_eur
from enriched
"""

LIST_SQL = "select {columns} from {totals_table} where {flag} {in_key_order}"

PERIOD_OVERSHOOTS_SQL = """
select m.municipality_code, m.law, m.allocation_number, m.provider_agb, m.product_category, m.product_code,
       m.month, m.max_volume, m.delivered_volume, m.requested_volume, m.approved_amount_eur, m.period_overshoot,
       t.price_eur
from {allocation_months} m
left join {totals_table} t on t.municipality_code = m.municipality_code and t.law = m.law
                          and t.allocation_number = m.allocation_number
where year(m.month) = $year and m.month <= $as_of and m.period_overshoot
order by m.municipality_code, m.law, m.allocation_number, m.month
"""

COMPENSATION_SQL = """
select municipality_code, law, allocation_number, peak_months, compensated_peak_months
from {totals_table}
where period_in_year
order by municipality_code, law, allocation_number
"""

# peak months the yearly allowance absorbs and their share of the period excess (overshoot_summary)
COMPENSATED_PEAKS_SQL = """
with peaks as (
    select *, coalesce(period_excess_eur, 0) * compensated_peak_months / peak_months as compensated_eur
    from {totals_table}
    where peak_months > 0
)
select grouping(municipality_code) = 1 as region, municipality_code,
       cast(coalesce(sum(compensated_peak_months), 0) as bigint) as count,
       cast(coalesce(sum(compensated_eur {in_key_order}), 0) as double) as eur
from peaks
group by grouping sets ((municipality_code), ())
order by region, municipality_code
"""

# figures.peaks_by_category for the region
PEAKS_SQL = """
with peaks as (
    select *, compensated_peak_months / peak_months as share
    from {totals_table}
    where peak_months > 0
)
select product_category,
       cast(coalesce(sum(compensated_peak_months), 0) as bigint) as compensated_months,
       cast(coalesce(sum(peak_months - compensated_peak_months), 0) as bigint) as not_compensated_months,
       cast(coalesce(sum(coalesce(period_excess_eur, 0) * share {in_key_order}), 0) as double) as compensated_eur,
       cast(coalesce(sum(coalesce(period_excess_eur, 0) * (1 - share) {in_key_order}), 0) as double)
         as not_compensated_eur
from peaks
group by product_category
order by product_category nulls first
"""

# approved euros per law and month of the year (tables.cumulative_spend), per municipality and region
SPEND_SQL = """
select grouping(municipality_code) = 1 as region, municipality_code, law, month,
       cast(sum(approved_amount_eur) as double) as approved_amount_eur
from {allocation_months}
where year(month) = $year and month <= $as_of
group by grouping sets ((municipality_code, law, month), (law, month))
order by region, municipality_code, law, month
"""

def _top_providers_sql(measure: str, total: str, source: str, where: str) -> str:
    """The providers with the largest ``measure`` per municipality and in the region
    (tables.top_providers); ``{top}`` and the table names are filled in later."""
    return f"""
with sums as (
    select grouping(municipality_code) = 1 as region, municipality_code, provider_agb,
           cast(sum({total}) as double) as {measure}
    from {source}
    where {where}
    group by grouping sets ((municipality_code, provider_agb), (provider_agb))
),
ranked as (
    select *, row_number() over (
        partition by region, municipality_code
        order by {measure} desc, provider_agb asc nulls first) as rank
    from sums
    where {measure} > 0
)
select region, municipality_code, provider_agb, {measure}
from ranked
where rank <= {{top}}
order by region, municipality_code, rank
"""


# the most approved euros in the year, and the most euros above the allocations' totals
SPEND_PROVIDERS_SQL = _top_providers_sql("approved_amount_eur", "approved_amount_eur", "{allocation_months}",
                                         "year(month) = $year and month <= $as_of")
OVERSHOOT_PROVIDERS_SQL = _top_providers_sql("excess_eur", "excess_eur {in_key_order}", "{totals_table}",
                                             "total_overshoot")

MUNICIPALITIES_SQL = """
select municipality_code from {budget_exhaustion} where municipality_code is not null
union select municipality_code from {allocation_months} where municipality_code is not null
union select municipality_code from {declaration_timeliness} where municipality_code is not null
"""

INSURERS_SQL = """
select distinct payer_code from {ceiling_position} where payer_kind = 'insurer' and payer_code is not null
"""

REALISATION_SQL = """
with shown as (
    select unnest($insurers::varchar[]) as insurer_code, unnest($providers::varchar[]) as provider_agb
)
select z.insurer_code, z.provider_agb, cast(z.submitted_on as date) as submitted_on,
       cast(sum(z.net_amount_eur) as double) as net_amount_eur
from staging.zvw_lines z
where cast(z.submitted_on as date) <= $as_of and z.status = 'approved' and year(z.month) = $year
  and exists (select 1 from shown s where s.insurer_code = z.insurer_code and s.provider_agb = z.provider_agb)
group by all
order by all
"""

ZVW_SUMMARY_SQL = """
select insurer_code, max(cast(submitted_on as date)) as latest_submitted_on
from staging.zvw_lines
where cast(submitted_on as date) <= $as_of
group by insurer_code
"""


def _read_allocations(conn: duckdb.DuckDBPyConnection, marts: _Marts,
                      params: dict[str, object]) -> AllocationFigures:
    """The allocation figures: one pass over the months into a temporary table, then small reads."""
    months_types = mart_types("allocation_months")
    totals_types = mart_types("allocation_totals")
    enriched_types = {
        **{c: totals_types[c] for c in ALLOCATION_COLUMNS},
        "total_max_volume": F, "delivered_volume": F, "excess_volume": F, "excess_eur": F, "utilisation": F,
        "total_overshoot": B, "underused": B, "underuse_reason": S, "suggested_product_code": S,
        "committed_eur": F, "peak_months": I, "compensated_peak_months": I,
        "mature_utilisation": F, "requested_volume": F,
    }
    names = {**marts.sources, "totals_table": TOTALS_TABLE, "period_excess": PERIOD_EXCESS_VOLUME,
             "top": TOP_PROVIDERS, "in_key_order": IN_KEY_ORDER}
    has_approved = "approved_amount_eur" in marts.present["allocation_totals"]
    approved = "t.approved_amount_eur" if has_approved else "m.approved_amount_eur"

    def read(query: str, types: dict[str, pl.DataType]) -> pl.DataFrame:
        return _conform(fetch(conn, query.format(**names), params), types)

    def listed(flag: str, columns: tuple[str, ...]) -> pl.DataFrame:
        types = {c: enriched_types[c] for c in (*ALLOCATION_COLUMNS, *columns, flag)}
        query = LIST_SQL.format(columns=", ".join(types), flag=flag, **names)
        return _conform(fetch(conn, query, params), types)

    enriched = ENRICHED_TOTALS_SQL.format(**names, approved=approved)
    conn.execute(enriched, _used(enriched, params)).fetchall()
    try:
        return AllocationFigures(
            real_overshoots=listed("total_overshoot", (
                "total_max_volume", "delivered_volume", "requested_volume", "excess_volume", "excess_eur")),
            underused=listed("underused", (
                "utilisation", "mature_utilisation", "underuse_reason", "suggested_product_code", "committed_eur")),
            period_overshoots=read(PERIOD_OVERSHOOTS_SQL, {**{c: months_types[c] for c in (
                *ALLOCATION_COLUMNS, "month", "max_volume", "delivered_volume", "requested_volume", "approved_amount_eur",
                "period_overshoot")}, "price_eur": F}),
            compensation=read(COMPENSATION_SQL, {c: enriched_types[c] for c in (
                *ALLOCATION_KEY, "peak_months", "compensated_peak_months")}),
            compensated_peaks=read(COMPENSATED_PEAKS_SQL, {"region": B, "municipality_code": S, "count": I,
                                                           "eur": F}),
            peaks=read(PEAKS_SQL, {"product_category": S, "compensated_months": I, "not_compensated_months": I,
                                   "compensated_eur": F, "not_compensated_eur": F}),
            spend=read(SPEND_SQL, {"region": B, "municipality_code": S, "law": S, "month": D,
                                   "approved_amount_eur": F}),
            spend_providers=read(SPEND_PROVIDERS_SQL, {"region": B, "municipality_code": S, "provider_agb": S,
                                                       "approved_amount_eur": F}),
            overshoot_providers=read(OVERSHOOT_PROVIDERS_SQL, {"region": B, "municipality_code": S,
                                                               "provider_agb": S, "excess_eur": F}),
        )
    finally:
        conn.execute(f"drop table if exists temp.main.{TOTALS_TABLE}").fetchall()
