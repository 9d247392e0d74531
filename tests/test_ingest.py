"""Readers, profiles and every kind of bad input of inputs.md: a clear reason, nothing lost,
the rest still loads."""

import datetime as dt
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipeline.ingest.load import Loader
from pipeline.ingest.tabular import FileRefused, load_profiles, read_file

TODAY = dt.date(2026, 11, 22)
ALLOC_HEADER = (
    "municipality_code,allocation_number,law,client_bsn,provider_agb,product_category,product_code,"
    "decided_on,start_date,end_date,volume,unit,frequency,budget_eur,change_reason"
)
GOOD_ALLOC = "0361,1001,wmo,999900006,12345678,02,02A03,2025-01-02 10:00:00,2025-01-01,2025-03-31,3,04,2,,"
DECL_HEADER = (
    "provider_agb,municipality_code,law,message_id,declaration_number,declaration_period_start,"
    "declaration_period_end,declared_on,reference_number,previous_reference_number,client_bsn,"
    "allocation_number,product_category,product_code,period_start,period_end,volume,unit,tariff_eur,"
    "amount_eur,debit_credit"
)


def decl(ref, *, prev="", dc="D", volume="20", bsn="999900006", declared="2025-02-05", start="2025-01-01", end="2025-01-31"):
    return (f"12345678,0361,wmo,M1,D1,2025-01-01,2025-01-31,{declared},{ref},{prev},{bsn},1001,02,02A03,"
            f"{start},{end},{volume},04,60.00,1200.00,{dc}")


class Env:
    def __init__(self, tmp_path: Path):
        self.root = tmp_path
        self.conn = duckdb.connect(str(tmp_path / "w.duckdb"))
        self.profiles = load_profiles()

    def load(self, kind: str, name: str, content: str | bytes, profiles=None):
        folder = self.root / "inbox" / kind
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        loader = Loader(self.conn, kind, b"key", TODAY, self.root / "refused")
        return loader.load_tabular(path, f"inbox/{kind}/{name}", profiles or self.profiles)

    def quarantine(self, name: str) -> list[tuple]:
        return self.conn.execute(
            "select source_row, reason_code, reason_text from raw.quarantine where source_file like ? order by source_row",
            [f"%{name}"],
        ).fetchall()

    def count(self, kind: str) -> int:
        return self.conn.execute(f"select count(*) from raw.{kind}").fetchall()[0][0]


@pytest.fixture
def env(tmp_path):
    return Env(tmp_path)


def assert_reconciles(result):
    assert result.rows_received == result.rows_loaded + result.rows_quarantined


# -- readers and profiles ------------------------------------------------------------------------


def test_canonical_csv_with_bom_loads_and_pseudonymises(env):
    result = env.load("allocations", "a.csv", "\ufeff" + ALLOC_HEADER + "\n" + GOOD_ALLOC + "\n")
    assert (result.status, result.rows_loaded, result.rows_quarantined) == ("loaded", 1, 0)
    row = env.conn.execute("select client_id, volume, decided_on from raw.allocations").fetchall()[0]
    assert len(row[0]) == 64 and "999900006" not in row[0]
    assert row[1:] == (3.0, dt.datetime(2025, 1, 2, 10, 0))
    columns = [c[0] for c in env.conn.execute("describe raw.allocations").fetchall()]
    assert "client_bsn" not in columns


def test_dutch_profile_reads_cp1252_semicolons_decimal_commas_and_dates(env, tmp_path):
    profiles_dir = tmp_path / "profiles"
    profiles_dir.mkdir()
    (profiles_dir / "nl.yaml").write_text(
        """
name: test_nl
kind: answers
match: ["*_nl.csv"]
read: {format: csv, separator: ";", encoding: cp1252, decimal_comma: true, date_format: "%d-%m-%Y"}
columns:
  "AGB-code": provider_agb
  "Berichtnummer": message_id
  "Dagtekening antwoord": answered_on
  "Referentienummer": reference_number
  "Retourcodes": return_codes
ignore: ["Opmerking"]
""",
        encoding="utf-8",
    )
    text = "AGB-code;Berichtnummer;Dagtekening antwoord;Referentienummer;Retourcodes;Opmerking\n" \
           "12345678;M1;12-02-2025;;0200,8001;geen bezwaar ë\n"
    profiles = load_profiles(profiles_dir) + [p for p in load_profiles() if p.is_canonical]
    result = env.load("answers", "antw_nl.csv", text.encode("cp1252"), profiles)
    assert (result.status, result.rows_loaded) == ("loaded", 1)
    assert env.conn.execute("select answered_on, return_codes from raw.answers").fetchall() == [
        (dt.date(2025, 2, 12), "0200,8001")
    ]


