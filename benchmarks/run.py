"""Scale benchmark: generate demo data, run the pipeline stage by stage, compare with a floor and a peer.

Run: .venv/bin/python benchmarks/run.py --scale 100   (or `make bench SCALE=100`)

Everything happens in a fresh temporary folder (data, warehouse, reports, DAGSTER_HOME holding a
copy of dagster.yaml with its storage moved there); nothing in the repository is touched. Steps:

1. generate   `python -m pipeline.demo --out <tmp>/data --scale S` (the demo generator).
2. hold back  the files of the latest month (every inbox file named after it; the yearly
              delivered-hours files are cut to the earlier months), so step 6 can add them.
3. floor      benchmarks/floor.py: DuckDB reading every input file once (count and sum per file);
              then the same reads written into a new DuckDB file (--store): what merely keeping
              the input costs, before anything is typed, checked or computed.
4. peer       benchmarks/pandas_peer.py: the core figures in plain pandas (comparison only).
5. pipeline   `dagster asset materialize --select <stage> -m pipeline`, one process per stage:
              ingest per raw kind, then staging, marts, reports and any other asset group —
              exactly what `dagster asset materialize --select '*' -m pipeline` runs, cut in
              pieces. Each stage pays the process start (import of Dagster and the pipeline);
              that cost is measured once and shown.
6. increment  put the held-back month into the inbox and run the README's command once
              (`--select '*'`): the cost of a monthly refresh of a loaded warehouse.

Per stage: wall seconds, CPU seconds and the peak resident memory of the stage's process tree
(os.wait4's rusage). DuckDB settings come from --threads/--memory-limit (ZORG_DUCKDB_THREADS,
ZORG_DUCKDB_MEMORY_LIMIT). A JSON file with every figure is written next to the printout
(--json). The machine's load average is printed, because other processes skew timings.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DAGSTER = str(Path(PYTHON).with_name("dagster"))
GROUP_ORDER = ["raw", "staging", "marts", "reports"]


_STEP_DONE = re.compile(r'Finished execution of step "([^"]+)" in ([0-9hms. ]+)\.')
_DURATION = re.compile(r"([0-9.]+)(h|ms|m|s)")
_UNIT = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}


_STEP_START = re.compile(r'Started execution of step "([^"]+)"')
_STEPS_DONE = re.compile(r"Finished steps in process \(pid: \d+\) in ([0-9hms. ]+)")


def _seconds(duration: str) -> float:
    return sum(float(v) * _UNIT[u] for v, u in _DURATION.findall(duration))


def steps_by_group(log_text: str) -> dict[str, float]:
    """Dagster step durations in a run's log summed per asset group (the step name's prefix:
    raw with its checks, calendars, staging, marts, reports, exports): the work, without process
    start and run bookkeeping.

    Dagster sometimes prints no "Finished execution of step" line for a run's last step. A step
    that started and has no such line gets the rest of the run's "Finished steps in process"
    time (the steps' total; what lies between steps is under a second in a run of 70 steps)."""
    groups: dict[str, float] = {}
    finished = _STEP_DONE.findall(log_text)
    for step, duration in finished:
        group = step.split("__", 1)[0]
        groups[group] = groups.get(group, 0.0) + _seconds(duration)
    unfinished = set(_STEP_START.findall(log_text)) - {step for step, _ in finished}
    total = _STEPS_DONE.search(log_text)
    if len(unfinished) == 1 and total:
        group = unfinished.pop().split("__", 1)[0]
        rest = max(_seconds(total.group(1)) - sum(groups.values()), 0.0)
        groups[group] = groups.get(group, 0.0) + rest
    return groups


@dataclass
class Stage:
    name: str
    seconds: float
    cpu_seconds: float
    peak_rss_mib: float
    rows: int | None = None
    step_seconds: float | None = None
    steps_by_group: dict = field(default_factory=dict)
    ok: bool = True
    note: str = ""
    output: dict = field(default_factory=dict)

    def line(self) -> str:
        rate = f"{self.rows / self.seconds:>12,.0f} rows/s" if self.rows and self.seconds else " " * 19
        rows = f"{self.rows:>12,}" if self.rows is not None else " " * 12
        flag = "" if self.ok else "  FAILED"
        steps = f"{self.step_seconds:>8.1f} s in steps " if self.step_seconds is not None else " " * 19
        return (f"{self.name:<28} {self.seconds:>9.1f} s {self.cpu_seconds:>9.1f} cpu-s "
                f"{self.peak_rss_mib:>8,.0f} MiB {rows} {rate} {steps}{self.note}{flag}")


def run(name: str, argv: list[str], env: dict, rows: int | None = None, log: Path | None = None,
        parse_json: bool = False, announce: bool = True) -> Stage:
    """Run one stage as a child process; time it and read its peak RSS from wait4."""
    out = tempfile.TemporaryFile() if log else subprocess.DEVNULL
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.PIPE if parse_json else out, stderr=out)
    stdout = proc.stdout.read() if parse_json else b""
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    steps, groups = None, {}
    if log:
        out.seek(0)
        text = out.read().decode(errors="replace")
        out.close()
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(f"===== {name}: {' '.join(argv)}\n{text}")
        if "Started execution of step" in text:
            groups = steps_by_group(text)
            steps = sum(groups.values())
    output = {}
    if parse_json and proc.returncode == 0:
        text = stdout.decode().strip()
        try:
            output = json.loads(text)  # the generator prints indented JSON
        except json.JSONDecodeError:
            output = json.loads(text.splitlines()[-1])
    stage = Stage(name, seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, rows,
                  step_seconds=steps, steps_by_group=groups, ok=proc.returncode == 0, output=output)
    if announce:
        print(stage.line(), flush=True)
    return stage


