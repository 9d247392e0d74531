"""The benchmark's own arithmetic: step time per asset group, read from Dagster's log."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

RUN_PY = Path(__file__).parent.parent / "benchmarks" / "run.py"


@pytest.fixture(scope="module")
def run_module():
    spec = importlib.util.spec_from_file_location("benchmark_run", RUN_PY)
    module = importlib.util.module_from_spec(spec)
    sys.modules["benchmark_run"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    yield module
    del sys.modules["benchmark_run"]


def test_step_time_is_summed_per_asset_group(run_module):
    log = "\n".join([
        'x - raw__declarations - STEP_SUCCESS - Finished execution of step "raw__declarations" in 1m 2.5s.',
        'x - STEP_SUCCESS - Finished execution of step "raw__declarations_pandera_schema" in 949ms.',
        'x - STEP_SUCCESS - Finished execution of step "staging__answers" in 1.25s.',
        'x - STEP_START - Started execution of step "marts__payer_lines".',  # not finished: not counted
        'x - STEP_SUCCESS - Finished execution of step "reports__reports" in 1h 0m 3s.',
    ])
    # by hand: raw 62.5 + 0.949 = 63.449; staging 1.25; reports 3600 + 3 = 3603
    assert run_module.steps_by_group(log) == pytest.approx({"raw": 63.449, "staging": 1.25, "reports": 3603.0})


@pytest.fixture(scope="module")
def floor_module():
    spec = importlib.util.spec_from_file_location("benchmark_floor", RUN_PY.parent / "floor.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_stored_floor_writes_every_row_it_reads(floor_module, tmp_path):
    import duckdb
    import polars as pl

    inbox = tmp_path / "data" / "inbox" / "declarations"
    inbox.mkdir(parents=True)
    (inbox / "a.csv").write_text("reference_number,amount_eur\nR1,10.50\nR2,-2.25\nR3,1\n", encoding="utf-8")
    (inbox / "b.csv").write_text("reference_number,amount_eur\nR4,7\nR5,0.75\n", encoding="utf-8")
    pl.DataFrame({"reference_number": ["R6"], "amount_eur": [3.0]}).write_parquet(inbox / "c.parquet")
    read = floor_module.floor(tmp_path / "data", 1, "1GB")
    stored = floor_module.floor(tmp_path / "data", 1, "1GB", tmp_path / "stored.duckdb")
    assert read["rows_per_kind"] == stored["rows_per_kind"] == {"declarations": 6}
    assert read["files"] == stored["files"] == 3
    conn = duckdb.connect(str(tmp_path / "stored.duckdb"), read_only=True)
    tables = [t for (t,) in conn.execute("select table_name from duckdb_tables() order by 1").fetchall()]
    union = " union all by name ".join(f"select reference_number, amount_eur::varchar as amount from {t}" for t in tables)
    # by hand: six rows, 10.50 - 2.25 + 1 + 7 + 0.75 + 3 = 20
    assert conn.execute(f"select count(distinct reference_number), sum(amount::double) from ({union})").fetchone() == (
        6, pytest.approx(20.0))


def test_a_last_step_without_its_finished_line_gets_the_rest_of_the_run(run_module):
    log = "\n".join([
        'x - STEP_START - Started execution of step "marts__payer_lines".',
        'x - STEP_SUCCESS - Finished execution of step "marts__payer_lines" in 2.5s.',
        'x - STEP_START - Started execution of step "exports__marts_parquet".',
        'x - ENGINE_EVENT - Finished steps in process (pid: 7258) in 1m4.02s',  # no line for the export
    ])
    # by hand: 64.02 - 2.5 = 61.52 for the export
    assert run_module.steps_by_group(log) == pytest.approx({"marts": 2.5, "exports": 61.52})
