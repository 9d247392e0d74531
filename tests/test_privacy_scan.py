"""Privacy scan: synthetic demo data through the whole pipeline, then every place data lands is
searched for every BSN of the inbox and for the pseudonym key. None may be found.

Searched: the DuckDB file's bytes (and any WAL), every text value of every table in it (so
compression cannot hide a hit), the quarantine table, the Dagster event log of the run (every
event serialised, metadata included), the console log output, the Parquet exports, and the
reports (HTML text and the cells of every Excel sheet) when the reports package is importable.
"""

from __future__ import annotations

import datetime as dt
import importlib
import re
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from conftest import resources_for

NINE_DIGITS = re.compile(r"(?<!\d)\d{9}(?!\d)")
KEY = "privacy-scan-key-7Qx2Lw9pZr"  # distinctive, so any leak of it is found
AS_OF = "2025-05-31"


def reports_importable() -> bool:
    try:
        importlib.import_module("pipeline.reports")
    except Exception:  # the reports helper's package may be mid-edit or absent
        return False
    return True


# -- the demo inbox, made compact ----------------------------------------------------------------


def _merge_text(files: list[Path]) -> None:
    """Concatenate CSV exports of one layout (same header, same encoding) into the first file."""
    header, body = None, []
    for path in files:
        lines = path.read_bytes().splitlines(keepends=True)
        assert header in (None, lines[0]), f"{path.name} has another header"
        header = lines[0]
        body += [line if line.endswith((b"\n", b"\r")) else line + b"\r\n" for line in lines[1:]]
    files[0].write_bytes(header + b"".join(body))
    for path in files[1:]:
        path.unlink()


def _merge_frames(files: list[Path], read, write) -> None:
    merged = pl.concat([read(p) for p in files], how="vertical")
    for path in files[1:]:
        path.unlink()
    write(merged, files[0])


def compact_demo(root: Path) -> None:
    """The demo writes one file per municipality and month. Each layout of each kind is merged
    into one file (every row kept, every format kept: canonical CSV, the Dutch cp1252 CSV,
    Parquet, XLSX, the truncated Parquet), so the run takes seconds, not minutes."""
    for folder in sorted(p for p in (root / "inbox").iterdir() if p.is_dir()):
        files = sorted(folder.iterdir())
        groups = {
            "nl": [p for p in files if p.suffix == ".csv" and "_nl_" in p.name],
            "csv": [p for p in files if p.suffix == ".csv" and "_nl_" not in p.name],
            "parquet": [p for p in files if p.suffix == ".parquet" and "truncated" not in p.name],
            "xlsx": [p for p in files if p.suffix == ".xlsx"],
        }
        for layout, group in groups.items():
            if len(group) < 2:
                continue
            if layout in ("nl", "csv"):
                _merge_text(group)
            elif layout == "parquet":
                _merge_frames(group, pl.read_parquet, lambda f, p: f.write_parquet(p))
            else:
                _merge_frames(group, lambda p: pl.read_excel(p, infer_schema_length=0),
                              lambda f, p: f.write_excel(p, autofilter=False))


def inbox_bsns(root: Path) -> set[str]:
    """Every nine-digit number in the inbox: in the bytes of every file (any encoding is ASCII
    for digits), and in every value of the Parquet and Excel files that can be read."""
    found: set[str] = set()
    for path in sorted((root / "inbox").rglob("*")):
        if not path.is_file():
            continue
        found |= set(NINE_DIGITS.findall(path.read_bytes().decode("latin-1")))
        frames = []
        try:
            if path.suffix == ".parquet":
                frames = [pl.read_parquet(path)]
            elif path.suffix == ".xlsx":
                frames = list(pl.read_excel(path, sheet_id=0, infer_schema_length=0).values())
        except Exception:  # the deliberately truncated Parquet file cannot be read
            frames = []
        for frame in frames:
            text = frame.select(pl.all().cast(pl.String)).write_csv()
            found |= set(NINE_DIGITS.findall(text))
    return found


# -- scanners --------------------------------------------------------------------------------


def leaks_in_text(text: str, secrets: set[str]) -> set[str]:
    return {s for s in secrets if s in text}


def database_text_values(db: Path) -> list[str]:
    """Every distinct text value of every column (cast to text) of every table."""
    values: list[str] = []
    with duckdb.connect(str(db), read_only=True) as conn:
        columns = conn.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where table_schema not in ('information_schema', 'pg_catalog') order by all"
        ).fetchall()
        for schema, table, column in columns:
            rows = conn.execute(
                f'select distinct cast("{column}" as varchar) from "{schema}"."{table}" '
                f'where "{column}" is not null'
            ).fetchall()
            values += [r[0] for r in rows]
    return values


