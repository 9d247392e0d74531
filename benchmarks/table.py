"""Print the figures of several benchmark runs side by side, as a Markdown table.

Run: .venv/bin/python benchmarks/table.py RUN1.json RUN2.json ...   (the --json files of run.py)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _stage(run: dict, name: str) -> dict | None:
    return next((s for s in run["stages"] if s["name"] == name), None)


def _ingest(run: dict) -> tuple[float, float]:
    """Wall and step seconds of every ingest stage together."""
    stages = [s for s in run["stages"] if s["name"].startswith("ingest ")]
    return sum(s["seconds"] for s in stages), sum(s["step_seconds"] or 0 for s in stages)


def _group(stage: dict, group: str) -> str:
    """A group's step time, or "?" when the log lacks its steps' "Finished execution" lines
    (Dagster did not print one for the last step of a run once)."""
    seconds = stage["steps_by_group"].get(group)
    return "?" if seconds is None else f"{seconds:.1f}"


def rows(runs: list[dict]) -> list[tuple[str, list[str]]]:
    def per(fn) -> list[str]:
        out = []
        for run in runs:
            try:
                out.append(fn(run))
            except (TypeError, KeyError, ZeroDivisionError):
                out.append("")
        return out

    def wall(name: str):
        return lambda r: f"{_stage(r, name)['seconds']:.1f}"

    def step(name: str):
        return lambda r: f"{_stage(r, name)['step_seconds']:.1f}"

    one_run = lambda r: r["pipeline_seconds_one_process"]  # noqa: E731
    inc = lambda r: _stage(r, "increment: +1 month ('*')")  # noqa: E731
    return [
        ("Wmo/Jeugd declaration lines in the full run", per(lambda r: f"{r['input_rows']['declarations']:,}")),
        ("wijkverpleging lines", per(lambda r: f"{r['input_rows']['zvw_declarations']:,}")),
        ("allocation rows", per(lambda r: f"{r['input_rows']['allocations']:,}")),
        ("floor: DuckDB reads every file once (s)", per(wall("floor (DuckDB read)"))),
        ("the floor's reads written into a DuckDB file (s)", per(wall("floor, stored (DuckDB load)"))),
        ("pandas peer, 3 figures (s)", per(wall("peer (pandas)"))),
        ("pandas peer peak RSS (MiB)", per(lambda r: f"{_stage(r, 'peer (pandas)')['peak_rss_mib']:,.0f}")),
        ("ingest, all kinds, with checks (s in steps)", per(lambda r: f"{_ingest(r)[1]:.1f}")),
        ("staging (s in steps)", per(step("staging"))),
        ("marts (s in steps)", per(step("marts"))),
        ("reports (s in steps)", per(step("reports"))),
        ("exports (s in steps)", per(step("exports"))),
        ("**pipeline as one run (s)**", per(lambda r: f"**{one_run(r):.1f}**")),
        ("pipeline CPU seconds, all stages", per(lambda r: f"{sum(s['cpu_seconds'] for s in r['stages'] if s['name'].startswith(('ingest ', 'staging', 'marts', 'reports', 'exports'))):.0f}")),
        ("lines per second (declarations + wijkverpleging)",
         per(lambda r: f"{(r['input_rows']['declarations'] + r['input_rows']['zvw_declarations']) / one_run(r):,.0f}")),
        ("peak RSS of any pipeline stage (MiB)", per(lambda r: f"{max(s['peak_rss_mib'] for s in r['stages'] if s['name'].startswith(('ingest ', 'staging', 'marts', 'reports', 'exports'))):,.0f}")),
        ("**+1 month into the loaded warehouse (s)**", per(lambda r: f"**{inc(r)['seconds']:.1f}**")),
        ("+1 month: ingest with checks / staging / marts / reports / exports (s in steps)",
         per(lambda r: " / ".join(_group(inc(r), g) for g in ("raw", "staging", "marts", "reports", "exports")))),
        ("pipeline ÷ floor (target ≤ 5)", per(lambda r: f"{one_run(r) / _stage(r, 'floor (DuckDB read)')['seconds']:.1f} ×")),
        ("writing the input alone ÷ floor", per(lambda r: f"{r['targets']['stored_over_floor']:.1f} ×")),
        ("pipeline ÷ pandas peer (target ≤ 0.1)", per(lambda r: f"{one_run(r) / _stage(r, 'peer (pandas)')['seconds']:.2f}")),
        ("writing the input alone ÷ pandas peer", per(lambda r: f"{_stage(r, 'floor, stored (DuckDB load)')['seconds'] / _stage(r, 'peer (pandas)')['seconds']:.2f}")),
        ("peak RSS incl. increment (target < 8192 MiB)", per(lambda r: f"{r['targets']['peak_rss_mib']:,.0f}")),
        ("increment ÷ full run (target ≤ 0.33)", per(lambda r: f"{r['targets']['increment_over_full']:.2f}")),
    ]


def main() -> None:
    runs = [json.loads(Path(p).read_text(encoding="utf-8")) for p in sys.argv[1:]]
    if not runs:
        raise SystemExit(__doc__)
    print("| scale | " + " | ".join(f"{r['scale']:g}" for r in runs) + " |")
    print("|---|" + "---:|" * len(runs))
    for label, values in rows(runs):
        print(f"| {label} | " + " | ".join(values) + " |")


if __name__ == "__main__":
    main()
