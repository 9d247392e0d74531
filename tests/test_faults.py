"""Faults and concurrency: SIGKILL in the middle of a run, a warehouse held by another process,
readers during a run, a crash between a refusal's commit and its move, and a corrected file
replaced back. Nothing is lost, nothing is half-loaded, and the figures come out as without the fault.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from conftest import FIXTURE_DATA, TEST_KEY, materialize, query

AS_OF = "2025-03-31"
PIPELINE = "key:raw/* or key:staging/* or key:marts/* or key:exports/*"
TESTS_DIR = Path(__file__).resolve().parent
TIMESTAMPS = {"loaded_at", "quarantined_at", "mtime_ns", "ctime_ns", "inode", "first_loaded_at"}  # file metadata and times

RUNNER = """
import sys
sys.path.insert(0, sys.argv[4])
from pathlib import Path
from conftest import materialize
result = materialize(Path(sys.argv[1]), sys.argv[2], as_of=sys.argv[3])
sys.exit(0 if result.success else 1)
"""

HOLDER = """
import sys, duckdb
conn = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "ro")
print("holding", flush=True)
sys.stdin.read()   # hold the file until the test closes our stdin
conn.close()
"""


# -- helpers ---------------------------------------------------------------------------------


def _child_env(root: Path) -> dict[str, str]:
    # tiny ingest batches: many commits per kind, so a kill can land between two of them
    env = {**os.environ, "ZORG_DATA_DIR": str(root), "ZORG_PSEUDONYM_KEY": TEST_KEY, "PYTHONUNBUFFERED": "1",
           "ZORG_INGEST_BATCH_ROWS": "10", "ZORG_REPORTS_DIR": str(root / "reports")}
    env.pop("DAGSTER_HOME", None)  # an ephemeral instance, never a real one
    return env


class PipelineProcess:
    """`dg.materialize` of the whole pipeline in a child process whose log lines we watch."""

    def __init__(self, root: Path, script: Path):
        self.proc = subprocess.Popen(
            [sys.executable, str(script), str(root), PIPELINE, AS_OF, str(TESTS_DIR)],
            env=_child_env(root), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True, errors="replace",
        )
        self.lines: list[str] = []
        self._seen = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            with self._seen:
                self.lines.append(line)
                self._seen.notify_all()
        with self._seen:
            self._seen.notify_all()

    def wait_for(self, pattern: str, timeout: float = 60) -> bool:
        """Wait until a log line matches; False if the process ended or the time ran out first."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        checked = 0
        with self._seen:
            while True:
                for line in self.lines[checked:]:
                    if regex.search(line):
                        return True
                checked = len(self.lines)
                if self.proc.poll() is not None and not self._reader.is_alive():
                    return False
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._seen.wait(min(left, 0.2))

    def kill(self) -> int:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        code = self.proc.wait(timeout=30)
        self._reader.join(timeout=10)
        return code

    def finish(self, timeout: float = 120) -> int:
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=10)
        return code


def _normalise(value):
    return round(value, 6) if isinstance(value, float) else value


def snapshot(root: Path) -> dict[str, list[tuple]]:
    """Every raw, staging and marts table, sorted, without load timestamps."""
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as conn:
        tables = conn.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in ('raw', 'staging', 'marts') order by all"
        ).fetchall()
        result = {}
        for schema, name in tables:
            columns = [
                c for (c,) in conn.execute(
                    "select column_name from information_schema.columns where table_schema = ? "
                    "and table_name = ? order by ordinal_position", [schema, name]
                ).fetchall() if c not in TIMESTAMPS
            ]
            rows = conn.execute(f"select {', '.join(chr(34) + c + chr(34) for c in columns)} from {schema}.{name} order by all").fetchall()
            result[f"{schema}.{name}"] = [tuple(_normalise(v) for v in row) for row in rows]
    return result