def asset_groups() -> dict[str, list[str]]:
    """Asset keys per group, in pipeline order (raw, staging, marts, reports, then the rest)."""
    code = ("import json; from pipeline import defs; g = {}\n"
            "for s in defs.resolve_all_asset_specs(): g.setdefault(s.group_name, []).append(s.key.to_user_string())\n"
            "print(json.dumps(g))")
    out = subprocess.run([PYTHON, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True)
    groups = json.loads(out.stdout.strip().splitlines()[-1])
    order = GROUP_ORDER + sorted(set(groups) - set(GROUP_ORDER))
    return {g: sorted(groups[g]) for g in order if g in groups}


def hold_back_last_month(data: Path, held: Path, as_of: dt.date) -> list[str]:
    """Move the files of the as_of month out of the inbox; cut yearly delivered-hours files."""
    import polars as pl

    month = f"{as_of:%Y-%m}"
    moved = []
    for path in sorted((data / "inbox").rglob(f"*_{month}.*")):
        target = held / path.relative_to(data)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(path, target)
        moved.append(path.relative_to(data).as_posix())
    first = as_of.replace(day=1)
    iso_year, iso_week, _ = first.isocalendar()
    week = f"{iso_year}-W{iso_week:02d}"
    for path in sorted((data / "inbox" / "delivered_hours").glob(f"*_{as_of.year}.csv")):
        target = held / path.relative_to(data)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
        frame = pl.read_csv(path, infer_schema=False)
        frame.filter(pl.col("month").is_not_null() & (pl.col("month") < month)
                     | pl.col("week").is_not_null() & (pl.col("week") < week)).write_csv(path)
        moved.append(path.relative_to(data).as_posix() + " (cut to earlier months)")
    return moved


def restore(data: Path, held: Path) -> None:
    for path in sorted(p for p in held.rglob("*") if p.is_file()):
        target = data / path.relative_to(held)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(path, target)


def warehouse_rows(database: Path) -> dict[str, int]:
    import duckdb

    conn = duckdb.connect(str(database), read_only=True)
    try:
        tables = conn.sql("select schema_name, table_name, estimated_size from duckdb_tables()").fetchall()
        return {f"{s}.{t}": conn.sql(f"select count(*) from {s}.{t}").fetchall()[0][0] for s, t, _ in tables}
    finally:
        conn.close()


def core_figures(database: Path) -> dict[str, float]:
    """The pipeline's figures that the pandas peer also computes, for a cross-check."""
    import duckdb

    conn = duckdb.connect(str(database), read_only=True)
    try:
        q = {
            "approved_eur": "select sum(approved_amount_eur) from marts.allocation_months",
            "ceiling_realised_eur": "select sum(realised_eur) from marts.ceiling_position "
                                    "where payer_code in (select distinct insurer_code from staging.zvw_lines)",
        }
        return {k: float(conn.sql(v).fetchall()[0][0] or 0) for k, v in q.items()}
    finally:
        conn.close()


def loadavg() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="demo scale; 100 ≈ 10 million declaration lines")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=dt.date(2026, 10, 31), dest="as_of",
                        help="the generator's as_of; its month is held back and added in the increment")
    parser.add_argument("--threads", type=int, default=int(os.environ.get("ZORG_DUCKDB_THREADS", "2")))
    parser.add_argument("--memory-limit", default=os.environ.get("ZORG_DUCKDB_MEMORY_LIMIT", "4GB"))
    parser.add_argument("--workdir", type=Path, default=None, help="default: a new folder under the system temp dir")
    parser.add_argument("--keep", action="store_true", help="keep the generated data and warehouse")
    parser.add_argument("--data", type=Path, default=None,
                        help="copy this generated data folder (python -m pipeline.demo --out DIR --scale S, same "
                             "--as-of) instead of generating; it is copied, never changed")
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument("--skip-increment", action="store_true")
    parser.add_argument("--json", type=Path, default=None, help="write every figure here (default: <workdir>/bench.json)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix=f"zorg-bench-s{args.scale:g}-", dir=args.workdir))
    data, reports, home, held = work / "data", work / "reports", work / "dagster_home", work / "held"
    home.mkdir()
    config = (ROOT / "dagster.yaml").read_text(encoding="utf-8")
    # run storage and compute logs into that folder too
    (home / "dagster.yaml").write_text(config.replace("base_dir: .dagster/", f"base_dir: {home}/"), encoding="utf-8")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "ZORG_DATA_DIR": str(data),
        "ZORG_REPORTS_DIR": str(reports),
        "ZORG_DUCKDB_THREADS": str(args.threads),
        "ZORG_DUCKDB_MEMORY_LIMIT": args.memory_limit,
        "ZORG_PSEUDONYM_KEY": os.environ.get("ZORG_PSEUDONYM_KEY") or secrets.token_hex(32),
    }
    env.pop("ZORG_PSEUDONYM_KEY_FILE", None)
    log = work / "stages.log"
    print(f"benchmark scale {args.scale:g} in {work} (DuckDB threads {args.threads}, memory limit "
          f"{args.memory_limit}; {os.cpu_count()} cpus, load average {loadavg()})")
    print(f"{'stage':<28} {'wall':>11} {'cpu':>15} {'peak RSS':>12} {'rows':>12} {'throughput':>19}")
    results: dict = {"scale": args.scale, "threads": args.threads, "memory_limit": args.memory_limit,
                     "started": dt.datetime.now().isoformat(timespec="seconds"), "load_before": loadavg()}
    stages: list[Stage] = []
    try:
        if args.data:
            t0 = time.perf_counter()
            shutil.copytree(args.data, data)
            summary = json.loads((data / "summary.json").read_text(encoding="utf-8"))
            gen = Stage("copy generated data", time.perf_counter() - t0, 0.0, 0.0,
                        sum(summary.get("rows", {}).values()), note=f"(from {args.data})")
            print(gen.line(), flush=True)
        else:
            gen = run("generate", [PYTHON, "-m", "pipeline.demo", "--out", str(data), "--scale", f"{args.scale:g}",
                                   "--seed", str(args.seed), "--as-of", args.as_of.isoformat()], env, log=log,
                      parse_json=True)
            gen.rows = sum(gen.output.get("rows", {}).values()) if gen.ok else None
        stages.append(gen)
        if not gen.ok:
            raise SystemExit(f"generator failed; see {log}")
        results["held_back"] = hold_back_last_month(data, held, args.as_of)

        floor = run("floor (DuckDB read)", [PYTHON, str(ROOT / "benchmarks" / "floor.py"), str(data),
                                            "--threads", str(args.threads), "--memory-limit", args.memory_limit],
                    env, log=log, parse_json=True)
        floor.rows = floor.output.get("rows")
        input_rows = floor.output.get("rows_per_kind", {})
        stored = run("floor, stored (DuckDB load)", [
            PYTHON, str(ROOT / "benchmarks" / "floor.py"), str(data), "--threads", str(args.threads),
            "--memory-limit", args.memory_limit, "--store", str(work / "stored.duckdb")], env, log=log, parse_json=True)
        stored.rows = stored.output.get("rows")
        (work / "stored.duckdb").unlink(missing_ok=True)
        if not args.skip_peer:
            peer = run("peer (pandas)", [PYTHON, str(ROOT / "benchmarks" / "pandas_peer.py"), str(data)], env,
                       rows=input_rows.get("declarations", 0) + input_rows.get("allocations", 0)
                       + input_rows.get("zvw_declarations", 0), log=log, parse_json=True)
        startup = run("process start (import)", [PYTHON, "-c", "import pipeline"], env, log=log)

        pipeline_stages: list[Stage] = []
        for group, keys in asset_groups().items():
            pieces = [(f"ingest {k.split('/', 1)[1]}", [k]) for k in keys] if group == "raw" else [(group, keys)]
            for name, selection in pieces:
                kind = selection[0].split("/", 1)[1] if group == "raw" else None
                stage = run(name, [DAGSTER, "asset", "materialize", "--select", ",".join(selection), "-m", "pipeline"],
                            env, log=log, announce=not kind)
                if kind and stage.ok:  # rows now in raw.<kind> (tabular and XML routes)
                    stage.rows = warehouse_rows(data / "warehouse.duckdb").get(f"raw.{kind}")
                if kind:
                    print(stage.line(), flush=True)
                pipeline_stages.append(stage)
                if not stage.ok:
                    raise SystemExit(f"stage {name} failed; see {log}")
        total = sum(s.seconds for s in pipeline_stages)
        # Every stage pays a process start and Dagster's run bookkeeping; one '*' run pays it
        # once. Per-stage overhead = wall - step time; the one-run estimate keeps one mean overhead.
        overheads = [s.seconds - s.step_seconds for s in pipeline_stages if s.step_seconds is not None]
        per_run = sum(overheads) / len(overheads) if overheads else startup.seconds
        overhead = total - sum(s.step_seconds or 0 for s in pipeline_stages) - per_run
        full = Stage("pipeline, all stages", total, sum(s.cpu_seconds for s in pipeline_stages),
                     max(s.peak_rss_mib for s in pipeline_stages), sum(s.rows or 0 for s in pipeline_stages),
                     note=f"(incl. {len(pipeline_stages)} process starts)")
        print(full.line())
        results["loaded_rows"] = warehouse_rows(data / "warehouse.duckdb")
        results["pipeline_core_figures"] = core_figures(data / "warehouse.duckdb")

        increment = None
        if not args.skip_increment:
            restore(data, held)
            increment = run("increment: +1 month ('*')",
                            [DAGSTER, "asset", "materialize", "--select", "*", "-m", "pipeline"], env, log=log)
            if not increment.ok:
                raise SystemExit(f"the incremental run failed; see {log}")

        # Targets (issue 6)
        floor_s, one_run = floor.seconds, total - overhead
        print()
        print(f"floor {floor_s:.1f} s; pipeline {total:.1f} s in {len(pipeline_stages)} processes; as one run "
              f"≈ {one_run:.1f} s (step time + one run overhead of {per_run:.1f} s) = "
              f"{one_run / floor_s:.1f} × floor (target ≤ 5)")
        print(f"the floor's reads written into a DuckDB file (nothing typed, checked or computed): "
              f"{stored.seconds:.1f} s = {stored.seconds / floor_s:.1f} × floor")
        targets = {"pipeline_over_floor": one_run / floor_s, "stored_over_floor": stored.seconds / floor_s,
                   "peak_rss_mib": max(s.peak_rss_mib for s in pipeline_stages + ([increment] if increment else []))}
        if not args.skip_peer and peer.ok:
            targets["peer_over_pipeline"] = peer.seconds / one_run
            ratio = (f"the pipeline is {peer.seconds / one_run:.1f} × faster" if peer.seconds >= one_run
                     else f"pandas is {one_run / peer.seconds:.1f} × faster")
            print(f"pandas peer {peer.seconds:.1f} s: {ratio} (target: pipeline ≥ 10 × faster, "
                  f"{peer.seconds / 10:.1f} s; writing the input alone takes {stored.seconds:.1f} s); "
                  f"peer approved €{peer.output['approved_eur']:,.0f} vs pipeline "
                  f"€{results['pipeline_core_figures']['approved_eur']:,.0f}, ceilings realised "
                  f"€{peer.output['ceiling_realised_eur']:,.0f} vs €{results['pipeline_core_figures']['ceiling_realised_eur']:,.0f}")
        print(f"peak RSS {targets['peak_rss_mib']:,.0f} MiB (target < 8192 MiB; DuckDB memory limit {args.memory_limit})")
        if increment:
            targets["increment_over_full"] = increment.seconds / one_run
            print(f"adding one month: {increment.seconds:.1f} s = {increment.seconds / one_run:.2f} × a full run (target ≤ 0.33); "
                  "in steps: " + ", ".join(f"{g} {s:.1f} s" for g, s in increment.steps_by_group.items()))
        print(f"load average now {loadavg()}")
        results.update({
            "stages": [asdict(s) for s in stages + [floor, stored] + ([] if args.skip_peer else [peer]) + [startup]
                       + pipeline_stages + ([increment] if increment else [])],
            "input_rows": input_rows, "pipeline_seconds": total, "pipeline_seconds_one_process": one_run,
            "startup_seconds": startup.seconds, "run_overhead_seconds": per_run, "targets": targets, "load_after": loadavg(),
        })
    finally:
        out = args.json or work / "bench.json"
        out.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
        print(f"figures: {out}")
        if not args.keep:
            for child in (data, reports, held, home):
                shutil.rmtree(child, ignore_errors=True)
            print(f"removed the generated data; log and figures kept in {work}")


if __name__ == "__main__":
    main()