def test_decimal_comma_numbers(env, tmp_path):
    from pipeline.ingest.tabular import Profile, cast

    profile = Profile("x", "budgets", ("*",), read={"decimal_comma": True, "date_format": "%d-%m-%Y"})
    frame = pl.DataFrame({"source_row": [1], "municipality_code": ["0361"], "year": ["2025"], "law": ["wmo"],
                          "product_category": [None], "budget_eur": ["1.234.567,89"]})
    typed, errors = cast(frame, "budgets", profile)
    assert errors.height == 0
    assert typed["budget_eur"][0] == pytest.approx(1234567.89)
    assert typed["year"][0] == 2025


def test_parquet_and_xlsx_load_with_codes_as_text(env):
    frame = pl.read_csv((ALLOC_HEADER + "\n" + GOOD_ALLOC + "\n").encode(), infer_schema=False)
    folder = env.root / "inbox" / "allocations"
    folder.mkdir(parents=True)
    frame.write_parquet(folder / "a.parquet")
    frame.write_excel(folder / "b.xlsx")
    loader = Loader(env.conn, "allocations", b"key", TODAY, env.root / "refused")
    r1 = loader.load_tabular(folder / "a.parquet", "inbox/allocations/a.parquet", env.profiles)
    r2 = loader.load_tabular(folder / "b.xlsx", "inbox/allocations/b.xlsx", env.profiles)
    assert (r1.rows_loaded, r2.rows_loaded) == (1, 1)
    codes = env.conn.execute("select distinct municipality_code, product_category, unit from raw.allocations").fetchall()
    assert codes == [("0361", "02", "04")]


# -- bad files ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content, code",
    [
        ((ALLOC_HEADER + "\n0361,1001,wmo,999900006,12345678,02,Begeleiding für,2025-01-02,2025-01-01,,3,04,2,,\n").encode("cp1252"),
         "unreadable_encoding"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "not_an_export"),
        (ALLOC_HEADER.replace(",", ";").encode() + b"\n" + GOOD_ALLOC.replace(",", ";").encode(), "wrong_separator"),
    ],
)
def test_unreadable_file_is_refused_moved_aside_and_the_rest_loads(env, content, code):
    bad = env.load("allocations", "bad.csv", content)
    good = env.load("allocations", "good.csv", ALLOC_HEADER + "\n" + GOOD_ALLOC + "\n")
    assert bad.status == "refused"
    assert env.quarantine("bad.csv")[0][1] == code
    assert (env.root / "refused" / "allocations" / "bad.csv").exists()
    assert not (env.root / "inbox" / "allocations" / "bad.csv").exists()
    assert good.rows_loaded == 1 and env.count("allocations") == 1


def test_truncated_file_loses_no_row(env):
    text = ALLOC_HEADER + "\n" + GOOD_ALLOC + "\n" + "0361,1002,wmo,999900018,12345678,02,02A0"
    result = env.load("allocations", "cut.csv", text)
    assert_reconciles(result)
    assert (result.rows_loaded, result.rows_quarantined) == (1, 1)
    assert env.quarantine("cut.csv")[0][1] in ("invalid_decided_on", "invalid_type") or "decided_on" in env.quarantine("cut.csv")[0][2]


def test_missing_required_column_quarantines_every_row_with_the_reason(env):
    header = ALLOC_HEADER.replace("provider_agb,", "")
    row = GOOD_ALLOC.replace("12345678,", "")
    result = env.load("allocations", "a.csv", f"{header}\n{row}\n{row}\n")
    assert (result.status, result.rows_received, result.rows_quarantined) == ("refused", 2, 2)
    reasons = env.quarantine("a.csv")
    assert [r[1] for r in reasons] == ["missing_column", "missing_column"]
    assert "provider_agb" in reasons[0][2]


def test_unknown_column_is_named(env):
    result = env.load("allocations", "a.csv", f"{ALLOC_HEADER},opmerking\n{GOOD_ALLOC},x\n")
    assert result.status == "refused" and result.rows_quarantined == 1
    code, text = env.quarantine("a.csv")[0][1:]
    assert code == "unknown_column" and "opmerking" in text


