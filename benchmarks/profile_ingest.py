"""Profile the ingest of one kind with cProfile (no Dagster): load_kind into a scratch warehouse.

Run: ZORG_PSEUDONYM_KEY=k .venv/bin/python benchmarks/profile_ingest.py DATA_DIR KIND [--top 30] [--plain]
The data folder is used read-only apart from refused files being moved aside, as in a real run.
``--plain`` times the load without cProfile (whose overhead inflates the many small Polars calls
of the XML route): wall and CPU seconds only.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import pstats
import tempfile
import time
from pathlib import Path

import duckdb

from pipeline.assets.raw import load_kind
from pipeline.resources import DataFolders


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data", type=Path)
    parser.add_argument("kind")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--memory-limit", default="4GB")
    parser.add_argument("--plain", action="store_true", help="no cProfile: wall and CPU seconds only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        conn = duckdb.connect(str(Path(tmp) / "w.duckdb"), config={"threads": 2, "memory_limit": args.memory_limit})
        prof = cProfile.Profile()
        t0, c0 = time.perf_counter(), time.process_time()
        if not args.plain:
            prof.enable()
        report = load_kind(conn, args.kind, DataFolders(root=str(args.data)), dt.date.today())
        if not args.plain:
            prof.disable()
        print(f"{args.kind}: {report.rows_loaded} rows in {time.perf_counter() - t0:.1f}s "
              f"(CPU {time.process_time() - c0:.1f}s)")
        conn.close()
    if not args.plain:
        pstats.Stats(prof).sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":
    main()
