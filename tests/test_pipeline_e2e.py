"""End to end: dg.materialize over the small fixture inbox into a DuckDB file in tmp_path."""

import datetime as dt
import shutil
from decimal import Decimal

import dagster as dg

from conftest import materialize, query
from pipeline.definitions import all_assets, all_checks, defs

NOT_REPORTS = "key:raw/* or key:staging/* or key:marts/*"


def failed_checks(result) -> set[tuple[str, str]]:
    return {(e.asset_key.to_user_string(), e.check_name) for e in result.get_asset_check_evaluations() if not e.passed}


def test_definitions_load_and_every_sql_file_is_an_asset():
    dg.Definitions.validate_loadable(defs)
    keys = {k.to_user_string() for k in defs.resolve_all_asset_keys()}
    from pipeline.paths import SQL_DIR

    for path in SQL_DIR.rglob("*.sql"):
        assert f"{path.parent.name}/{path.stem}" in keys, path
    assert {"raw/declarations", "staging/calendar_days", "marts/ceiling_position", "reports/reports"} <= keys


def test_fixture_inbox_end_to_end(data_root):
    result = materialize(data_root, NOT_REPORTS, as_of="2025-03-31")
    assert result.success
    # The only failing check is the warning about line R8, declared on allocation 9999 that
    # does not exist (the municipality rejected it with 9338).
    assert failed_checks(result) == {("staging/declaration_lines", "lines_have_allocation")}

    # Rows received: allocations 5 + 2, declarations 2 + 8 + 1, answers 1 + 2, care events 5,
    # wijkverpleging 4, hours 2, reference 3 + 1 + 2 = 38.
    # Reconciliation: 5 allocation rows of which 1005 (elfproef) and 1006 (end before start) are
    # quarantined; declarations 2025-03: 8 rows, R1 again (duplicate) and R9 (credit of an
    # unknown debit) quarantined.
    assert query(data_root, "select sum(rows_received), sum(rows_loaded), sum(rows_quarantined) from raw.manifest") == [(38, 34, 4)]
    assert query(data_root, "select reason_code, count(*) from raw.quarantine group by all order by 1") == [
        ("credit_without_debit", 1), ("duplicate_reference", 1), ("end_before_start", 1), ("invalid_bsn", 1)]

    # Allocation 1004 was deleted (RedenWijziging 13) by its second version.
    assert query(data_root, "select allocation_number, is_deleted from staging.allocations order by 1") == [
        ("1001", False), ("1002", False), ("1003", False), ("1004", True)]
    # Approved net 0361 wmo: R1 1200 + R2 240 + R3 600 + R4 300 + R7 210 - R6 240 = 2310;
    # R8 rejected (9338), R5 declared after as_of; 0383 jeugd JR1 1000 pending (no answer).
    assert query(data_root, "select municipality_code, approved_eur, pending_eur from marts.budget_exhaustion order by 1") == [
        ("0361", Decimal("2310.00"), Decimal("0.00")), ("0383", Decimal("0.00"), Decimal("1000.00"))]
    # Allocation 1001: 3 h/week 2025-01-01..03-31 (metrics.md §4 example): maxima 15, 15, 18;
    # January 20 > 15 is a peak, compensated because 20 + 10 <= 42.
    assert query(data_root, "select month, max_volume, delivered_volume, period_overshoot from marts.allocation_months "
                            "where allocation_number = '1001' order by month") == [
        (dt.date(2025, 1, 1), 15.0, 20.0, True), (dt.date(2025, 2, 1), 15.0, 10.0, False),
        (dt.date(2025, 3, 1), 18.0, 0.0, False)]
    assert query(data_root, "select peak_months, compensated_peak_months from marts.allocation_totals "
                            "where allocation_number = '1001'") == [(1, 1)]
    # Commitments: 1002 (huishoudelijke hulp 2 h/week, open-ended) runs April-December: 9 months
    # x 6 x 2 h = 108 h x EUR 30 x expected utilisation 7/12 (January, the only mature month:
    # 7 h delivered of 12) = 1890. 1003 (Jeugd, 10 h a month, no mature history): 9 x 10 x 100 = 9000.
    assert query(data_root, "select allocation_number, committed_eur from marts.allocation_totals order by 1") == [
        ("1001", Decimal("0.00")), ("1002", Decimal("1890.00")), ("1003", Decimal("9000.00"))]
    # Ceiling 3000, stop_payment: approved Z1 750 + Z2 1500 (3 Feb) + Z3 900 (4 Mar) = 3150;
    # reached on 4 March, paid 3000, 150 above the ceiling.
    assert query(data_root, "select realised_eur, ceiling_reached_on, paid_eur, above_ceiling_eur, alert "
                            "from marts.ceiling_position") == [
        (Decimal("3150.00"), dt.date(2025, 3, 4), Decimal("3000.00"), Decimal("150.00"), "reached")]
    # No raw BSN anywhere in the database file.
    content = (data_root / "warehouse.duckdb").read_bytes()
    assert b"999900006" not in content and b"999900018" not in content


