"""Asset checks: reconciliation of every loaded file, referential integrity, mart invariants.

Each check runs a query that returns the offending rows; the check passes when there are none,
and its metadata carries the count and a sample as evidence.

Most checks run inside the step of the asset they check (``check_specs``), on that step's
connection, right after the asset is built: a step of its own cost every check about 50 ms of
Dagster bookkeeping, more than most checks' query. They stay checks of their own in every other
respect: listed under their asset in the UI, executable without materializing the asset (the
asset's step then runs the checks alone), and a blocking check that fails with ERROR severity
fails the step after the asset's materialization is recorded, so nothing downstream runs.
Checks whose asset is written elsewhere, or that read more than their asset
(``as_of_within_data``), are steps of their own (``standalone_checks``).
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import dagster as dg
import duckdb
import pandera.polars as pa
import polars as pl

from pipeline.resources import Warehouse
from pipeline.settings import MetricSettings
from pipeline.schemas import INBOX_KINDS, MODELS, REFERENCE_KINDS, dtypes
from pipeline.sql import fetch_one

CHECK_CHUNK_ROWS = 500_000  # rows per pandera pass of a pandera_schema check
VALIDATED_FILES_DDL = """
create schema if not exists meta;
create table if not exists meta.validated_files (
    kind varchar, source_file varchar, row_count bigint, row_hash varchar)"""


@dataclass(frozen=True)
class Check:
    """One asset check: what it checks and how it is evaluated on an open connection."""

    asset: tuple[str, ...]
    name: str
    description: str
    evaluate: Callable[[duckdb.DuckDBPyConnection], dict]  # the AssetCheckResult's passed, severity, metadata
    blocking: bool = True

    @property
    def asset_key(self) -> dg.AssetKey:
        return dg.AssetKey(list(self.asset))

    @property
    def key(self) -> dg.AssetCheckKey:
        return dg.AssetCheckKey(self.asset_key, self.name)

    @property
    def spec(self) -> dg.AssetCheckSpec:
        return dg.AssetCheckSpec(self.name, asset=self.asset_key, description=self.description,
                                 blocking=self.blocking)

    def result(self, conn: duckdb.DuckDBPyConnection) -> dg.AssetCheckResult:
        return dg.AssetCheckResult(asset_key=self.asset_key, check_name=self.name, **self.evaluate(conn))


def _violations(conn: duckdb.DuckDBPyConnection, query: str) -> tuple[int, str]:
    frame = conn.sql(query).pl()
    return frame.height, str(frame.head(10)) if frame.height else "none"


def _check(asset_key: list[str], name: str, description: str, query: str, *, blocking: bool = True,
           severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR) -> Check:
    def evaluate(conn: duckdb.DuckDBPyConnection) -> dict:
        count, sample = _violations(conn, query)
        return dict(
            passed=count == 0,
            severity=severity,
            metadata={"violations": count, "sample": dg.MetadataValue.text(sample), "query": dg.MetadataValue.text(query)},
        )

    return Check(tuple(asset_key), name, description, evaluate, blocking)


def _reconciliation(kind: str) -> Check:
    query = f"""
        with loaded as (select source_file, count(*) as n from raw.{kind} group by all),
        quarantined as (select source_file, count(*) as n from raw.quarantine
                        where source_row is not null group by all)
        select m.source_file, m.rows_received, m.rows_loaded, m.rows_quarantined,
               coalesce(l.n, 0) as rows_in_table, coalesce(q.n, 0) as rows_in_quarantine
        from raw.manifest m
        left join loaded l using (source_file)
        left join quarantined q using (source_file)
        where m.kind = '{kind}' and (
            m.rows_received <> m.rows_loaded + m.rows_quarantined
            or coalesce(l.n, 0) <> m.rows_loaded
            or coalesce(q.n, 0) <> m.rows_quarantined)"""
    return _check(["raw", kind], "rows_reconcile",
                  "Per file: rows received = rows loaded + rows quarantined, and the tables hold exactly those rows.",
                  query)


def duplicate_keys_sql(table: str, columns: str) -> str:
    """The keys of ``table`` held by more than one row, with their count. Grouping ten million
    rows by a 64-bit hash of the key first, and by the key itself only for the hashes seen twice,
    halved the check on the largest tables; a hash collision only adds a candidate."""
    return f"""
        with candidates as materialized (
            select hash({columns}) as h from {table} group by h having count(*) > 1)
        select {columns}, count(*) as n from {table}
        where hash({columns}) in (select h from candidates)
        group by all having count(*) > 1"""


def _unique(asset_key: list[str], columns: str) -> Check:
    table = ".".join(asset_key)
    return _check(asset_key, "one_row_per_key", f"Exactly one row per ({columns}).",
                  duplicate_keys_sql(table, columns))


def _schema_holds(kind: str) -> Check:
    def evaluate(conn: duckdb.DuckDBPyConnection) -> dict:
        columns = [c for c in dtypes(kind) if c != "client_bsn"]
        rows, count, failures = 0, 0, []
        conn.execute(VALIDATED_FILES_DDL)
        # Per file, a fingerprint of the stored rows (count and a sum of row hashes, one parallel
        # scan); pandera validates the files whose rows it has not seen pass in this very state,
        # so a new or replaced file and a row changed behind the loader's back are validated.
        conn.execute(f"""
            create or replace temp table _fingerprints as
            select source_file, count(*) as row_count,
                   sum(hash({', '.join(columns)})::hugeint)::varchar as row_hash
            from raw.{kind} group by source_file""")
        conn.execute(
            """create or replace temp table _unchecked as
               select f.* from _fingerprints as f
               anti join meta.validated_files as v
                   on v.kind = ? and v.source_file = f.source_file
                   and v.row_count = f.row_count and v.row_hash = f.row_hash""", [kind])
        files = fetch_one(conn, "select count(*) from _unchecked")[0]
        # in chunks, so memory stays bounded however large the table grows
        reader = conn.sql(
            f"select {', '.join(columns)} from raw.{kind} "
            "where source_file in (select source_file from _unchecked)"
        ).to_arrow_reader(CHECK_CHUNK_ROWS)
        for batch in reader:
            frame = pl.from_arrow(batch)
            if "client_bsn" in dtypes(kind):
                frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias("client_bsn"))
            frame = frame.select(list(dtypes(kind))).cast(dtypes(kind))
            rows += frame.height
            try:
                MODELS[kind].validate(frame, lazy=True)
            except pa.errors.SchemaErrors as exc:
                count += exc.failure_cases.height
                failures.append(exc.failure_cases.head(10).with_columns(pl.all().cast(pl.String)))
        if count == 0:
            conn.execute("delete from meta.validated_files where kind = ? and source_file in "
                         "(select source_file from _unchecked)", [kind])
            conn.execute("insert into meta.validated_files select ?, source_file, row_count, row_hash "
                         "from _unchecked", [kind])
        return dict(
            passed=count == 0,
            metadata={"files_validated": files, "rows_validated": rows, "failure_cases": count,
                      "sample": dg.MetadataValue.text(str(pl.concat(failures).head(10)) if failures else "none")},
        )

    return Check(
        ("raw", kind), "pandera_schema",
        f"Every row stored in raw.{kind} satisfies the pandera model {MODELS[kind].__name__} "
        "(validated eagerly and lazily): rows that break it belong in the quarantine, never in the table. "
        "A file's rows are validated again only when they change: meta.validated_files keeps a "
        "fingerprint (row count, sum of row hashes) of every file that passed.",
        evaluate)



AS_OF_NOTE_DDL = """
create schema if not exists meta;
create table if not exists meta.as_of_note (
    as_of date, first_data_day date, last_data_day date, outside boolean,
    note_nl varchar, note_en varchar, checked_at timestamp)"""


def as_of_note(as_of, first_day, last_day) -> tuple[str, str] | None:
    """Dutch and English note when as_of lies outside the months with data, else None."""
    if first_day is None or last_day is None:
        return ("Er zijn nog geen declaratieregels geladen; de cijfers zijn leeg.",
                "No declaration lines are loaded yet; the figures are empty.")
    if as_of < first_day:
        return (f"De rapportagedatum {as_of} ligt vóór de eerste gegevens ({first_day}): de cijfers zijn leeg.",
                f"The reporting date {as_of} lies before the first data ({first_day}): the figures are empty.")
    if as_of.replace(day=1) > last_day.replace(day=28) and (as_of - last_day).days > 62:
        return (f"De rapportagedatum {as_of} ligt ver na de laatste gegevens ({last_day}): "
                "latere maanden zijn leeg, niet nul.",
                f"The reporting date {as_of} lies far after the last data ({last_day}): "
                "later months are empty, not zero.")
    return None


@dg.asset_check(
    asset=dg.AssetKey(["staging", "declaration_lines"]), name="as_of_within_data", blocking=False,
    description="The reporting date (setting as_of) lies within the data: not before the first declared "
    "line and not more than two months after the last. Outside, the run warns and meta.as_of_note keeps "
    "a note (Dutch and English) for the reports.",
    # it reads the wijkverpleging lines too: in a run that builds them, after them
    additional_deps=[dg.AssetKey(["staging", "zvw_lines"])],
)
def as_of_within_data(context: dg.AssetCheckExecutionContext, warehouse: Warehouse,
                      settings: MetricSettings) -> dg.AssetCheckResult:
    with warehouse.connect() as conn:
        present = {t for (t,) in conn.execute(
            "select table_name from duckdb_tables() where schema_name = 'staging'").fetchall()}
        parts = [f"select min({c}) as d0, max({c}) as d1 from staging.{t}" for t, c in (
            ("declaration_lines", "declared_on"), ("zvw_lines", "cast(submitted_on as date)")) if t in present]
        first_day, last_day = fetch_one(conn, f"select min(d0), max(d1) from ({' union all '.join(parts)})")
        as_of = settings.as_of_date(last_day)
        note = as_of_note(as_of, first_day, last_day)
        conn.execute(AS_OF_NOTE_DDL)
        conn.execute("delete from meta.as_of_note")
        conn.execute("insert into meta.as_of_note values (?, ?, ?, ?, ?, ?, now())",
                     [as_of, first_day, last_day, note is not None, *(note or (None, None))])
    if note:
        context.log.warning(note[1])
    return dg.AssetCheckResult(
        passed=note is None, severity=dg.AssetCheckSeverity.WARN,
        metadata={"as_of": str(as_of), "first_data_day": str(first_day), "last_data_day": str(last_day),
                  "note": note[1] if note else "none"})


def _amounts_match(kind: str) -> dg.AssetChecksDefinition:
    expected = ("volume * tariff_eur" if kind == "declarations" else "minutes / 60 * tariff_eur")
    alternative = (" and (unit <> '01' or abs(amount_eur - volume / 60 * tariff_eur) > 0.02)"
                   if kind == "declarations" else "")
    return _check(
        ["raw", kind], "amount_matches_volume",
        "amount = volume x tariff within rounding, as the iWmo standard requires (minutes priced per minute "
        "or per hour). Gross mismatches (a misread column) are quarantined as amount_mismatch; the lines "
        "listed here load (municipalities reject them with 0611/9346) and are flagged.",
        f"select source_file, source_row, amount_eur, round({expected}, 2) as expected_eur from raw.{kind} "
        f"where tariff_eur is not null and abs(amount_eur - {expected}) > 0.02{alternative} "
        "order by source_file, source_row",
        blocking=False, severity=dg.AssetCheckSeverity.WARN)


_raw = [_amounts_match("declarations"), _amounts_match("zvw_declarations")] + [
    _reconciliation(kind) for kind in (*INBOX_KINDS, *REFERENCE_KINDS)] + [
    _schema_holds(kind) for kind in (*INBOX_KINDS, *REFERENCE_KINDS)
]

_staging = [
    _unique(["staging", "allocations"], "municipality_code, law, allocation_number"),
    _unique(["staging", "declaration_lines"], "provider_agb, law, reference_number"),
    _check(["staging", "declaration_lines"], "lines_have_allocation",
           "Every declaration line names a known, not deleted allocation and lies within it "
           "(municipalities reject such lines with 9338, 9384, 9307/9308).",
           "select allocation_issue, count(*) as lines, sum(amount_eur) as amount_eur "
           "from staging.declaration_lines where allocation_issue is not null group by all order by lines desc",
           blocking=False, severity=dg.AssetCheckSeverity.WARN),
]

_marts = [
    _unique(["marts", "allocation_months"], "municipality_code, law, allocation_number, month"),
    _unique(["marts", "allocation_totals"], "municipality_code, law, allocation_number"),
    _unique(["marts", "ceiling_position"], "payer_code, provider_agb, year"),
    _unique(["marts", "budget_exhaustion"], "municipality_code, law, product_category, year"),
    _unique(["marts", "forecast_history"],
            "scope, payer_code, provider_agb, law, product_category, year, forecast_as_of"),
    _check(["marts", "forecast_history"], "history_ends_at_the_published_projection",
           "At forecast_as_of = as_of the history holds exactly the published projections "
           "(ceiling_position.projected_year_end_eur, budget_exhaustion.forecast_eur).",
           "select h.scope, h.payer_code, h.provider_agb, h.law, h.product_category, h.projected_eur, "
           "coalesce(c.projected_year_end_eur, b.forecast_eur) as published_eur "
           "from marts.forecast_history h "
           "left join marts.ceiling_position c on h.scope = 'ceiling' and c.payer_code = h.payer_code "
           "and c.provider_agb = h.provider_agb and c.year = h.year and c.as_of = h.forecast_as_of "
           "left join marts.budget_exhaustion b on h.scope = 'budget' and b.municipality_code = h.payer_code "
           "and b.law = h.law and b.product_category is not distinct from h.product_category "
           "and b.year = h.year and b.as_of = h.forecast_as_of "
           "where h.forecast_as_of = (select max(forecast_as_of) from marts.forecast_history) "
           "and h.projected_eur is distinct from coalesce(c.projected_year_end_eur, b.forecast_eur)"),
    _unique(["marts", "declaration_signals"], "provider_agb, law, reference_number, signal"),
    _unique(["marts", "stop_messages"], "provider_agb, municipality_code, month"),
    _check(["marts", "stop_messages"], "late_stops_within_stops",
           "Late stops and stops whose lateness is not determinable (no sent_on) are disjoint parts of "
           "the stops; allocations open after a stop are at most the stops for good.",
           "select provider_agb, municipality_code, month, stops, late_stops, stops_not_determinable, "
           "stops_for_good, allocations_open_after_stop from marts.stop_messages "
           "where late_stops + stops_not_determinable > stops or allocations_open_after_stop > stops_for_good"),
    # a warning, not an error: answers arrive out of order, and a credit approved before the answer to
    # the debit it reverses leaves a month's approved volume below zero until that answer comes (seen
    # at scale 106: the debit's answer in next month's file, the credit's in an earlier XML message)
    _check(["marts", "allocation_months"], "utilisation_not_negative",
           "Utilisation is not negative; where it is, a credit was approved before its debit was answered "
           "(the month's approved volume is below zero until that answer arrives).",
           "select municipality_code, law, allocation_number, month, utilisation from marts.allocation_months "
           "where utilisation < 0",
           blocking=False, severity=dg.AssetCheckSeverity.WARN),
    _check(["marts", "allocation_months"], "approved_within_declared",
           "Approved lines are a subset of declared lines (declared = approved + pending): never more "
           "approved than declared lines. Net volumes are not compared: a pending credit of an "
           "approved debit makes the declared net smaller than the approved net, rightly.",
           # the key and the compared columns only: `select *` read all 34 columns of 12 million rows
           # at scale 106 (0.4-0.8 s), these six 0.1-0.25 s
           "select municipality_code, law, allocation_number, month, approved_lines, declared_lines "
           "from marts.allocation_months where approved_lines > declared_lines"),
    _check(["marts", "budget_exhaustion"], "forecast_adds_up",
           "forecast = approved + pending + expected late + committed.",
           "select * from marts.budget_exhaustion where abs(forecast_eur - (approved_eur + pending_eur "
           "+ expected_late_eur + committed_eur)) > 0.01"),
]

CHECKS: list[Check] = [*_raw, *_staging, *_marts]

# checks of assets this module's factories do not build: steps of their own
_STANDALONE_ASSETS = {("marts", "forecast_history")}


def checks_of(asset: tuple[str, ...]) -> list[Check]:
    """The checks that run inside the step of ``asset``."""
    return [c for c in CHECKS if c.asset == tuple(asset) and c.asset not in _STANDALONE_ASSETS]


def check_specs(asset: tuple[str, ...]) -> list[dg.AssetCheckSpec]:
    return [c.spec for c in checks_of(asset)]


def run_checks(context: dg.AssetExecutionContext, conn: duckdb.DuckDBPyConnection,
               asset: tuple[str, ...]) -> Iterator[dg.AssetCheckResult]:
    """The selected checks of ``asset``, evaluated on the step's connection."""
    selected = context.selected_asset_check_keys
    for check in checks_of(asset):
        if check.key in selected:
            yield check.result(conn)


def evaluate(warehouse: Warehouse, asset: tuple[str, ...], name: str) -> dg.AssetCheckResult:
    """Evaluate one check outside a run (tools and tests)."""
    [check] = [c for c in CHECKS if c.asset == tuple(asset) and c.name == name]
    with warehouse.connect() as conn:
        return check.result(conn)


def _standalone(check: Check) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=check.asset_key, name=check.name, description=check.description,
                    blocking=check.blocking)
    def _asset_check(warehouse: Warehouse) -> dg.AssetCheckResult:
        with warehouse.connect() as conn:
            return check.result(conn)

    return _asset_check


standalone_checks = [as_of_within_data] + [_standalone(c) for c in CHECKS if c.asset in _STANDALONE_ASSETS]
