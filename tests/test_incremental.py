"""Partial rebuilds (pipeline/incremental.py) give the same warehouse as a full build.

The inputs move on in two ways: a demo inbox loaded without its last month gets that month
together with a replaced older file, or everything is loaded and the reporting date moves a
month. Either way every staging and mart table refreshed in part must equal the one built in full
from the same files, and the models of INCREMENTAL must really have been built in part. A third
test shows when a full build is forced.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest

from conftest import materialize
from pipeline import demo, incremental
from pipeline.assets.sql_assets import sql_names
from pipeline.incremental import INCREMENTAL

AS_OF = dt.date(2026, 10, 31)
MONTH = f"{AS_OF:%Y-%m}"
# the SQL marts: the history (marts/forecast_history) is no partial build, and its own keeping is
# tested in test_marts_finance
WITHOUT_REPORTS = " or ".join(["key:raw/*", "key:staging/*", *(f"key:marts/{n}" for n in sql_names("marts"))])
LOAD_TIMES = {"loaded_at", "quarantined_at"}  # when a file was loaded differs between the two warehouses


def _hold_back_last_month(inbox: Path, held: Path) -> None:
    """Move the files of the last month aside; cut the yearly delivered-hours files before it."""
    for path in sorted(inbox.rglob(f"*_{MONTH}.*")):
        target = held / path.relative_to(inbox)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(path, target)
    for path in sorted((inbox / "delivered_hours").glob(f"*_{AS_OF.year}.csv")):
        target = held / path.relative_to(inbox)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
        frame = pl.read_csv(path, infer_schema=False)
        frame.filter(pl.col("month").is_not_null() & (pl.col("month") < MONTH)
                     | pl.col("week").is_not_null() & (pl.col("week") < "2026-W40")).write_csv(path)


def _drop_last_line(path: Path) -> None:
    """An older file delivered again without its last line (a replaced file)."""
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-1]))


def _tables(conn: duckdb.DuckDBPyConnection) -> list[str]:
    return [f"{s}.{t}" for s, t in conn.execute(
        "select schema_name, table_name from duckdb_tables() where database_name = 'a' "
        "and schema_name in ('staging', 'marts') order by all").fetchall()]


def _rounded(conn, db: str, table: str) -> str:
    """The table's rows with doubles rounded (sums of doubles differ in the last bits by order)."""
    schema, name = table.split(".")
    cols = conn.execute(
        "select column_name, data_type from duckdb_columns() where database_name = ? and schema_name = ? "
        "and table_name = ? order by column_index", [db, schema, name]).fetchall()
    # quoted: marts.rejections has a column named "primary", a reserved word
    exprs = [f'round("{c}", 6) as "{c}"' if t == "DOUBLE" else f'"{c}"' for c, t in cols
             if c not in LOAD_TIMES]
    return f"select {', '.join(exprs)} from {db}.{table}"


def _assert_same_tables(part: Path, full: Path) -> duckdb.DuckDBPyConnection:
    """Every staging and mart table holds the same rows in both warehouses."""
    conn = duckdb.connect()
    conn.execute(f"attach '{part / 'warehouse.duckdb'}' as a (read_only)")
    conn.execute(f"attach '{full / 'warehouse.duckdb'}' as b (read_only)")
    tables = _tables(conn)
    assert len(tables) > 25
    for table in tables:
        a, b = _rounded(conn, "a", table), _rounded(conn, "b", table)
        only_part = conn.execute(f"select count(*) from ({a} except all {b})").fetchall()[0][0]
        only_full = conn.execute(f"select count(*) from ({b} except all {a})").fetchall()[0][0]
        assert (table, only_part, only_full) == (table, 0, 0)
    return conn


def _modes(root: Path) -> dict[str, str]:
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as conn:
        return dict(conn.execute("select table_name, mode from meta.builds").fetchall())


INCREMENTAL_TABLES = sorted(map(".".join, INCREMENTAL))