def test_values_out_of_code_list_invalid_ids_and_dates(env):
    rows = [
        GOOD_ALLOC,  # 1 ok
        GOOD_ALLOC.replace(",04,2,", ",05,2,"),  # 2 unit outside WJ756
        GOOD_ALLOC.replace("999900006", "999900007"),  # 3 elfproef fails
        GOOD_ALLOC.replace("12345678", "1234567"),  # 4 AGB of 7 digits
        GOOD_ALLOC.replace("0361,", "361,", 1),  # 5 gemeentecode of 3 digits
        GOOD_ALLOC.replace(",3,04,", ",-3,04,"),  # 6 negative volume
        GOOD_ALLOC.replace("2025-03-31", "2024-03-31"),  # 7 end before start
        GOOD_ALLOC.replace("2025-01-02 10:00:00", "2027-01-02 10:00:00"),  # 8 decided in the future
        GOOD_ALLOC.replace(",02,02A03,", ",33,02A03,"),  # 9 Jeugd category on a Wmo allocation
        GOOD_ALLOC.replace("2025-01-01,2025-03-31", "2025-02-30,2025-03-31"),  # 10 impossible date
    ]
    result = env.load("allocations", "a.csv", ALLOC_HEADER + "\n" + "\n".join(rows) + "\n")
    assert_reconciles(result)
    assert (result.rows_loaded, result.rows_quarantined) == (1, 9)
    codes = {row: code for row, code, _ in env.quarantine("a.csv")}
    assert codes == {
        2: "invalid_unit", 3: "invalid_bsn", 4: "invalid_provider_agb", 5: "invalid_municipality_code",
        6: "invalid_volume", 7: "end_before_start", 8: "date_in_future", 9: "category_not_in_law",
        10: "invalid_type",
    }
    texts = " ".join(text for _, _, text in env.quarantine("a.csv"))
    assert "999900007" not in texts and "999900007" not in str(
        env.conn.execute("select record from raw.quarantine").fetchall())


def test_absurd_volume_is_quarantined(env):
    # 800 hours in January: more than 24 h x 31 days = 744
    result = env.load("declarations", "d.csv", DECL_HEADER + "\n" + decl("R1") + "\n" + decl("R2", volume="800") + "\n")
    assert (result.rows_loaded, result.rows_quarantined) == (1, 1)
    assert env.quarantine("d.csv")[0][1] == "absurd_volume"


def test_duplicate_reference_and_credit_without_debit(env):
    env.load("declarations", "d1.csv", DECL_HEADER + "\n" + decl("R1") + "\n")
    result = env.load(
        "declarations", "d2.csv",
        DECL_HEADER + "\n" + "\n".join([
            decl("R1"),  # 1 already declared in d1.csv
            decl("R2"),  # 2 ok
            decl("R2"),  # 3 twice in this file
            decl("R3", prev="R1", dc="C"),  # 4 credits the debit of d1.csv: ok
            decl("R4", prev="R99", dc="C"),  # 5 credit without debit
            decl("R5", prev="R2", dc="C"),  # 6 credits a debit of this file: ok
        ]) + "\n",
    )
    assert_reconciles(result)
    assert result.rows_loaded == 3
    assert [(r, c) for r, c, _ in env.quarantine("d2.csv")] == [
        (1, "duplicate_reference"), (3, "duplicate_reference"), (5, "credit_without_debit")
    ]


