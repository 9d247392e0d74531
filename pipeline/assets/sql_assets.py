"""Staging and marts assets: one asset per SQL file, dependencies read from the tables it names."""


import datetime as dt

import dagster as dg

from pipeline.checks import check_specs, run_checks
from pipeline.incremental import build_model
from pipeline.paths import SQL_DIR
from pipeline.resources import Warehouse
from pipeline.settings import MetricSettings
from pipeline.sql import TABLE_REF, fetch_one, sql_text


# Tables that Python assets write (calendars) and that SQL files may read.
PYTHON_TABLES = {("staging", "calendar_months"), ("staging", "calendar_iso_weeks"),
                 ("staging", "calendar_days"), ("staging", "cak_periods")}


def sql_names(schema: str) -> list[str]:
    return sorted(p.stem for p in (SQL_DIR / schema).glob("*.sql"))


def sql_deps(schema: str, name: str) -> list[dg.AssetKey]:
    """Asset keys of the tables a SQL file reads. raw.manifest and raw.quarantine are written
    by every raw asset, so a file reading them depends on all of them."""
    from pipeline.schemas import MODELS

    raw_kinds = sorted(MODELS)
    known = {("raw", k) for k in raw_kinds} | PYTHON_TABLES
    known |= {("staging", n) for n in sql_names("staging")} | {("marts", n) for n in sql_names("marts")}
    deps: set[tuple[str, str]] = set()
    for ref in set(TABLE_REF.findall(sql_text(schema, name))) - {(schema, name)}:
        if ref in {("raw", "manifest"), ("raw", "quarantine")}:
            deps |= {("raw", k) for k in raw_kinds} | {("raw", "unrecognised_messages")}
        elif ref in known:
            deps.add(ref)
        else:
            raise ValueError(f"sql/{schema}/{name}.sql reads {'.'.join(ref)}, which no asset writes")
    return [dg.AssetKey(list(ref)) for ref in sorted(deps)]


def resolve_as_of(conn, settings: MetricSettings) -> dt.date:
    """The effective as_of: the setting, or the last day of the latest month with data."""
    latest = fetch_one(
        conn,
        """select max(d) from (
               select max(declared_on) as d from staging.declaration_lines
               union all select max(cast(submitted_on as date)) from staging.zvw_lines)""",
    )[0]
    return settings.as_of_date(latest)


def _first_line(text: str) -> str:
    lines = [ln[2:].strip() for ln in text.splitlines() if ln.startswith("--")]
    return " ".join(lines) or "SQL model"


def _sql_asset(schema: str, name: str) -> dg.AssetsDefinition:
    text = sql_text(schema, name)
    needs_params = "$" in text
    deps = set(sql_deps(schema, name))
    if needs_params:  # the default as_of is read off the declaration and wijkverpleging lines
        deps |= {dg.AssetKey(["staging", "declaration_lines"]), dg.AssetKey(["staging", "zvw_lines"])}

    key = dg.AssetKey([schema, name])

    # one asset and its checks (pipeline/checks.py) in one step; the checks run on its connection
    @dg.multi_asset(
        name=f"{schema}__{name}",
        specs=[dg.AssetSpec(
            key, group_name=schema, kinds={"duckdb", "sql"},
            deps=sorted(deps, key=lambda k: k.path),
            description=f"{schema}.{name}: {_first_line(text)} (sql/{schema}/{name}.sql)",
        )],
        check_specs=check_specs((schema, name)),
        can_subset=True,  # the checks can run without a build
    )
    def _asset(context: dg.AssetExecutionContext, warehouse: Warehouse, settings: MetricSettings):
        with warehouse.connect() as conn:
            if key in context.selected_asset_keys:
                params = {}
                if needs_params:
                    as_of = resolve_as_of(conn, settings)
                    params = settings.sql_params(as_of)
                build = build_model(conn, schema, name, params)
                preview = conn.sql(f"select * from {schema}.{name} limit 5").pl()
                metadata = {
                    "table": f"{schema}.{name}",
                    "dagster/row_count": dg.MetadataValue.int(build.rows),
                    "build": f"{build.mode}: {build.reason}" if build.reason else build.mode,
                    "rows_rebuilt": dg.MetadataValue.int(build.rows_rebuilt),
                    "preview": dg.MetadataValue.text(str(preview)),
                }
                if needs_params:
                    metadata["as_of"] = str(params["as_of"])
                yield dg.MaterializeResult(asset_key=key, metadata=metadata)
            yield from run_checks(context, conn, (schema, name))

    return _asset


staging_sql_assets = [_sql_asset("staging", n) for n in sql_names("staging")]
marts_sql_assets = [_sql_asset("marts", n) for n in sql_names("marts")]