def test_second_run_changes_nothing(data_root):
    first = materialize(data_root, NOT_REPORTS, as_of="2025-03-31")
    assert first.success
    tables = ["staging.declaration_lines", "marts.allocation_months", "marts.budget_exhaustion", "marts.ceiling_position"]
    before = {t: query(data_root, f"select * from {t} order by all") for t in tables}
    manifest = query(data_root, "select source_file, sha256, loaded_at from raw.manifest order by 1")
    second = materialize(data_root, NOT_REPORTS, as_of="2025-03-31")
    assert second.success
    assert {t: query(data_root, f"select * from {t} order by all") for t in tables} == before
    assert query(data_root, "select source_file, sha256, loaded_at from raw.manifest order by 1") == manifest


def test_older_as_of_reproduces_that_month(data_root):
    # As of 28 February: M2 (declared 5 March) does not count yet, M1 was answered 12 February.
    result = materialize(data_root, NOT_REPORTS, as_of="2025-02-28")
    assert result.success
    assert query(data_root, "select approved_eur, pending_eur from marts.budget_exhaustion where municipality_code = '0361'") == [
        (Decimal("1440.00"), Decimal("0.00"))]  # R1 1200 + R2 240


def test_bad_file_in_the_inbox_is_refused_and_the_rest_loads(data_root):
    (data_root / "inbox" / "declarations" / "broken.csv").write_bytes(b"\x00\x01\x02 not a csv")
    (data_root / "inbox" / "iwmo" / "garbage.xml").write_text("<not-iwmo/>")
    result = materialize(data_root, NOT_REPORTS, as_of="2025-03-31")
    assert result.success
    refused = query(data_root, "select source_file, reason_code from raw.quarantine where source_row is null order by 1")
    assert [r[0] for r in refused] == ["inbox/declarations/broken.csv", "inbox/iwmo/garbage.xml"]
    assert (data_root / "refused" / "declarations" / "broken.csv").exists()
    assert query(data_root, "select count(*) from staging.declaration_lines") == [(9,)]


def test_reconciliation_and_schema_checks_fail_on_tampered_rows(data_root, tmp_path):
    assert materialize(data_root, "key:raw/allocations").success
    import duckdb

    with duckdb.connect(str(data_root / "warehouse.duckdb")) as conn:
        conn.execute("delete from raw.allocations where allocation_number = '1001'")
        # a row that bypassed validation: gemeentecode of three digits
        conn.execute("update raw.allocations set municipality_code = '361' where allocation_number = '1002'")
    result = dg.materialize(
        [*all_assets, *all_checks], resources=__import__("conftest").resources_for(data_root),
        selection=dg.AssetSelection.checks_for_assets(dg.AssetKey(["raw", "allocations"])), raise_on_error=False)
    assert failed_checks(result) == {("raw/allocations", "rows_reconcile"), ("raw/allocations", "pandera_schema")}


def test_schema_check_validates_a_file_again_only_when_its_rows_change(data_root):
    def validated(result) -> int:
        [evaluation] = [e for e in result.get_asset_check_evaluations() if e.check_name == "pandera_schema"]
        return evaluation.metadata["rows_validated"].value

    assert validated(materialize(data_root, "key:raw/allocations")) == query(
        data_root, "select count(*) from raw.allocations")[0][0]
    assert validated(materialize(data_root, "key:raw/allocations")) == 0  # nothing changed
    import duckdb

    with duckdb.connect(str(data_root / "warehouse.duckdb")) as conn:
        [(source_file, rows)] = conn.execute(
            "select source_file, count(*) from raw.allocations where source_file = "
            "(select min(source_file) from raw.allocations) group by all").fetchall()
        conn.execute("update raw.allocations set volume = volume + 1 where source_file = ? and source_row = "
                     "(select min(source_row) from raw.allocations where source_file = ?)", [source_file, source_file])
    assert validated(materialize(data_root, "key:raw/allocations")) == rows  # that file's rows only


def test_inbox_sensor_requests_a_run_only_when_files_change(data_root):
    from pipeline.definitions import inbox_sensor

    context = dg.build_sensor_context(cursor=None)
    first = list(inbox_sensor(context))
    assert len(first) == 1 and isinstance(first[0], dg.RunRequest)
    cursor = context.cursor
    again = dg.build_sensor_context(cursor=cursor)
    assert list(inbox_sensor(again)) == []  # nothing changed
    (data_root / "inbox" / "answers" / "new.csv").write_text("provider_agb,message_id,answered_on,return_codes\n")
    changed = dg.build_sensor_context(cursor=cursor)
    assert len(list(inbox_sensor(changed))) == 1