@pytest.mark.parametrize("batch_rows", ["1", "1000"])
def test_one_batch_or_file_by_file_gives_the_same_rules(env, monkeypatch, batch_rows):
    """Files of one batch are checked together, and end as if loaded one by one in name order
    with every decision revisited: a credit may name a debit of a later file (it is loaded once
    the debit is), and the earlier file keeps a repeated reference."""
    monkeypatch.setenv("ZORG_INGEST_BATCH_ROWS", batch_rows)
    folder = env.root / "inbox" / "declarations"
    folder.mkdir(parents=True)
    files = {
        "a.csv": [decl("R1"), decl("R7", prev="R2", dc="C")],  # 2: credits a debit of the later b.csv: ok
        "b.csv": [decl("R2"), decl("R1"), decl("R3", prev="R1", dc="C")],  # 2: R1 is a.csv's; 3: ok
        "c.csv": [decl("R2"), decl("R4", prev="R2", dc="C")],  # 1: b.csv's; 2: ok (b.csv's debit)
        "d.csv": [decl("R5"), decl("R5")],  # a duplicate and a copy of it, 2 = duplicate
        "e.csv": [decl("R5"), decl("R5")],  # same content as d.csv: a duplicate file
    }
    for name, lines in files.items():
        (folder / name).write_text(DECL_HEADER + "\n" + "\n".join(lines) + "\n")
    (folder / "e.csv").write_bytes((folder / "d.csv").read_bytes())
    loader = Loader(env.conn, "declarations", b"key", TODAY, env.root / "refused")
    results = loader.load_files([loader.tabular_item(folder / n, f"inbox/declarations/{n}", env.profiles) for n in files])
    assert [r.status for r in results] == ["loaded"] * 4 + ["duplicate"]
    assert env.conn.execute(
        "select right(source_file, 5), status, rows_received, rows_loaded, rows_quarantined from raw.manifest "
        "order by 1").fetchall() == [
        ("a.csv", "loaded", 2, 2, 0), ("b.csv", "loaded", 3, 2, 1), ("c.csv", "loaded", 2, 1, 1),
        ("d.csv", "loaded", 2, 1, 1), ("e.csv", "duplicate", 0, 0, 0)]
    assert [(f[-5:], r, c) for f, r, c in env.conn.execute(
        "select source_file, source_row, reason_code from raw.quarantine order by all").fetchall()] == [
        ("b.csv", 2, "duplicate_reference"), ("c.csv", 1, "duplicate_reference"), ("d.csv", 2, "duplicate_reference")]
    assert env.count("declarations") == 6


def test_unchanged_files_are_not_hashed_again_but_a_same_size_edit_is_seen(env, monkeypatch):
    import os

    from pipeline.ingest import load as load_module

    hashed = []
    real = load_module.sha256_of
    monkeypatch.setattr(load_module, "sha256_of", lambda path: hashed.append(path.name) or real(path))
    assert env.load("declarations", "d.csv", DECL_HEADER + "\n" + decl("R1") + "\n").status == "loaded"
    assert hashed == ["d.csv"]
    path = env.root / "inbox" / "declarations" / "d.csv"
    loader = Loader(env.conn, "declarations", b"key", TODAY, env.root / "refused")
    assert loader.load_tabular(path, "inbox/declarations/d.csv", env.profiles).status == "unchanged"
    assert hashed == ["d.csv"]  # same size and modification time: not read again
    # the same number of bytes, other content, a later modification time: hashed and replaced
    stat = path.stat()
    path.write_text(DECL_HEADER + "\n" + decl("R2") + "\n")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert path.stat().st_size == stat.st_size
    result = loader.load_tabular(path, "inbox/declarations/d.csv", env.profiles)
    assert (result.status, hashed) == ("loaded", ["d.csv", "d.csv"])
    assert env.conn.execute("select reference_number from raw.declarations").fetchall() == [("R2",)]


def test_same_file_twice_is_a_no_op_and_a_copy_loads_nothing(env):
    text = ALLOC_HEADER + "\n" + GOOD_ALLOC + "\n"
    first = env.load("allocations", "a.csv", text)
    again = env.load("allocations", "a.csv", text)
    copy = env.load("allocations", "a_copy.csv", text)
    assert (first.status, again.status, copy.status) == ("loaded", "unchanged", "duplicate")
    assert env.count("allocations") == 1


def test_corrected_file_replaces_its_predecessor(env):
    env.load("allocations", "a.csv", ALLOC_HEADER + "\n" + GOOD_ALLOC + "\n" + GOOD_ALLOC.replace("1001", "1002") + "\n")
    corrected = env.load("allocations", "a.csv", ALLOC_HEADER + "\n" + GOOD_ALLOC.replace(",3,04,", ",4,04,") + "\n")
    assert corrected.status == "loaded"
    assert env.conn.execute("select allocation_number, volume from raw.allocations").fetchall() == [("1001", 4.0)]
    assert env.conn.execute("select rows_received, rows_loaded from raw.manifest").fetchall() == [(1, 1)]


def test_read_file_reports_source_rows():
    path = Path(__file__).parent / "fixtures" / "inbox" / "inbox" / "answers" / "antwoorden_2025-03.csv"
    profile = [p for p in load_profiles() if p.is_canonical][0]
    frame = read_file(path, "answers", profile)
    assert frame["source_row"].to_list() == [1, 2]
    assert frame["reference_number"].to_list() == [None, "R8"]


def test_no_profile_for_unknown_suffix(env):
    with pytest.raises(FileRefused):
        from pipeline.ingest.tabular import choose_profile

        choose_profile("allocations", Path("x.json"), env.profiles)