def excel_text(path: Path) -> str:
    sheets = pl.read_excel(path, sheet_id=0, infer_schema_length=0, raise_if_empty=False)
    return "\n".join(
        f"{name}\n{','.join(frame.columns)}\n{frame.select(pl.all().cast(pl.String)).write_csv()}"
        for name, frame in sheets.items()
    )


# -- the test ------------------------------------------------------------------------------------


def test_no_bsn_and_no_key_anywhere_after_a_full_run_on_demo_data(tmp_path, monkeypatch, capfd):
    from pipeline import demo

    root = tmp_path / "data"
    demo.generate(root, seed=11, scale=0.01, as_of=dt.date.fromisoformat(AS_OF))
    compact_demo(root)
    (root / "inbox" / "iwmo").mkdir(exist_ok=True)
    # A file the CSV reader cannot parse, whose error quotes the field holding a BSN.
    some_bsn = sorted(inbox_bsns(root))[0]
    header = (root / "inbox" / "answers").glob("*.csv").__next__().read_text(encoding="utf-8").splitlines()[0]
    (root / "inbox" / "answers" / "zz_unescaped_quote.csv").write_text(f'{header}\n"{some_bsn},x\n', encoding="utf-8")
    bsns = inbox_bsns(root)
    assert len(bsns) > 50  # the scan has something to look for
    secrets = bsns | {KEY}

    monkeypatch.setenv("ZORG_PSEUDONYM_KEY", KEY)
    monkeypatch.setenv("ZORG_DATA_DIR", str(root))
    reports_dir = tmp_path / "reports"
    monkeypatch.setenv("ZORG_REPORTS_DIR", str(reports_dir))
    with_reports = reports_importable()
    selection = "key:raw/* or key:staging/* or key:marts/* or key:exports/*" + (
        " or key:reports/*" if with_reports else "")

    from pipeline.definitions import all_assets, all_checks

    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([*all_assets, *all_checks], resources=resources_for(root), selection=selection,
                            instance=instance, raise_on_error=False)
    assert result.success
    db = root / "warehouse.duckdb"
    loaded = duckdb.connect(str(db), read_only=True).execute(
        "select sum(rows_loaded), sum(rows_quarantined), count(*) filter (where status = 'refused') from raw.manifest"
    ).fetchall()[0]
    assert loaded[0] > 500 and loaded[1] > 0 and loaded[2] >= 2  # good rows, bad rows, refused files

    # The pseudonyms are there (so the BSNs did flow through), the BSNs are not.
    with duckdb.connect(str(db), read_only=True) as conn:
        ids = conn.execute("select count(distinct client_id) from raw.declarations").fetchall()[0][0]
        quarantine = conn.execute("select coalesce(reason_text, '') || ' ' || coalesce(record, '') from raw.quarantine").fetchall()
    assert ids > 10
    quarantined = "\n".join(q[0] for q in quarantine)
    assert "<masked>" in quarantined  # rows with a (bad) BSN reached the quarantine, masked
    assert not leaks_in_text(quarantined, secrets)

    # 1. the database file's bytes (and a write-ahead log, if one is left)
    for path in [db, db.with_name(db.name + ".wal")]:
        if path.exists():
            assert not leaks_in_text(path.read_bytes().decode("latin-1"), secrets), path.name
    # 2. every text value of every table, however it is stored
    values = "\n".join(database_text_values(db))
    assert not leaks_in_text(values, secrets)
    # 3. the Dagster event log of the run (messages, metadata, errors), and the console log
    entries = instance.all_logs(result.run_id)
    assert len(entries) > 100
    log_text = "\n".join(dg.serialize_value(entry) for entry in entries)
    assert "rows_loaded_this_run" in log_text  # the metadata is part of what was scanned
    assert "truncated.parquet" in log_text and "zz_unescaped_quote.csv" in log_text  # and the refusals
    assert not leaks_in_text(log_text, secrets)
    captured = capfd.readouterr()
    assert not leaks_in_text(captured.out + captured.err, secrets)
    # 4. the Parquet exports
    exported = sorted((root / "exports" / "marts").glob("*.parquet"))
    assert exported
    for path in exported:
        frame = pl.read_parquet(path)
        text = path.read_bytes().decode("latin-1") + frame.select(pl.all().cast(pl.String)).write_csv()
        assert not leaks_in_text(text, secrets), path.name
    # 5. the reports
    print(f"scanned for {len(bsns)} BSNs; reports included: {with_reports}")
    if with_reports:
        written = [p for p in reports_dir.rglob("*") if p.is_file()]
        assert any(p.suffix == ".html" for p in written)
        for path in written:
            if path.suffix == ".xlsx":
                text = excel_text(path)
            elif path.suffix in (".html", ".csv", ".json", ".txt", ".md"):
                text = path.read_text(encoding="utf-8", errors="replace")
            else:
                continue
            assert not leaks_in_text(text, secrets), path.name
