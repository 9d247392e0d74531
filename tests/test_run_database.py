"""A run opens the warehouse once: every step a cursor of the one open database."""

import duckdb

from conftest import materialize
from pipeline.assets.exports import export_marts


def test_a_run_opens_the_warehouse_once_and_closes_it(data_root, monkeypatch):
    from pipeline.resources import Warehouse

    opened = []
    original = Warehouse._open

    def counting_open(self):
        opened.append(self.database)
        return original(self)

    monkeypatch.setattr(Warehouse, "_open", counting_open)
    result = materialize(data_root, "key:raw/* or key:staging/*", as_of="2025-03-31")
    assert result.success
    assert len(opened) == 1
    # closed at the end of the run: another process-wide configuration may open it now
    with duckdb.connect(str(data_root / "warehouse.duckdb"), read_only=True) as conn:
        assert conn.execute("select count(*) from staging.declaration_lines").fetchone()[0] > 0


def test_the_export_restores_the_insertion_order_setting(tmp_path):
    # a global setting: the steps after the export share its database
    conn = duckdb.connect()
    conn.execute("create schema marts; create table marts.rekenfactor as select 1 as x")
    export_marts(conn, tmp_path / "out")
    assert conn.execute("select current_setting('preserve_insertion_order')").fetchone()[0] is True
    assert (tmp_path / "out" / "rekenfactor.parquet").exists()