def raw_kinds_present(root: Path) -> list[str]:
    from pipeline.schemas import INBOX_KINDS, REFERENCE_KINDS

    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as conn:
        present = {n for (n,) in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'raw'").fetchall()}
    return [k for k in (*INBOX_KINDS, *REFERENCE_KINDS) if k in present]


def assert_nothing_half_loaded(root: Path) -> int:
    """Run the pipeline's own reconciliation checks on every raw table that exists, and check
    that no row or quarantine record exists without its file's manifest entry. Returns the
    number of files in the manifest."""
    if not (root / "warehouse.duckdb").exists():
        return 0
    kinds = raw_kinds_present(root)
    if not kinds:
        return 0
    from pipeline.checks import evaluate
    from pipeline.resources import Warehouse

    # The pipeline's own rows_reconcile checks, evaluated directly on the killed run's warehouse.
    warehouse = Warehouse(database=str(root / "warehouse.duckdb"))
    for kind in kinds:
        evaluation = evaluate(warehouse, ("raw", kind), "rows_reconcile")
        assert evaluation.passed, (kind, evaluation.metadata)
    orphans = []
    for kind in kinds:
        orphans += query(root, f"select distinct source_file from raw.{kind} "
                               "where source_file not in (select source_file from raw.manifest)")
    orphans += query(root, "select distinct source_file from raw.quarantine "
                           "where source_file not in (select source_file from raw.manifest)")
    assert orphans == []
    return query(root, "select count(*) from raw.manifest")[0][0]


def assert_raw_is_part_of(expected: dict[str, list[tuple]], root: Path) -> None:
    """Every raw row present after a kill is a row of the uninterrupted run (as a multiset)."""
    from collections import Counter

    if not raw_kinds_present(root):
        return
    for table, rows in snapshot(root).items():
        if table.startswith("raw."):
            missing = Counter(rows) - Counter(expected[table])
            assert not missing, (table, list(missing)[:3])


def bigger_inbox(root: Path, copies: int) -> None:
    """The fixture inbox plus `copies` renamed copies of its allocation, declaration and
    wijkverpleging files (keys suffixed so they are new rows), so ingest takes a moment."""
    inbox = root / "inbox"
    keyed = {
        "allocations": ["allocation_number"],
        "declarations": ["allocation_number", "reference_number", "previous_reference_number", "message_id"],
        "zvw_declarations": ["reference_number", "previous_reference_number"],
    }
    for kind, columns in keyed.items():
        for path in sorted((FIXTURE_DATA / "inbox" / kind).glob("*.csv")):
            frame = pl.read_csv(path, infer_schema=False)
            for i in range(copies):
                suffix = f"x{i:02d}"
                frame.with_columns(pl.col(c) + suffix for c in columns).write_csv(
                    inbox / kind / f"{path.stem}_{suffix}.csv")
    # one unreadable file, refused and moved aside
    (inbox / "declarations" / "zz_broken.csv").write_bytes(b"\x00\x01\x02 not an export")


def inbox_files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                  if p.is_file() and p.parts[len(root.parts)] in ("inbox", "reference", "refused"))


def exports(root: Path) -> dict[str, pl.DataFrame]:
    """The Parquet exports, without load timestamps, sorted."""
    frames = {p.stem: pl.read_parquet(p) for p in sorted((root / "exports" / "marts").glob("*.parquet"))}
    frames = {name: frame.drop(TIMESTAMPS, strict=False) for name, frame in frames.items()}
    return {name: frame.sort(frame.columns, nulls_last=True) for name, frame in frames.items()}


# -- crash safety ----------------------------------------------------------------------------

# (log line that triggers the kill, seconds after it): right after the first committed batch of
# declarations (allocations, answers and reference tables were committed before), right after the
# first batch of wijkverpleging files, and in the middle of the marts.
KILL_POINTS = [
    (r"raw__declarations - committed ", 0.0),
    (r"raw__zvw_declarations - committed ", 0.0),
    (r'STEP_START - Started execution of step "marts__', 0.2),
]


