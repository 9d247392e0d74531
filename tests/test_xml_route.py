"""The iWmo/iJw XML route gives the same staging rows as the tabular route for the same data."""

import shutil
from pathlib import Path

import polars as pl

from conftest import FIXTURE_DATA, materialize, query
from pipeline.ingest.iwmo_writer import write_messages

XML_KINDS = ("allocations", "declarations", "answers", "care_events")
COMPARED = {
    "allocation_versions": "source_file",
    "declaration_lines": "source_file, source_row",
    "answers": "source_file",
    "care_events": "source_file",
}


def _canonical(kind: str) -> pl.DataFrame:
    files = sorted((FIXTURE_DATA / "inbox" / kind).glob("*.csv"))
    return pl.concat([pl.read_csv(f, infer_schema=False) for f in files], how="diagonal")


def _xml_root(tmp_path: Path) -> Path:
    """The fixture inbox with the four message kinds written as XML messages instead of CSV."""
    root = tmp_path / "xml"
    shutil.copytree(FIXTURE_DATA, root)
    iwmo = root / "inbox" / "iwmo"
    iwmo.mkdir(exist_ok=True)
    declarations = _canonical("declarations")
    for kind in XML_KINDS:
        shutil.rmtree(root / "inbox" / kind)
        frame = _canonical(kind)
        for law in ("wmo", "jeugd"):
            part = frame.filter(pl.col("law") == law)
            if part.height:
                extra = {"declarations": declarations.filter(pl.col("law") == law)} if kind == "answers" else {}
                write_messages(kind, part, iwmo, law=law, **extra)
    return root


def _rows(root: Path, table: str) -> list[tuple]:
    return query(root, f"select * exclude ({COMPARED[table]}) from staging.{table} order by all")


def test_xml_and_tabular_routes_give_identical_staging_rows(tmp_path, monkeypatch):
    tabular = tmp_path / "tabular"
    shutil.copytree(FIXTURE_DATA, tabular)
    xml = _xml_root(tmp_path)
    assert len(list((xml / "inbox" / "iwmo").glob("*.xml"))) >= 6
    selection = "key:raw/* or key:staging/*"
    assert materialize(tabular, selection).success
    assert materialize(xml, selection).success
    for table in COMPARED:
        assert _rows(xml, table) == _rows(tabular, table), table
    # both routes quarantine the same rows for the same reasons
    reasons = "select kind, reason_code, count(*) from raw.quarantine group by all order by all"
    assert query(xml, reasons) == query(tabular, reasons)
    assert query(xml, "select distinct route from raw.declarations") == [("xml",)]
