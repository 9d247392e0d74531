"""The hostile-input corpus of issue 15: input that used to pass silently or lose rows.

Every case names its expected outcome: quarantined with which reason, refused with which reason,
or loaded with which values. Sequences of deliveries (corrections, re-deliveries, a credit before
its debit) check after every step that each row is in exactly one place and that received =
loaded + quarantined holds per file. The runs-and-settings cases (a second run, as_of, Dagster's
storage) run the real resources.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml

from pipeline.ingest.load import Loader
from pipeline.ingest.reasons import REASONS, reason_text
from pipeline.ingest.tabular import load_profiles

TODAY = dt.date(2026, 11, 22)
BSN = "999900006"  # passes the elfproef
NOT_BSN = "123456789"  # nine digits that fail it
EXAMPLE_323 = Path(__file__).resolve().parent / "fixtures" / "iwmo-examples" / "WMO323.xml"
REPO = Path(__file__).resolve().parent.parent

DECL = ["provider_agb", "municipality_code", "law", "message_id", "declaration_number",
        "declaration_period_start", "declaration_period_end", "declared_on", "reference_number",
        "previous_reference_number", "client_bsn", "client_id", "allocation_number", "product_category",
        "product_code", "period_start", "period_end", "volume", "unit", "tariff_eur", "amount_eur",
        "debit_credit"]
DECL_OK = dict(zip(DECL, [
    "12345678", "0361", "wmo", "M1", "D1", "2025-01-01", "2025-01-31", "2025-02-05", "R1", "", BSN, "",
    "1001", "02", "02A03", "2025-01-01", "2025-01-31", "20", "04", "60.00", "1200.00", "D"]))
# the Dutch profile (pipeline/profiles/gemeente_nl.yaml): its headers in the order of DECL
NL_HEADERS = {
    "provider_agb": "AGB-code zorgaanbieder", "municipality_code": "Gemeentecode", "law": "Wet",
    "message_id": "Berichtidentificatie", "declaration_number": "Declaratienummer",
    "declaration_period_start": "Begindatum declaratieperiode", "declaration_period_end": "Einddatum declaratieperiode",
    "declared_on": "Dagtekening declaratie", "reference_number": "Referentienummer",
    "previous_reference_number": "Vorig referentienummer", "client_bsn": "BSN cliënt",
    "allocation_number": "Toewijzingnummer", "product_category": "Productcategorie", "product_code": "Productcode",
    "period_start": "Begindatum product", "period_end": "Einddatum product", "volume": "Geleverd volume",
    "unit": "Eenheid", "tariff_eur": "Tarief (€)", "amount_eur": "Ingediend bedrag", "debit_credit": "Debet/Credit",
}
NL_OK = {**{k: v for k, v in DECL_OK.items() if k in NL_HEADERS}, "law": "Wmo", "debit_credit": "Debet",
         "declaration_period_start": "01-01-2025", "declaration_period_end": "31-01-2025",
         "declared_on": "05-02-2025", "period_start": "01-01-2025", "period_end": "31-01-2025",
         "tariff_eur": "60,00", "amount_eur": "1.200,00"}
ALLOC = ["municipality_code", "allocation_number", "law", "client_bsn", "client_id", "provider_agb",
         "product_category", "product_code", "decided_on", "start_date", "end_date", "volume", "unit",
         "frequency", "budget_eur", "change_reason"]
ALLOC_OK = dict(zip(ALLOC, ["0361", "1001", "wmo", BSN, "", "12345678", "02", "02A03", "2025-01-02 10:00:00",
                            "2025-01-01", "2025-03-31", "3", "04", "2", "", ""]))
HOURS = ["municipality_code", "law", "allocation_number", "provider_agb", "client_bsn", "week", "month", "hours"]
HOURS_OK = dict(zip(HOURS, ["0361", "wmo", "1001", "12345678", BSN, "2025-W03", "", "4.5"]))
ZVW = ["insurer_code", "provider_agb", "client_bsn", "client_id", "reference_number", "previous_reference_number",
       "service_start", "service_end", "prestation_code", "minutes", "tariff_eur", "amount_eur", "debit_credit",
       "submitted_on", "status"]
ZVW_OK = dict(zip(ZVW, ["3311", "12345678", BSN, "", "Z1", "", "2025-01-06", "2025-01-06", "1004", "60", "75.00",
                        "75.00", "D", "2025-02-01 09:00:00", "approved"]))


def csv(columns: list[str], rows: list[dict], sep: str = ",", headers: dict | None = None) -> str:
    def cell(value: str) -> str:
        return f'"{value}"' if sep in value or '"' in value else value

    head = sep.join((headers or {}).get(c, c) for c in columns)
    return "\n".join([head] + [sep.join(cell(r.get(c, "")) for c in columns) for r in rows]) + "\n"


def nl_csv(rows: list[dict]) -> bytes:
    columns = list(NL_HEADERS)
    return csv(columns, rows, ";", NL_HEADERS).encode("cp1252")


class Env:
    def __init__(self, root: Path):
        self.root = root
        self.conn = duckdb.connect(str(root / "w.duckdb"))
        self.profiles = load_profiles()

    def path(self, kind: str, name: str) -> Path:
        return self.root / "inbox" / kind / name

    def write(self, kind: str, name: str, content: str | bytes) -> Path:
        path = self.path(kind, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return path

    def load(self, kind: str, *names: str):
        """Load files of one kind in one batch, in the given order."""
        loader = Loader(self.conn, kind, b"corpus-key", TODAY, self.root / "refused")
        items = [loader.tabular_item(self.path(kind, n), f"inbox/{kind}/{n}", self.profiles) for n in names]
        results = loader.load_files(items)
        self.assert_one_place(kind)
        return results

    def put(self, kind: str, name: str, content: str | bytes):
        self.write(kind, name, content)
        return self.load(kind, name)[0]

    def outcome(self, kind: str, name: str) -> dict[int, str]:
        """source_row -> 'loaded' or the quarantine reason code."""
        loaded = self.conn.execute(f"select source_row from raw.{kind} where source_file like ?", [f"%/{name}"]).fetchall()
        quarantined = self.conn.execute("select source_row, reason_code from raw.quarantine where source_file like ?",
                                        [f"%/{name}"]).fetchall()
        result = {r: "loaded" for (r,) in loaded}
        for r, code in quarantined:
            assert r not in result, f"row {r} of {name} is both loaded and quarantined"
            result[r] = code
        return result

    def assert_one_place(self, kind: str) -> None:
        """Per file: received = loaded + quarantined, the tables hold exactly those rows, no row is
        both loaded and quarantined, and a held row is quarantined with the same reason."""
        bad = self.conn.execute(f"""
            with loaded as (select source_file, count(*) as n from raw.{kind} group by all),
            quarantined as (select source_file, count(*) as n from raw.quarantine where source_row is not null group by all)
            select m.source_file, m.rows_received, m.rows_loaded, m.rows_quarantined, l.n, q.n
            from raw.manifest m left join loaded l using (source_file) left join quarantined q using (source_file)
            where m.kind = '{kind}' and (m.rows_received <> m.rows_loaded + m.rows_quarantined
                or coalesce(l.n, 0) <> m.rows_loaded or coalesce(q.n, 0) <> m.rows_quarantined)""").fetchall()
        assert bad == [], f"does not reconcile: {bad}"
        both = self.conn.execute(f"""
            select r.source_file, r.source_row from raw.{kind} r
            join raw.quarantine q on q.source_file = r.source_file and q.source_row = r.source_row""").fetchall()
        assert both == []
        held = f"raw.{kind}_held"
        if self.conn.execute("select count(*) from duckdb_tables() where schema_name = 'raw' and table_name = ?",
                             [f"{kind}_held"]).fetchall()[0][0]:
            orphans = self.conn.execute(f"""
                select h.source_file, h.source_row from {held} h anti join raw.quarantine q
                on q.source_file = h.source_file and q.source_row = h.source_row and q.reason_code = h.reason_code
                """).fetchall()
            assert orphans == []

    def value(self, sql: str):
        return self.conn.execute(sql).fetchall()


@pytest.fixture
def env(tmp_path):
    e = Env(tmp_path)
    yield e
    e.conn.close()


# ------------------------------------------------------------------------------------------------
# Silent misreads: one row per case, each with its expected outcome
# ------------------------------------------------------------------------------------------------

# (case, overrides of the canonical declaration line, expected outcome, expected stored values)
CANONICAL_DECL_CASES = [
    ("good line", {}, "loaded", {"amount_eur": 1200.0, "volume": 20.0}),
    ("decimal comma in a decimal-point profile", {"volume": "1,5"}, "invalid_type", None),
    ("NaN", {"volume": "NaN"}, "invalid_type", None),
    ("inf", {"tariff_eur": "inf"}, "invalid_type", None),
    ("hex number", {"volume": "0x14"}, "invalid_type", None),
    ("thousands grouping in a decimal-point profile", {"amount_eur": "1.200,00"}, "invalid_type", None),
    ("date without zero padding", {"period_start": "2025-1-1"}, "invalid_type", None),
    ("Dutch date in the ISO profile", {"declared_on": "05-02-2025"}, "invalid_type", None),
    ("two-digit year", {"declared_on": "25-02-05"}, "invalid_type", None),
    ("date before 2015", {"period_start": "2014-12-01", "period_end": "2014-12-31"}, "implausible_date", None),
    ("end date in the 23rd century", {"period_end": "2200-01-31"}, "implausible_date", None),
    ("amount a hundredfold (a misread column)", {"amount_eur": "120000.00"}, "amount_mismatch", None),
    ("amount a tenth", {"amount_eur": "120.00"}, "amount_mismatch", None),
    ("amount a few euros off (a wrong tariff): loads, flagged by the check",
     {"amount_eur": "1203.50"}, "loaded", {"amount_eur": 1203.5}),
    ("minutes priced per hour", {"unit": "01", "volume": "600", "tariff_eur": "60.00", "amount_eur": "600.00"},
     "loaded", {"volume": 600.0, "amount_eur": 600.0}),
    ("minutes priced per minute", {"unit": "01", "volume": "600", "tariff_eur": "1.05", "amount_eur": "630.00"},
     "loaded", {"amount_eur": 630.0}),
    ("BSN in client_id", {"client_bsn": "", "client_id": BSN}, "bsn_in_identifier", None),
    ("BSN in allocation_number", {"allocation_number": BSN}, "bsn_in_identifier", None),
    ("BSN inside reference_number", {"reference_number": f"R-{BSN}-1"}, "bsn_in_identifier", None),
    ("BSN in previous_reference_number", {"previous_reference_number": BSN, "debit_credit": "C"},
     "bsn_in_identifier", None),
    ("BSN in message_id", {"message_id": BSN}, "bsn_in_identifier", None),
    ("BSN in declaration_number", {"declaration_number": BSN}, "bsn_in_identifier", None),
    ("nine digits failing the elfproef in reference_number", {"reference_number": NOT_BSN}, "loaded",
     {"reference_number": NOT_BSN}),
    ("client_id a short number", {"client_bsn": "", "client_id": "12345"}, "client_id_not_pseudonym", None),
    ("client_id with spaces", {"client_bsn": "", "client_id": "jan de vries"}, "client_id_not_pseudonym", None),
    ("client_id an insurer pseudonym", {"client_bsn": "", "client_id": "VZ00012345678"}, "loaded",
     {"client_id": "VZ00012345678"}),
    ("required allocation_number empty", {"allocation_number": ""}, "invalid_allocation_number", None),
]


def test_canonical_declaration_corpus(env):
    rows = [{**DECL_OK, **over, "reference_number": over.get("reference_number", f"R{i}")}
            for i, (_, over, _, _) in enumerate(CANONICAL_DECL_CASES, start=1)]
    env.put("declarations", "corpus.csv", csv(DECL, rows))
    outcome = env.outcome("declarations", "corpus.csv")
    for i, (case, _, expected, values) in enumerate(CANONICAL_DECL_CASES, start=1):
        assert outcome[i] == expected, f"{case}: {outcome[i]} instead of {expected}"
        if values:
            stored = env.conn.execute(f"select {', '.join(values)} from raw.declarations where source_row = ?",
                                      [i]).fetchall()[0]
            assert stored == tuple(values.values()), case
    # no reason text is empty, every code has both texts
    texts = env.value("select reason_code, reason_text from raw.quarantine")
    assert all(t and t.strip() for _, t in texts)
    assert all(reason_text(c, "nl") != reason_text(c, "en") for c, _ in texts)


NL_CASES = [
    ("decimal comma", {}, "loaded", {"amount_eur": 1200.0, "tariff_eur": 60.0}),
    ("264,80", {"volume": "4", "tariff_eur": "66,20", "amount_eur": "264,80"}, "loaded", {"amount_eur": 264.8}),
    ("264.80 through a decimal-comma profile", {"volume": "4", "tariff_eur": "66,20", "amount_eur": "264.80"},
     "invalid_type", None),
    ("1234.5 through a decimal-comma profile", {"amount_eur": "1234.5"}, "invalid_type", None),
    ("volume 1.5 through a decimal-comma profile", {"volume": "1.5"}, "invalid_type", None),
    ("thousands dot with three digits", {"volume": "1.500", "unit": "83", "tariff_eur": "1,00", "amount_eur": "1.500,00"},
     "loaded", {"volume": 1500.0, "amount_eur": 1500.0}),
    ("a dot and a comma in the wrong order", {"amount_eur": "1,200.00"}, "invalid_type", None),
    ("two-digit year", {"declared_on": "5-2-25"}, "invalid_type", None),
    ("ISO date in the Dutch profile", {"declared_on": "2025-02-05"}, "invalid_type", None),
    ("a year 1925 that fits the format", {"period_start": "01-01-1925", "period_end": "31-01-1925"},
     "implausible_date", None),
]


def test_dutch_profile_corpus(env):
    rows = [{**NL_OK, **over, "reference_number": f"R{i}"} for i, (_, over, _, _) in enumerate(NL_CASES, start=1)]
    env.put("declarations", "declaraties_nl_0361_2025-02.csv", nl_csv(rows))
    outcome = env.outcome("declarations", "declaraties_nl_0361_2025-02.csv")
    for i, (case, _, expected, values) in enumerate(NL_CASES, start=1):
        assert outcome[i] == expected, f"{case}: {outcome[i]} instead of {expected}"
        if values:
            stored = env.conn.execute(f"select {', '.join(values)} from raw.declarations where source_row = ?",
                                      [i]).fetchall()[0]
            assert stored == tuple(values.values()), case
    text = env.value("select reason_text from raw.quarantine where source_row = 3")[0][0]
    assert "decimal comma" in text and "264.80" in text


def test_other_kinds_corpus(env):
    """Siblings in the other kinds: allocation dates and numbers, zvw amounts, hours."""
    allocations = [
        ("good", {}, "loaded"),
        ("open-ended sentinel 2099-12-31 loads", {"allocation_number": "1002", "end_date": "2099-12-31"}, "loaded"),
        ("decided_on with a two-digit year", {"allocation_number": "1003", "decided_on": "25-01-02 10:00:00"}, "invalid_type"),
        ("decided_on before 2015", {"allocation_number": "1004", "decided_on": "2013-01-02 10:00:00",
                                    "start_date": "2013-01-01"}, "implausible_date"),
        ("BSN as ToewijzingNummer", {"allocation_number": BSN}, "bsn_in_identifier"),
        ("volume with a decimal comma", {"allocation_number": "1005", "volume": "1,5"}, "invalid_type"),
    ]
    env.put("allocations", "a.csv", csv(ALLOC, [{**ALLOC_OK, **o} for _, o, _ in allocations]))
    out = env.outcome("allocations", "a.csv")
    assert [out[i] for i in range(1, len(allocations) + 1)] == [e for _, _, e in allocations]

    zvw = [("good", {}, "loaded"), ("amount of minutes x tariff without / 60", {"reference_number": "Z2", "amount_eur": "4500.00"}, "amount_mismatch"),
           ("BSN as reference", {"reference_number": BSN}, "bsn_in_identifier"),
           ("submitted_on two-digit year", {"reference_number": "Z4", "submitted_on": "25-02-01 09:00:00"}, "invalid_type")]
    env.put("zvw_declarations", "z.csv", csv(ZVW, [{**ZVW_OK, **o} for _, o, _ in zvw]))
    out = env.outcome("zvw_declarations", "z.csv")
    assert [out[i] for i in range(1, len(zvw) + 1)] == [e for _, _, e in zvw]

    ceilings = "payer_code,provider_agb,year,ceiling_eur,max_hours_per_client_month,policy,increase_request_deadline\n" \
               "3311,12345678,2025,100000,,settle,\n3311,12345679,2025.5,100000,,settle,\n"
    loader = Loader(env.conn, "ceilings", b"", TODAY, env.root / "refused")
    path = env.root / "reference" / "ceilings.csv"
    path.parent.mkdir(parents=True)
    path.write_text(ceilings)
    loader.load_tabular(path, "reference/ceilings.csv", env.profiles)
    assert env.value("select source_row, reason_code from raw.quarantine where kind = 'ceilings'") == [(2, "invalid_type")]


def test_no_bsn_is_stored_anywhere(env):
    rows = [{**DECL_OK, "reference_number": f"R-{BSN}"}, {**DECL_OK, "reference_number": "R2", "client_bsn": "",
                                                          "client_id": BSN}]
    env.put("declarations", "leak.csv", csv(DECL, rows))
    env.put("allocations", "leak.csv", csv(ALLOC, [{**ALLOC_OK, "allocation_number": BSN}]))
    for schema, table, column in env.value(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where data_type = 'VARCHAR' and table_schema = 'raw'"):
        hits = env.value(f"select count(*) from {schema}.{table} where {column} like '%{BSN}%'")[0][0]
        assert hits == 0, f"{schema}.{table}.{column} holds the BSN"


def test_quoted_text_is_bounded(env):
    """A 2 MB single-line file and a 100,000-character field: what is quoted stays short."""
    env.put("declarations", "oneline.csv", "x" * 2_000_000)
    env.put("declarations", "longfield.csv", csv(DECL, [{**DECL_OK, "message_id": "m" * 100_000}]))
    longest = env.value("select max(length(message)) from raw.manifest")[0][0]
    assert longest < 1000
    assert env.value("select max(length(reason_text)), max(length(record)) from raw.quarantine")[0] < (1000, 2200)
    assert env.value("select reason_code from raw.quarantine where source_file like '%longfield.csv'") == [
        ("invalid_message_id",)]


# ------------------------------------------------------------------------------------------------
# Duplicates and conflicts
# ------------------------------------------------------------------------------------------------


def test_exact_duplicate_hours_are_quarantined_and_released_when_the_first_goes(env):
    row = HOURS_OK
    other = {**HOURS_OK, "week": "2025-W04"}
    env.put("delivered_hours", "h1.csv", csv(HOURS, [row, row, other]))
    assert env.outcome("delivered_hours", "h1.csv") == {1: "loaded", 2: "duplicate_row", 3: "loaded"}
    env.put("delivered_hours", "h2.csv", csv(HOURS, [row, {**row, "hours": "5"}]))  # a copy, and other hours
    assert env.outcome("delivered_hours", "h2.csv") == {1: "duplicate_row", 2: "loaded"}
    assert env.value("select sum(hours) from raw.delivered_hours") == [(14.0,)]
    # h1.csv corrected: its week 3 row goes; h2.csv's copy is now the one row of week 3 with 4.5 hours
    env.put("delivered_hours", "h1.csv", csv(HOURS, [other]))
    assert env.outcome("delivered_hours", "h2.csv") == {1: "loaded", 2: "loaded"}
    assert env.value("select sum(hours) from raw.delivered_hours") == [(14.0,)]


def test_allocation_versions_in_conflict_are_quarantined_copies_load(env):
    first = ALLOC_OK
    copy = dict(ALLOC_OK)
    conflict = {**ALLOC_OK, "volume": "9"}
    env.put("allocations", "a1.csv", csv(ALLOC, [first]))
    other = {**ALLOC_OK, "allocation_number": "2001"}
    env.put("allocations", "a2.csv", csv(ALLOC, [copy, other]))  # the same version again (a 301 snapshot): loads
    assert env.outcome("allocations", "a2.csv") == {1: "loaded", 2: "loaded"}
    env.put("allocations", "a3.csv", csv(ALLOC, [conflict]))  # same decided_on, other volume
    assert env.outcome("allocations", "a3.csv") == {1: "conflicting_version"}
    assert env.outcome("allocations", "a1.csv") == {1: "conflicting_version"}
    assert env.outcome("allocations", "a2.csv") == {1: "conflicting_version", 2: "loaded"}
    # the conflicting file is corrected to a later decision: the conflict is gone, all load
    env.put("allocations", "a3.csv", csv(ALLOC, [{**conflict, "decided_on": "2025-02-01 10:00:00"}]))
    assert [env.outcome("allocations", f"a{i}.csv") for i in (1, 2, 3)] == [
        {1: "loaded"}, {1: "loaded", 2: "loaded"}, {1: "loaded"}]


# ------------------------------------------------------------------------------------------------
# Lines lost for good: decisions revisited on corrections and re-deliveries
# ------------------------------------------------------------------------------------------------


def test_duplicate_reference_is_released_when_its_twin_is_corrected_away(env):
    env.put("declarations", "a.csv", csv(DECL, [{**DECL_OK, "reference_number": "R1"}]))
    env.put("declarations", "b.csv", csv(DECL, [{**DECL_OK, "reference_number": "R1"},
                                                {**DECL_OK, "reference_number": "R2"}]))
    assert env.outcome("declarations", "b.csv") == {1: "duplicate_reference", 2: "loaded"}
    env.put("declarations", "a.csv", csv(DECL, [{**DECL_OK, "reference_number": "R3"}]))
    assert env.outcome("declarations", "b.csv") == {1: "loaded", 2: "loaded"}
    assert env.value("select rows_loaded, rows_quarantined from raw.manifest where source_file like '%b.csv'") == [(2, 0)]
    # a.csv corrected again to hold R1: b.csv was first loaded before this version of a.csv?
    # No: a.csv was first loaded before b.csv, so a.csv's R1 keeps the reference again
    env.put("declarations", "a.csv", csv(DECL, [{**DECL_OK, "reference_number": "R1"}]))
    assert env.outcome("declarations", "a.csv") == {1: "loaded"}
    assert env.outcome("declarations", "b.csv") == {1: "duplicate_reference", 2: "loaded"}


def test_credit_before_its_debit_is_loaded_when_the_debit_arrives_and_held_when_it_goes(env):
    credit = {**DECL_OK, "reference_number": "C1", "previous_reference_number": "R1", "debit_credit": "C"}
    env.put("declarations", "credit.csv", csv(DECL, [credit]))
    assert env.outcome("declarations", "credit.csv") == {1: "credit_without_debit"}
    env.put("declarations", "debit.csv", csv(DECL, [{**DECL_OK, "reference_number": "R1"}]))
    assert env.outcome("declarations", "credit.csv") == {1: "loaded"}
    assert env.value("select sum(case debit_credit when 'C' then -amount_eur else amount_eur end) "
                     "from raw.declarations") == [(0.0,)]
    env.put("declarations", "debit.csv", csv(DECL, [{**DECL_OK, "reference_number": "R9"}]))
    assert env.outcome("declarations", "credit.csv") == {1: "credit_without_debit"}


def test_same_batch_in_any_order_gives_the_same_places(env, monkeypatch):
    monkeypatch.setenv("ZORG_INGEST_BATCH_ROWS", "1")
    credit = {**DECL_OK, "reference_number": "C1", "previous_reference_number": "R1", "debit_credit": "C"}
    env.write("declarations", "1.csv", csv(DECL, [credit]))
    env.write("declarations", "2.csv", csv(DECL, [{**DECL_OK, "reference_number": "R1"}]))
    env.load("declarations", "1.csv", "2.csv")
    assert env.outcome("declarations", "1.csv") == {1: "loaded"}


def test_a_replacement_with_the_same_size_and_mtime_is_read(env):
    path = env.write("declarations", "d.csv", csv(DECL, [{**DECL_OK, "reference_number": "R1"}]))
    env.load("declarations", "d.csv")
    stat = path.stat()
    replacement = env.root / "d.csv.new"
    replacement.write_text(csv(DECL, [{**DECL_OK, "reference_number": "R2"}]))  # same size, other content
    assert replacement.stat().st_size == stat.st_size
    os.utime(replacement, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    os.replace(replacement, path)
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)
    result = env.load("declarations", "d.csv")[0]
    assert result.status == "loaded"
    assert env.value("select reference_number from raw.declarations") == [("R2",)]
    # in place, same inode, the time set back: the ctime still moves
    path.write_text(csv(DECL, [{**DECL_OK, "reference_number": "R3"}]))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert env.load("declarations", "d.csv")[0].status == "loaded"
    assert env.value("select reference_number from raw.declarations") == [("R3",)]
    assert env.load("declarations", "d.csv")[0].status == "unchanged"


# ------------------------------------------------------------------------------------------------
# XML
# ------------------------------------------------------------------------------------------------


def _xml_323(text: str | None = None) -> str:
    return text if text is not None else EXAMPLE_323.read_text(encoding="utf-8")


def test_message_whose_root_comes_after_4_kb_is_recognised(tmp_path):
    from pipeline.assets.raw import message_kind

    text = _xml_323()
    declaration, rest = text.split("\n", 1)
    padded = tmp_path / "late_root.xml"
    padded.write_text(declaration + "\n<!-- " + "padding " * 1000 + "-->\n<?app note?>\n" + rest, encoding="utf-8")
    assert padded.stat().st_size > 8000
    assert message_kind(padded) == "declarations"
    plain = tmp_path / "plain.xml"
    plain.write_text(text, encoding="utf-8")
    assert message_kind(plain) == "declarations"
    other = tmp_path / "other.xml"
    other.write_text(declaration + "\n<!-- " + "x" * 5000 + "-->\n<root xmlns='urn:x'/>\n", encoding="utf-8")
    assert message_kind(other) == "unrecognised"


def test_323_whose_total_does_not_match_its_lines_is_refused(tmp_path):
    from pipeline.ingest.iwmo import MessageRefused, read_message

    good = tmp_path / "good.xml"
    good.write_text(_xml_323(), encoding="utf-8")
    message = read_message(good)
    assert message.rows.height > 0
    bad = tmp_path / "bad.xml"
    bad.write_text(_xml_323().replace("<iwmo:TotaalBedrag>58000<", "<iwmo:TotaalBedrag>58100<"), encoding="utf-8")
    with pytest.raises(MessageRefused) as refused:
        read_message(bad)
    assert refused.value.reason_code == "xml_total_mismatch"
    assert "580.00" in refused.value.reason_text and "581.00" in refused.value.reason_text


def test_bsn_as_xml_toewijzingnummer_is_quarantined(env):
    from pipeline.assets.raw import _xml_reader

    folder = env.root / "inbox" / "iwmo"
    folder.mkdir(parents=True)
    path = folder / "m.xml"
    path.write_text(_xml_323().replace("<wmo323:ToewijzingNummer>20072<", f"<wmo323:ToewijzingNummer>{BSN}<", 1),
                    encoding="utf-8")
    loader = Loader(env.conn, "declarations", b"k", TODAY, env.root / "refused")
    result = loader.load_rows(path, "inbox/iwmo/m.xml", _xml_reader(path, "declarations"), "xml")
    assert result.rows_quarantined >= 1
    assert env.value("select source_row, reason_code from raw.quarantine order by 1")[0] == (1, "bsn_in_identifier")
    assert env.value(f"select count(*) from raw.declarations where allocation_number = '{BSN}'") == [(0,)]


# ------------------------------------------------------------------------------------------------
# Reason texts
# ------------------------------------------------------------------------------------------------


def test_every_reason_code_has_a_dutch_and_an_english_text():
    source = "\n".join(p.read_text(encoding="utf-8") for p in (REPO / "pipeline").rglob("*.py")
                       if "reports" not in p.parts and p.name != "demo.py")
    codes = set(re.findall(r"(?:FileRefused|MessageRefused)\(\s*\"([a-z_]+)\"", source))
    codes |= set(re.findall(r"\(\s*\"([a-z_]+)\",\s*\"[^\"]*\",?\s*\n?\s*(?:pl\.|\(|_)", source))
    codes |= {"duplicate_reference", "credit_without_debit", "duplicate_row", "conflicting_version",
              "implausible_date", "bsn_in_identifier", "client_id_not_pseudonym", "amount_mismatch", "invalid_type"}
    codes -= {"unreadable_files"}
    missing = sorted(c for c in codes if c not in REASONS)
    assert missing == []
    for code, (nl, en) in REASONS.items():
        assert nl.strip() and en.strip() and nl != en, code
    assert reason_text("invalid_allocation_number", "nl").startswith("ongeldige")


# ------------------------------------------------------------------------------------------------
# Runs and settings
# ------------------------------------------------------------------------------------------------


def test_a_second_run_fails_at_once_before_touching_anything(tmp_path):
    from pipeline.definitions import all_assets
    from pipeline.resources import DataFolders, RunLock, Warehouse
    from pipeline.settings import MetricSettings

    database = tmp_path / "warehouse.duckdb"
    held = RunLock(str(database))
    held.acquire()  # the first run
    try:
        result = dg.materialize(
            all_assets, selection="raw/answers",
            resources={"warehouse": Warehouse(database=str(database), threads=1, memory_limit="1GB"),
                       "folders": DataFolders(root=str(tmp_path)), "settings": MetricSettings()},
            raise_on_error=False)
        assert not result.success
        messages = " ".join(str(e.event_specific_data) for e in result.all_events if e.is_failure)
        assert "in use by another run" in messages and f"PID {os.getpid()}" in messages
        assert not database.exists()  # nothing touched
    finally:
        held.release()
    # released: the next run may go
    second = RunLock(str(database))
    second.acquire()
    second.release()


@pytest.mark.parametrize("as_of", ["garbage", "31-12-2026", "2026-02-30", "1900-01-01"])
def test_as_of_is_validated_before_anything_runs(tmp_path, as_of):
    from pipeline.definitions import all_assets
    from pipeline.resources import DataFolders, Warehouse
    from pipeline.settings import MetricSettings

    with pytest.raises(ValueError, match="setting as_of"):
        MetricSettings(as_of=as_of)
    database = tmp_path / "warehouse.duckdb"
    result = dg.materialize(
        all_assets, selection=[dg.AssetKey(["raw", "answers"]), dg.AssetKey(["staging", "answers"])],
        resources={"warehouse": Warehouse(database=str(database), threads=1, memory_limit="1GB"),
                   "folders": DataFolders(root=str(tmp_path)), "settings": MetricSettings()},
        run_config={"resources": {"settings": {"config": {"as_of": as_of}}}},
        raise_on_error=False)
    assert not result.success
    messages = " ".join(str(e.event_specific_data) for e in result.all_events if e.is_failure)
    assert "setting as_of" in messages
    assert not database.exists()


def test_as_of_outside_the_data_gives_a_note():
    from pipeline.checks import as_of_note

    first, last = dt.date(2025, 1, 3), dt.date(2026, 10, 30)
    assert as_of_note(dt.date(2026, 10, 31), first, last) is None
    assert as_of_note(dt.date(2026, 12, 31), first, last) is None
    assert "far after" in as_of_note(dt.date(2099, 12, 31), first, last)[1]
    assert "vóór" in as_of_note(dt.date(2015, 1, 31), first, last)[0]


def test_dagster_storage_follows_dagster_home(tmp_path, monkeypatch):
    config = yaml.safe_load((REPO / "dagster.yaml").read_text())
    assert "base_dir" not in str(config)
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("DAGSTER_HOME", str(home))

    @dg.asset
    def probe() -> int:
        return 1

    with dg.DagsterInstance.get() as instance:
        assert dg.materialize([probe], instance=instance).success
    assert list(elsewhere.iterdir()) == []
    assert (home / "history").is_dir()


def test_xlsx_formula_without_a_stored_value_refuses_the_workbook_with_its_reason(env):
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(ALLOC)
    sheet.append([ALLOC_OK[c] for c in ALLOC])
    sheet.append([{**ALLOC_OK, "allocation_number": "1003", "volume": "=1+2"}[c] for c in ALLOC])  # optional column
    path = env.path("allocations", "x.xlsx")
    path.parent.mkdir(parents=True)
    book.save(path)
    result = env.load("allocations", "x.xlsx")[0]
    assert (result.status, result.rows_received, result.rows_quarantined) == ("refused", 2, 2)
    assert "L3" in result.message
    assert env.value("select distinct reason_code from raw.quarantine") == [("xlsx_formula_without_value",)]
    assert env.value("select count(*) from raw.allocations") == [(0,)]  # volume never read as empty


def test_moved_rows_reach_staging_as_a_full_build_would(data_root, monkeypatch):
    """A re-evaluation moves rows of a file that did not change (the credit of an earlier month
    whose debit arrives now): the incremental staging build must pick them up exactly as a full
    build does."""
    from conftest import materialize

    folder = data_root / "inbox" / "declarations"
    header = (folder / "declaraties_0361_2025-02.csv").read_text().splitlines()[0]
    line = "12345678,0361,wmo,M9,D9,2025-01-01,2025-01-31,2025-02-06,{ref},{prev},999900006,1001,02,02A03," \
           "2025-01-01,2025-01-31,2,04,60.00,120.00,{dc}"
    (folder / "late_credit_0361_2025-02.csv").write_text(
        header + "\n" + line.format(ref="RC1", prev="RD1", dc="C") + "\n")
    staging = dg.AssetSelection.assets(dg.AssetKey(["staging", "declaration_lines"])).upstream()
    assert materialize(data_root, selection=staging).success
    lines = "select source_file, source_row, net_amount_eur from staging.declaration_lines order by all"
    with duckdb.connect(str(data_root / "warehouse.duckdb"), read_only=True) as conn:
        assert conn.execute("select reason_code from raw.quarantine where source_file like '%late_credit%'"
                            ).fetchall() == [("credit_without_debit",)]
    (folder / "late_debit_0361_2025-03.csv").write_text(header + "\n" + line.format(ref="RD1", prev="", dc="D") + "\n")
    assert materialize(data_root, selection=staging).success
    with duckdb.connect(str(data_root / "warehouse.duckdb"), read_only=True) as conn:
        partial = conn.execute(lines).fetchall()
        modes = dict(conn.execute("select table_name, mode from meta.builds").fetchall())
        assert conn.execute("select count(*) from raw.quarantine where source_file like '%late_credit%'"
                            ).fetchall() == [(0,)]
    assert any(f.endswith("late_credit_0361_2025-02.csv") and amount == -120 for f, _, amount in partial)
    assert modes.get("staging.declaration_lines") == "incremental"
    monkeypatch.setenv("ZORG_FULL_REBUILD", "1")
    assert materialize(data_root, selection=staging).success
    with duckdb.connect(str(data_root / "warehouse.duckdb"), read_only=True) as conn:
        assert conn.execute(lines).fetchall() == partial


def test_a_touched_but_unchanged_file_is_hashed_once_then_takes_the_quick_path(env, monkeypatch):
    from pipeline.ingest import load as load_module

    path = env.write("declarations", "d.csv", csv(DECL, [DECL_OK]))
    env.load("declarations", "d.csv")
    hashed = []
    real = load_module.sha256_of
    monkeypatch.setattr(load_module, "sha256_of", lambda p: hashed.append(p.name) or real(p))
    os.utime(path)  # touched: same content, new times
    assert env.load("declarations", "d.csv")[0].status == "unchanged"
    assert env.load("declarations", "d.csv")[0].status == "unchanged"
    assert hashed == ["d.csv"]  # hashed once, then the manifest knows the new times