def test_sigkill_during_ingest_and_marts_loses_nothing_and_the_rerun_gives_the_same_figures(tmp_path):
    script = tmp_path / "run_pipeline.py"
    script.write_text(RUNNER)
    baseline = tmp_path / "baseline"
    shutil.copytree(FIXTURE_DATA, baseline)
    bigger_inbox(baseline, copies=5)
    crashed = tmp_path / "crashed"
    shutil.copytree(baseline, crashed)

    # An uninterrupted run.
    result = materialize(baseline, PIPELINE, as_of=AS_OF)
    assert result.success
    expected = snapshot(baseline)
    expected_exports = exports(baseline)
    expected_files = inbox_files(baseline)
    total_files = len(expected["raw.manifest"])
    # (2 allocation + 3 declaration + 1 wijkverpleging files) x 6, the broken file, 2 answers,
    # care events, hours and 3 reference tables
    assert total_files == 6 * 6 + 1 + 2 + 1 + 1 + 3

    # The same inbox, killed with SIGKILL at each point in turn, every run resuming the last.
    progress = []
    for i, (pattern, delay) in enumerate(KILL_POINTS):
        run = PipelineProcess(crashed, script)
        try:
            assert run.wait_for(pattern), f"kill point {pattern} never reached:\n{''.join(run.lines[-20:])}"
            time.sleep(delay)
            if i == 0:
                # Meanwhile a second run (here: its warehouse resource) fails fast and names the holder.
                from pipeline.resources import Warehouse

                started = time.monotonic()
                with pytest.raises(RuntimeError, match=rf"locked by process {run.proc.pid}\b.*Close the DuckDB shell"):
                    with Warehouse(database=str(crashed / "warehouse.duckdb")).connect():
                        pass
                assert time.monotonic() - started < 5
        finally:
            code = run.kill()
        assert code == -signal.SIGKILL, "the run ended before it could be killed"
        # The warehouse is consistent after the kill: every manifest entry has exactly its rows,
        # and they are the rows (and manifest entries, quarantine records) of the uninterrupted run.
        progress.append(assert_nothing_half_loaded(crashed))
        assert_raw_is_part_of(expected, crashed)
    # The kills landed where intended: during ingest (some but not all files), and after it.
    assert 0 < progress[0] < total_files, progress
    assert progress[0] <= progress[1] < total_files, progress
    assert progress[2] == total_files, progress

    # The next run completes, with the figures of the uninterrupted run.
    result = materialize(crashed, PIPELINE, as_of=AS_OF)
    assert result.success
    assert snapshot(crashed) == expected
    got_exports = exports(crashed)
    assert got_exports.keys() == expected_exports.keys() and got_exports
    for name, frame in expected_exports.items():
        assert got_exports[name].equals(frame), name
    # No input file lost: the inbox, the reference folder and refused/ hold the same files.
    assert inbox_files(crashed) == expected_files
    assert "refused/declarations/zz_broken.csv" in expected_files


def test_crash_between_a_refusals_commit_and_its_move_is_finished_by_the_next_run(tmp_path, monkeypatch):
    """A refused file is recorded (manifest, quarantine) in one transaction and then moved to
    refused/. A run that dies in between leaves it in the inbox; the next run moves it."""
    import datetime as dt

    from pipeline.ingest import load as load_module
    from pipeline.ingest.load import Loader
    from pipeline.ingest.tabular import load_profiles

    folder = tmp_path / "inbox" / "declarations"
    folder.mkdir(parents=True)
    bad = folder / "bad.csv"
    bad.write_bytes(b"\x00\x01 not an export")
    conn = duckdb.connect(str(tmp_path / "w.duckdb"))

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("killed between commit and move")

    monkeypatch.setattr(load_module.shutil, "move", crash)
    loader = Loader(conn, "declarations", b"k", dt.date(2026, 1, 1), tmp_path / "refused")
    with pytest.raises(KeyboardInterrupt):
        loader.load_tabular(bad, "inbox/declarations/bad.csv", load_profiles())
    assert conn.execute("select status from raw.manifest").fetchall() == [("refused",)]
    assert bad.exists()
    monkeypatch.undo()

    again = Loader(conn, "declarations", b"k", dt.date(2026, 1, 1), tmp_path / "refused")
    result = again.load_tabular(bad, "inbox/declarations/bad.csv", load_profiles())
    assert result.status == "unchanged"
    assert not bad.exists()
    assert (tmp_path / "refused" / "declarations" / "bad.csv").read_bytes() == b"\x00\x01 not an export"
    assert conn.execute("select count(*), min(reason_code) from raw.quarantine").fetchall() == [(1, "not_an_export")]


