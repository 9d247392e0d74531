"""The floor: DuckDB reading every input file once (row count and one sum per file), nothing else.

Run: .venv/bin/python benchmarks/floor.py DATA_DIR [--threads 2] [--memory-limit 4GB]
Prints one JSON object: seconds, files, rows and the per-kind row counts. Files the pipeline
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


def _csv_query(files: list[str], total: str | None) -> str:
    agg = f"sum(try_cast({total} as double))" if total else "0.0"
    return (f"select filename, count(*), {agg} from read_csv({files!r}, header=true, "
            f"all_varchar=true, filename=true) group by filename")


def floor(data: Path, threads: int, memory_limit: str) -> dict:
    conn = duckdb.connect(":memory:", config={"threads": threads, "memory_limit": memory_limit})
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
            per_file += [(kind, *r) for r in conn.sql(_csv_query(csv, total)).fetchall()]
        for path in dutch:  # Windows-1252: DuckDB without the encodings extension refuses it
            frame = pl.read_csv(path, separator=";", encoding="utf8-lossy", infer_schema=False)
            amount = (frame[DUTCH_AMOUNT].str.replace_all(".", "", literal=True)
                      .str.replace(",", ".", literal=True).cast(pl.Float64, strict=False).sum()) if total else 0.0
            per_file.append((kind, path, frame.height, amount))
        if parquet:
            agg = f"sum(try_cast({total} as double))" if total else "0.0"
            per_file += [(kind, *r) for r in conn.sql(
                f"select filename, count(*), {agg} from read_parquet({parquet!r}, filename=true) group by filename"
            ).fetchall()]
        for path in xlsx:
            frame = pl.read_excel(path, infer_schema_length=0)
            amount = frame[total].cast(pl.Float64, strict=False).sum() if total else 0.0
            per_file.append((kind, str(path), frame.height, amount))
    # iWmo/iJw XML messages: no DuckDB reader; the floor is one lxml parse per file
    xml_files = sorted((data / "inbox" / "iwmo").glob("*.xml")) if (data / "inbox" / "iwmo").is_dir() else []
    xml_elements = 0
    for path in xml_files:
        xml_elements += int(etree.parse(str(path)).getroot().xpath("count(//*)"))
    seconds = time.perf_counter() - t0
    conn.close()
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
    args = parser.parse_args()
    print(json.dumps(floor(args.data, args.threads, args.memory_limit)))


if __name__ == "__main__":
    main()
