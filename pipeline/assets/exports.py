"""Exports: the published marts tables as Parquet, for readers that cannot wait for a run.

DuckDB allows one writing process per file, and while a run writes no other process can open the
warehouse, not even read-only. Readers (a notebook, Excel via Power Query, a BI tool) read the
Parquet copies under ``<data>/exports/marts/<table>.parquet`` instead. Each file is written to a
temporary name in the same folder, flushed to disk and renamed over the old one, so a reader sees
either the previous complete file or the new complete file, never a half-written one.

Only the tables that publish the figures of metrics.md are exported. The intermediate marts
(allocation_month_maxima, allocation_commitments, payer_lines, chain_ladder) are building blocks
at line or allocation-month grain: at national scale they are most of the bytes (tens of millions
of rows) and carry no figure a reader needs.
"""


import os
from pathlib import Path

import dagster as dg

from pipeline.assets.sql_assets import sql_names
from pipeline.resources import DataFolders, Warehouse

TMP_PREFIX = ".tmp-"
# metrics.md: the marts tables that publish its figures
PUBLISHED = (
    "allocation_months", "allocation_totals", "band_utilisation", "rekenfactor", "ceiling_position",
    "hours_per_client_month", "hours_agreement", "budget_exhaustion", "declaration_timeliness",
    "rejections", "quarantine_summary", "quarantine_reasons", "forecast_history", "declaration_signals",
    "stop_messages",
)


def export_dir(folders: DataFolders) -> Path:
    return Path(folders.root) / "exports" / "marts"


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def export_marts(conn, out_dir: Path) -> dict[str, int]:
    """Write every published marts table to ``out_dir/<table>.parquet`` atomically; return row
    counts. Files of other tables and temporary files left by an interrupted run are removed.

    Rows are written in no particular order (DuckDB's ``preserve_insertion_order`` off, so both
    threads write): sorting every column of a ten-million-row table doubled the cost of the
    export. zstd at level 1 writes a third smaller files than DuckDB's default snappy, no slower.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = [
        row[0]
        for row in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' order by 1"
        ).fetchall()
        if row[0] in PUBLISHED
    ]
    for stale in out_dir.glob(f"{TMP_PREFIX}*"):
        stale.unlink(missing_ok=True)
    rows: dict[str, int] = {}
    # a global setting: the steps after this one share the run's open database, so it is restored
    [(preserve,)] = conn.execute("select current_setting('preserve_insertion_order')").fetchall()
    conn.execute("set preserve_insertion_order = false")
    try:
        for table in tables:
            target = out_dir / f"{table}.parquet"
            tmp = out_dir / f"{TMP_PREFIX}{table}.{os.getpid()}.parquet"
            ident = '"' + table.replace('"', '""') + '"'
            quoted = "'" + str(tmp).replace("'", "''") + "'"
            conn.execute(f"copy marts.{ident} to {quoted} (format parquet, compression zstd, compression_level 1)")
            _fsync(tmp)
            os.replace(tmp, target)
            rows[table] = conn.execute(f"select count(*) from marts.{ident}").fetchall()[0][0]
    finally:
        conn.execute(f"set preserve_insertion_order = {'true' if preserve else 'false'}")
    for old in out_dir.glob("*.parquet"):
        if old.stem not in rows and not old.name.startswith(TMP_PREFIX):
            old.unlink(missing_ok=True)
    _fsync(out_dir)
    return rows


@dg.asset(
    key=["exports", "marts_parquet"],
    group_name="exports",
    deps=[dg.AssetKey(["marts", n]) for n in [*sql_names("marts"), "forecast_history"]],
    kinds={"parquet"},
)
def marts_parquet(context: dg.AssetExecutionContext, warehouse: Warehouse, folders: DataFolders) -> dg.MaterializeResult:
    """Every published marts table as <data>/exports/marts/<table>.parquet, replaced atomically
    (temp file and rename), so readers can read the figures while a run holds the DuckDB file."""
    out_dir = export_dir(folders)
    with warehouse.connect() as conn:
        rows = export_marts(conn, out_dir)
    context.log.info(f"exported {len(rows)} marts tables to {out_dir}")
    return dg.MaterializeResult(
        metadata={
            "folder": dg.MetadataValue.path(str(out_dir)),
            "tables": len(rows),
            "rows": dg.MetadataValue.json(rows),
        }
    )