# -- concurrency -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def loaded_fixture(tmp_path_factory) -> Path:
    """The fixture inbox run once through the pipeline and its exports (copied per test)."""
    root = tmp_path_factory.mktemp("loaded") / "data"
    shutil.copytree(FIXTURE_DATA, root)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ZORG_PSEUDONYM_KEY", TEST_KEY)
        mp.setenv("ZORG_DATA_DIR", str(root))
        mp.setenv("ZORG_REPORTS_DIR", str(root / "reports"))
        assert materialize(root, PIPELINE, as_of=AS_OF).success
    return root


@pytest.fixture
def loaded(loaded_fixture, tmp_path, monkeypatch) -> Path:
    root = tmp_path / "data"
    shutil.copytree(loaded_fixture, root)
    monkeypatch.setenv("ZORG_DATA_DIR", str(root))
    monkeypatch.setenv("ZORG_REPORTS_DIR", str(root / "reports"))
    return root


@pytest.mark.parametrize("holder_mode", ["rw", "ro"])
def test_run_against_a_held_warehouse_fails_fast_names_the_holder_and_corrupts_nothing(loaded, holder_mode):
    before = snapshot(loaded)
    before_exports = exports(loaded)
    from pipeline.assets.exports import PUBLISHED

    assert before_exports and set(before_exports) == set(PUBLISHED) < {
        k.split(".")[1] for k in before if k.startswith("marts.")}
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(loaded / "warehouse.duckdb"), holder_mode],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        started = time.monotonic()
        result = materialize(loaded, PIPELINE, as_of=AS_OF)
        elapsed = time.monotonic() - started
        assert not result.success
        assert elapsed < 30, f"a run against a locked warehouse took {elapsed:.1f} s to fail"
        failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
        assert failures and all(e.step_key.startswith("raw__") for e in failures)
        for event in failures:
            message = event.step_failure_data.error.to_string()  # with its cause
            assert f"locked by process {holder.pid}" in message and f"PID {holder.pid}" in message
            assert "Close the DuckDB shell" in message and "exports/marts" in message
        # Nothing downstream ran on a half-loaded warehouse.
        assert not result.get_asset_materialization_events()
        # While a writer holds the file DuckDB refuses even read-only readers (other read-only
        # readers may share it); the Parquet exports can always be read.
        if holder_mode == "rw":
            with pytest.raises(duckdb.IOException, match=rf"PID {holder.pid}"):
                duckdb.connect(str(loaded / "warehouse.duckdb"), read_only=True)
        during = exports(loaded)
        assert during.keys() == before_exports.keys()
        for name, frame in before_exports.items():
            assert during[name].equals(frame), name
            assert during[name].height == len(before[f"marts.{name}"]), name
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    # The failed attempt changed nothing, and (once) the next run succeeds with the same figures.
    assert snapshot(loaded) == before
    if holder_mode == "rw":
        assert materialize(loaded, PIPELINE, as_of=AS_OF).success
        assert snapshot(loaded) == before