@pytest.fixture(scope="module")
def inbox(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("incremental_demo")
    demo.generate(out, seed=11, scale=0.05, as_of=AS_OF)
    return out


@pytest.mark.parametrize("rewrite_share", [1.0, 0.0], ids=["delete-insert", "rewrite"])
def test_a_month_added_in_part_equals_a_full_build(inbox, tmp_path, monkeypatch, rewrite_share):
    """Both ways of a partial build: touched rows deleted and inserted, or the table written anew."""
    monkeypatch.delenv("ZORG_FULL_REBUILD", raising=False)
    monkeypatch.setattr(incremental, "REWRITE_SHARE", rewrite_share)
    part, full, held = tmp_path / "part", tmp_path / "full", tmp_path / "held"
    shutil.copytree(inbox, part)
    shutil.copytree(inbox, full)
    _hold_back_last_month(part / "inbox", held)
    assert materialize(part, WITHOUT_REPORTS).success  # as_of: the end of the month before

    shutil.copytree(held, part / "inbox", dirs_exist_ok=True)  # the month arrives ...
    for root in (part, full):  # ... with an older file delivered again
        _drop_last_line(sorted((root / "inbox" / "declarations").glob("declarations_*_2026-03.csv"))[0])
    assert materialize(part, WITHOUT_REPORTS).success
    assert materialize(full, WITHOUT_REPORTS).success

    with duckdb.connect(str(part / "warehouse.duckdb"), read_only=True) as conn:
        builds = dict(conn.execute("select table_name, mode from meta.builds").fetchall())
        rebuilt = dict(conn.execute("select table_name, rows_rebuilt from meta.builds").fetchall())
    assert {t: builds[t] for t in INCREMENTAL_TABLES} == dict.fromkeys(INCREMENTAL_TABLES, "incremental")

    conn = _assert_same_tables(part, full)
    # in part, not in full: the large line tables rebuilt a fraction of their rows
    if rewrite_share == 1.0:
        for table in ("staging.declaration_lines", "marts.payer_lines", "marts.allocation_month_maxima",
                      "marts.allocation_months"):
            total = conn.execute(f"select count(*) from a.{table}").fetchall()[0][0]
            assert 0 < rebuilt[table] < total / 2, table


def test_as_of_moved_forward_in_part_equals_a_full_build(inbox, tmp_path, monkeypatch):
    """Everything loaded, the reporting date moves a month on: only the as_of windows and the
    refresh statements change rows (lines answered or declared in between, a new month to date,
    maturity)."""
    monkeypatch.delenv("ZORG_FULL_REBUILD", raising=False)
    monkeypatch.setattr(incremental, "REWRITE_SHARE", 1.0)
    part, full = tmp_path / "part", tmp_path / "full"
    shutil.copytree(inbox, part)
    shutil.copytree(inbox, full)
    assert materialize(part, WITHOUT_REPORTS, as_of="2026-08-31").success
    assert materialize(part, WITHOUT_REPORTS, as_of="2026-09-30").success
    assert materialize(full, WITHOUT_REPORTS, as_of="2026-09-30").success
    as_of_models = ["marts.allocation_month_maxima", "marts.allocation_months", "marts.payer_lines"]
    assert {t: _modes(part)[t] for t in as_of_models} == dict.fromkeys(as_of_models, "incremental")
    _assert_same_tables(part, full)


def _reasons(root: Path) -> dict[str, str]:
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as conn:
        return dict(conn.execute("select table_name, reason from meta.builds where mode = 'full'").fetchall())


def test_a_full_build_when_a_partial_one_cannot_be_proven_equal(inbox, tmp_path, monkeypatch):
    monkeypatch.delenv("ZORG_FULL_REBUILD", raising=False)
    root = tmp_path / "root"
    shutil.copytree(inbox, root)
    maxima, months, payer = "marts.allocation_month_maxima", "marts.allocation_months", "marts.payer_lines"

    assert materialize(root, WITHOUT_REPORTS, as_of="2026-02-28").success
    assert set(_modes(root).values()) == {"full"}
    assert _reasons(root)[maxima] == "first build"

    assert materialize(root, WITHOUT_REPORTS, as_of="2026-01-31").success
    assert {t: _reasons(root).get(t) for t in (maxima, months, payer)} == dict.fromkeys(
        (maxima, months, payer), "as_of moved back")
    assert _modes(root)["staging.declaration_lines"] == "incremental"  # nothing changed, no as_of

    assert materialize(root, WITHOUT_REPORTS, as_of="2025-12-31").success
    assert materialize(root, WITHOUT_REPORTS, as_of="2026-01-31").success  # horizon: 31 December 2026
    assert _reasons(root)[maxima] == "as_of moved into a new year"
    assert _reasons(root)[months] == "marts.allocation_month_maxima was rebuilt in full or more than once since"
    assert _modes(root)[payer] == "incremental"

    assert materialize(root, WITHOUT_REPORTS, as_of="2026-01-31", maturity_months=3).success
    assert _reasons(root)[maxima] == "settings changed"

    monkeypatch.setenv("ZORG_FULL_REBUILD", "1")
    assert materialize(root, WITHOUT_REPORTS, as_of="2026-01-31", maturity_months=3).success
    assert set(_modes(root).values()) == {"full"}


def test_a_null_grain_value_means_a_full_build(tmp_path):
    """Grains are joined with '=', so a null key (impossible after validation, but written behind
    the loader's back) would be missed by a partial build: the model is built in full instead."""
    from pipeline.incremental import build_model
    from pipeline.ingest.load import ensure_raw_tables

    conn = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    ensure_raw_tables(conn, "allocations")

    def deliver(source_file: str, allocation_number: str | None) -> None:
        conn.execute("insert into raw.allocations (municipality_code, law, allocation_number, decided_on, "
                      "source_file, source_row) values ('0361', 'wmo', ?, timestamp '2026-01-05 10:00', ?, 1)",
                      [allocation_number, source_file])
        conn.execute("insert into raw.manifest (source_file, kind, sha256) values (?, 'allocations', ?)",
                     [source_file, source_file])

    deliver("a.csv", "1001")
    assert build_model(conn, "staging", "allocation_versions").reason == "first build"
    deliver("b.csv", "1002")
    assert build_model(conn, "staging", "allocation_versions").mode == "incremental"
    deliver("c.csv", None)
    build = build_model(conn, "staging", "allocation_versions")
    assert (build.mode, build.reason, build.rows) == ("full", "a touched grain value is null", 3)


def test_a_month_entering_the_window_gets_the_lines_that_reach_into_it():
    """allocation_months cuts the lines of a touched allocation-month to those whose product period
    spans that month. A legacy line of 20 September to 10 October, declared and approved in
    September, is unchanged when the reporting date moves to October, and so is September; only
    October enters the window. October's row must still count the line's share of its days
    (10 of 21 days of 21 hours = 10 hours), as the full build does."""
    from pipeline.incremental import build_model
    from pipeline.settings import MetricSettings
    from staging_schema import create_staging
    from test_marts_allocations import alloc, frame, line

    D = dt.date
    allocations = [alloc("A", D(2026, 8, 1), None, 30, "04", "4")]
    lines = [line("A", D(2026, 9, 20), 21, 210.0, period_end=D(2026, 10, 10), declared_on=D(2026, 9, 25)),
             line("A", D(2026, 8, 1), 5, 50.0, period_end=D(2026, 8, 31))]

    def warehouse(*as_ofs: dt.date) -> duckdb.DuckDBPyConnection:
        conn = duckdb.connect()
        create_staging(conn, allocation_versions=frame("allocation_versions", allocations),
                       declaration_lines=frame("declaration_lines", lines))
        conn.execute(incremental.META_DDL)  # the staging tables as built once, in full
        conn.execute("insert into meta.builds (table_name, seq, mode) select 'staging.' || table_name, 1, 'full' "
                     "from duckdb_tables() where schema_name = 'staging'")
        for as_of in as_ofs:
            build_model(conn, "staging", "observation_windows", MetricSettings().sql_params(as_of))
            for name in ("allocation_version_months", "allocation_month_maxima", "allocation_months"):
                build_model(conn, "marts", name, MetricSettings().sql_params(as_of))
        return conn

    part = warehouse(D(2026, 9, 30), D(2026, 10, 31))
    assert part.execute("select mode from meta.builds where table_name = 'marts.allocation_months'").fetchone() == (
        "incremental",)
    full = warehouse(D(2026, 10, 31))
    query = "select month, delivered_volume, declared_lines from marts.allocation_months order by month"
    assert part.execute(query).fetchall() == full.execute(query).fetchall() == [
        (D(2026, 8, 1), 5.0, 1), (D(2026, 9, 1), 11.0, 1), (D(2026, 10, 1), 10.0, 1)]


def test_a_moved_observation_window_means_a_full_build():
    """staging.observation_windows is built in full every time; allocation_months, which reads it,
    is still built in part while the windows hold the same rows, and in full when a window moves
    (older history loaded), because then every month before the old window becomes observed."""
    from pipeline.incremental import build_model
    from pipeline.settings import MetricSettings
    from staging_schema import create_staging
    from test_marts_allocations import alloc, frame, line

    D = dt.date
    conn = duckdb.connect()
    create_staging(conn, allocation_versions=frame("allocation_versions", [alloc("A", D(2026, 1, 1), None, 30, "04", "4")]),
                   declaration_lines=frame("declaration_lines", [line("A", D(2026, 8, 1), 5)]))
    conn.execute(incremental.META_DDL)
    conn.execute("insert into meta.builds (table_name, seq, mode) select 'staging.' || table_name, 1, 'full' "
                 "from duckdb_tables() where schema_name = 'staging'")

    def run(as_of: dt.date) -> tuple[str, str]:
        params = MetricSettings().sql_params(as_of)
        build_model(conn, "staging", "observation_windows", params)
        build_model(conn, "marts", "allocation_version_months", params)
        build_model(conn, "marts", "allocation_month_maxima", params)
        build = build_model(conn, "marts", "allocation_months", params)
        return build.mode, build.reason

    assert run(D(2026, 9, 30)) == ("full", "first build")
    assert run(D(2026, 10, 31)) == ("incremental", "")  # the window (August) did not move
    months = "select min(month), count(*) from marts.allocation_months"
    assert conn.execute(months).fetchall() == [(D(2026, 8, 1), 3)]
    # a line of March arrives (written here behind the loader's back): the window moves to March
    conn.register("_l", frame("declaration_lines", [line("A", D(2026, 3, 1), 5)]))
    conn.execute("insert into staging.declaration_lines by name select * from _l")
    assert run(D(2026, 10, 31)) == ("full", "staging.observation_windows was rebuilt in full or more than once since")
    assert conn.execute(months).fetchall() == [(D(2026, 3, 1), 8)]
