"""The floor: DuckDB reading every input file once (row count and one sum per file), nothing else.

Run: .venv/bin/python benchmarks/floor.py DATA_DIR [--threads 2] [--memory-limit 4GB] [--store FILE]
Prints one JSON object: seconds, files, rows and the per-kind row counts. With ``--store`` the same
reads are also written: every kind's rows, as the text the floor reads, into a table of a new
DuckDB file, closed and checkpointed. The difference to the floor is what writing the input into
a warehouse costs, before anything is typed, validated, pseudonymised or computed. Files the pipeline
refuses as unreadable (a truncated Parquet file) are skipped. DuckDB 2.0 has no bundled Excel
reader here (the `excel` extension is not installed), so the few XLSX files are read with Polars'
calamine reader, the same reader the pipeline uses.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import duckdb
import polars as pl
from lxml import etree

# kind -> the numeric column summed per file (None: count only)
SUM_COLUMN = {
    "allocations": "volume",
    "declarations": "amount_eur",
    "answers": None,
    "care_events": None,
    "zvw_declarations": "amount_eur",
    "delivered_hours": "hours",
    "products": None,
    "ceilings": "ceiling_eur",
    "budgets": "budget_eur",
}
DUTCH_AMOUNT = "Ingediend bedrag"


def _valid_parquet(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(-4, 2)
        return handle.read(4) == b"PAR1"


class _Reader:
    """Count and sum per file of a relation; in store mode the relation is first stored as a table."""

    def __init__(self, conn: duckdb.DuckDBPyConnection, store: bool):
        self.conn, self.store, self.tables = conn, store, 0

    def _keep(self, kind: str, relation: str) -> str:
        """Store the relation as a new table (store mode) and return what to read it from."""
        if not self.store:
            return relation
        self.tables += 1
        self.conn.execute(f"create table {kind}_{self.tables} as {relation}")
        return f"select * from {kind}_{self.tables}"

    def per_file(self, kind: str, relation: str, total: str | None) -> list[tuple]:
        agg = f"sum(try_cast({total} as double))" if total else "0.0"
        relation = self._keep(kind, relation)
        return [(kind, *r) for r in self.conn.sql(
            f"select filename, count(*), {agg} from ({relation}) group by filename").fetchall()]

    def frame(self, kind: str, path: Path | str, frame: pl.DataFrame, total: str | None) -> tuple:
        amount = 0.0
        if total:  # the Dutch export writes 1.234,56
            text = pl.col(total).cast(pl.String)
            if Path(path).suffix == ".csv":
                text = text.str.replace_all(".", "", literal=True).str.replace(",", ".", literal=True)
            amount = frame.select(text.cast(pl.Float64, strict=False).sum()).item()
        self.conn.register("_frame", frame)
        self._keep(kind, "select * from _frame")
        self.conn.unregister("_frame")
        return (kind, str(path), frame.height, amount)


def floor(data: Path, threads: int, memory_limit: str, store: Path | None = None) -> dict:
    conn = duckdb.connect(str(store) if store else ":memory:", config={"threads": threads, "memory_limit": memory_limit})
    reader = _Reader(conn, store is not None)
    per_file: list[tuple] = []
    t0 = time.perf_counter()
    folders = [(k, data / "inbox" / k) for k in SUM_COLUMN if (data / "inbox" / k).is_dir()]
    reference = data / "reference"
    for kind, folder in folders + [(k, reference) for k in ("products", "ceilings", "budgets")]:
        pattern = f"{kind}*" if folder == reference else "*"
        files = sorted(p for p in folder.glob(pattern) if p.is_file())
        total = SUM_COLUMN[kind]
        csv = [str(p) for p in files if p.suffix == ".csv" and "_nl_" not in p.name]
        dutch = [str(p) for p in files if p.suffix == ".csv" and "_nl_" in p.name]
        parquet = [str(p) for p in files if p.suffix == ".parquet" and _valid_parquet(p)]
        xlsx = [p for p in files if p.suffix == ".xlsx"]
        if csv:
            per_file += reader.per_file(
                kind, f"select * from read_csv({csv!r}, header=true, all_varchar=true, filename=true)", total)
        for path in dutch:  # Windows-1252: DuckDB without the encodings extension refuses it
            frame = pl.read_csv(path, separator=";", encoding="utf8-lossy", infer_schema=False)
            per_file.append(reader.frame(kind, path, frame, DUTCH_AMOUNT if total else None))
        if parquet:
            per_file += reader.per_file(kind, f"select * from read_parquet({parquet!r}, filename=true)", total)
        for path in xlsx:
            per_file.append(reader.frame(kind, path, pl.read_excel(path, infer_schema_length=0), total))
    # iWmo/iJw XML messages: no DuckDB reader; the floor is one lxml parse per file (not stored:
    # their elements have no table shape before the reader maps them)
    xml_files = sorted((data / "inbox" / "iwmo").glob("*.xml")) if (data / "inbox" / "iwmo").is_dir() else []
    xml_elements = 0
    for path in xml_files:
        xml_elements += int(etree.parse(str(path)).getroot().xpath("count(//*)"))
    conn.close()  # stored: the checkpoint writes the tables into the file
    seconds = time.perf_counter() - t0
    rows: dict[str, int] = {}
    for kind, _, n, _ in per_file:
        rows[kind] = rows.get(kind, 0) + n
    return {"seconds": seconds, "files": len(per_file) + len(xml_files), "rows": sum(rows.values()),
            "rows_per_kind": rows, "xml_files": len(xml_files), "xml_elements": xml_elements}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory-limit", default="4GB")
    parser.add_argument("--store", type=Path, help="also store every kind's rows in this new DuckDB file")
    args = parser.parse_args()
    if args.store and args.store.exists():
        raise SystemExit(f"{args.store} exists; --store writes a new file")
    print(json.dumps(floor(args.data, args.threads, args.memory_limit, args.store)))


if __name__ == "__main__":
    main()