def test_exports_are_replaced_atomically_and_a_crash_midway_leaves_the_old_files(loaded, monkeypatch):
    from pipeline.assets import exports as exports_module
    from pipeline.resources import Warehouse

    folder = loaded / "exports" / "marts"
    before = {p.name: p.read_bytes() for p in folder.glob("*.parquet")}
    assert before and not list(folder.glob(".tmp-*"))
    calls = []

    def crash_on_third_rename(src, dst):
        calls.append(Path(dst).name)
        if len(calls) == 3:
            raise KeyboardInterrupt("killed during the export")
        os.rename(src, dst)

    with duckdb.connect(str(loaded / "warehouse.duckdb")) as conn:
        conn.execute("update marts.budget_exhaustion set approved_eur = approved_eur + 1")
    monkeypatch.setattr(exports_module.os, "replace", crash_on_third_rename)
    with Warehouse(database=str(loaded / "warehouse.duckdb")).connect() as conn:
        with pytest.raises(KeyboardInterrupt):
            exports_module.export_marts(conn, folder)
    # Every file is complete: either the old one or (the two renamed) the new one.
    for name, content in before.items():
        pl.read_parquet(folder / name)
        if name not in calls[:2]:
            assert (folder / name).read_bytes() == content, name
    monkeypatch.undo()
    with Warehouse(database=str(loaded / "warehouse.duckdb")).connect() as conn:
        rows = exports_module.export_marts(conn, folder)
    assert not list(folder.glob(".tmp-*")), "temporary files of the interrupted export were not cleaned up"
    assert set(rows) == {p.stem for p in folder.glob("*.parquet")}
    changed = pl.read_parquet(folder / "budget_exhaustion.parquet")
    old = pl.read_parquet(io.BytesIO(before["budget_exhaustion.parquet"]))
    assert (changed["approved_eur"] - old["approved_eur"]).to_list() == [1] * old.height


# -- idempotency and correction --------------------------------------------------------------


def test_a_corrected_file_replaces_its_predecessor_and_replacing_it_back_restores_the_figures(loaded):
    declarations = loaded / "inbox" / "declarations" / "declaraties_0361_2025-03.csv"
    original = declarations.read_bytes()
    before = snapshot(loaded)
    downstream = dg.AssetSelection.assets(dg.AssetKey(["raw", "declarations"])).downstream()

    # The provider corrects R3: 600.00 becomes 900.00 (volume 10 -> 15).
    lines = original.decode().splitlines(keepends=True)
    r3 = next(i for i, line in enumerate(lines) if ",R3," in line)
    lines[r3] = lines[r3].replace(",10,04,60.00,600.00,", ",15,04,60.00,900.00,")
    corrected = "".join(lines).encode()
    assert corrected != original
    declarations.write_bytes(corrected)
    assert materialize(loaded, downstream, as_of=AS_OF).success
    after = snapshot(loaded)
    # One manifest entry for the file, its rows replaced (not appended), the figures moved by 300.
    assert query(loaded, "select count(*), sum(rows_received) from raw.manifest where source_file like '%0361_2025-03.csv'") == [
        (1, len(lines) - 1)]
    assert len(after["raw.declarations"]) == len(before["raw.declarations"])
    assert query(loaded, "select volume, amount_eur from raw.declarations where reference_number = 'R3'") == [(15.0, 900.0)]
    assert after["marts.budget_exhaustion"] != before["marts.budget_exhaustion"]

    # The original comes back: the marts are exactly those of before.
    declarations.write_bytes(original)
    assert materialize(loaded, downstream, as_of=AS_OF).success
    assert snapshot(loaded) == before


def test_a_second_refused_file_of_the_same_name_does_not_overwrite_the_first(tmp_path):
    import datetime as dt

    from pipeline.ingest.load import Loader
    from pipeline.ingest.tabular import load_profiles

    folder = tmp_path / "inbox" / "allocations"
    folder.mkdir(parents=True)
    conn = duckdb.connect(str(tmp_path / "w.duckdb"))
    contents = [b"\x00 first broken delivery", b"\x00 second broken delivery"]
    for content in contents:
        (folder / "bad.csv").write_bytes(content)
        loader = Loader(conn, "allocations", b"k", dt.date(2026, 1, 1), tmp_path / "refused")
        assert loader.load_tabular(folder / "bad.csv", "inbox/allocations/bad.csv", load_profiles()).status == "refused"
    kept = sorted(p.read_bytes() for p in (tmp_path / "refused" / "allocations").iterdir())
    assert kept == sorted(contents)
