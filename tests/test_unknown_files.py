"""Files that no kind reads are refused with a reason, never ignored in silence: a reference file
named after no reference table, a file in an inbox folder that is no kind, a file loose in the inbox."""

from conftest import materialize, query


def test_files_no_kind_reads_are_refused_with_their_reason(data_root):
    (data_root / "reference" / "regions.csv").write_text("code,name\n1,Noord\n", encoding="utf-8")
    (data_root / "reference" / "budget.csv").write_text("municipality_code,year\n0361,2025\n", encoding="utf-8")
    (data_root / "inbox" / "declaraties").mkdir()
    (data_root / "inbox" / "declaraties" / "jan.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    (data_root / "inbox" / "loose.csv").write_text("a,b\n1,2\n", encoding="utf-8")

    result = materialize(data_root, "key:raw/*")
    assert result.success
    refused = query(data_root, "select source_file, reason_code from raw.quarantine "
                               "where reason_code like 'unknown_%' order by 1")
    assert refused == [
        ("inbox/declaraties/jan.csv", "unknown_inbox_folder"),
        ("inbox/loose.csv", "unknown_inbox_folder"),
        ("reference/budget.csv", "unknown_reference_file"),
        ("reference/regions.csv", "unknown_reference_file"),
    ]
    # moved aside like every refused file, and the known files still load
    assert any((data_root / "refused").rglob("regions.csv"))
    assert not (data_root / "reference" / "regions.csv").exists()
    assert query(data_root, "select count(*) from raw.budgets") != [(0,)]
    # a second run finds nothing new to refuse and changes nothing
    assert materialize(data_root, "key:raw/*").success
    assert query(data_root, "select count(*) from raw.quarantine where reason_code like 'unknown_%'") == [(4,)]
