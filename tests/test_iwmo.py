"""iWmo / iJw 3.2 XML route: reading the reference examples, writer round trips, refusals."""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache
from pathlib import Path

import polars as pl
import pytest
import xmlschema
from lxml import etree

from pipeline.ingest.iwmo import (
    CANONICAL_COLUMNS,
    MessageRefused,
    base_namespace,
    message_namespace,
    read_message,
)
from pipeline.ingest.iwmo_writer import write_messages
from pipeline.paths import XSD_DIR

EXAMPLES = Path(__file__).resolve().parent / "fixtures" / "iwmo-examples"  # copies of the reference examples
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "iwmo"


def _rows(name: str) -> list[dict]:
    return read_message(EXAMPLES / name).rows.to_dicts()


@lru_cache(maxsize=None)
def _xmlschema(folder: str, stem: str) -> xmlschema.XMLSchema:
    """An independent validator (pure-Python xmlschema), not the lxml one the reader uses."""
    return xmlschema.XMLSchema(str(XSD_DIR / folder / f"{stem}.xsd"))


def _assert_valid(path: Path) -> None:
    stem = path.name.split("_")[0]
    folder = "iwmo-3.2" if stem.startswith("WMO") else "ijw-3.2"
    _xmlschema(folder, stem).validate(str(path))


# --- the reference examples ---------------------------------------------------------------------


def test_example_wmo301_loads_with_its_values():
    message = read_message(EXAMPLES / "WMO301.xml")
    assert (message.kind, message.law, message.message_code) == ("allocations", "wmo", "301")
    assert message.message_id == "123456789012"
    assert message.rows.columns == [*CANONICAL_COLUMNS["allocations"], "source_row"]
    assert set(message.rows.schema.values()) - {pl.Int64} == {pl.Utf8}
    assert message.rows.to_dicts() == [
        {
            "municipality_code": "0384",
            "allocation_number": "101",
            "law": "wmo",
            "client_bsn": "999900006",
            "provider_agb": "42420001",
            "product_category": "01",
            "product_code": "01A01",
            "decided_on": "2023-08-13 12:34:56",
            "start_date": "2023-01-01",
            "end_date": "2023-12-31",
            "volume": "10",
            "unit": "01",
            "frequency": "1",
            "budget_eur": None,
            "change_reason": None,
            "source_row": 1,
        }
    ]


def test_example_wmo301_personal_data_is_not_extracted():
    rows = read_message(EXAMPLES / "WMO301.xml").rows
    values = {v for row in rows.rows() for v in row}
    for personal in ("Wit", "Tim", "1967-08-13", "Straatweg", "9999XX", "a@b.com", "0101234567"):
        assert personal not in values


def test_example_wmo305_loads_with_its_values():
    message = read_message(EXAMPLES / "WMO305.xml")
    assert (message.kind, message.message_code) == ("care_events", "305")
    common = {
        "municipality_code": "0363",
        "law": "wmo",
        "provider_agb": "65656055",
        "client_bsn": "999900006",
        "event": "start",
        "end_date": None,
        "end_reason": None,
        "status": "1",
        "sent_on": "2025-04-05",  # the header's BerichtIdentificatie/Dagtekening
    }
    assert message.rows.to_dicts() == [
        {**common, "allocation_number": "300201", "start_date": "2025-04-03", "source_row": 1},
        {**common, "allocation_number": "300202", "start_date": "2025-04-04", "source_row": 2},
    ]
    assert message.rows.columns == [*CANONICAL_COLUMNS["care_events"], "source_row"]


def test_example_wmo307_loads_with_its_values():
    message = read_message(EXAMPLES / "WMO307.xml")
    assert (message.kind, message.message_code, message.message_id) == (
        "care_events", "307", "123456789014"
    )
    rows = message.rows.to_dicts()
    assert [r["allocation_number"] for r in rows] == ["300201", "300202"]
    assert [r["start_date"] for r in rows] == ["2025-04-03", "2025-04-15"]
    assert {(r["event"], r["end_date"], r["end_reason"], r["status"]) for r in rows} == {
        ("stop", "2025-07-18", "31", "1")
    }
    # the message's Dagtekening: when the stop was sent (1 working day after the end date)
    assert {r["sent_on"] for r in rows} == {"2025-07-21"}
    assert {(r["municipality_code"], r["provider_agb"]) for r in rows} == {("0363", "65656055")}


def test_example_wmo323_loads_with_its_values():
    message = read_message(EXAMPLES / "WMO323.xml")
    assert (message.kind, message.message_code, message.message_id) == (
        "declarations", "323", "765432198"
    )
    rows = message.rows
    assert rows.height == 4
    first = rows.row(0, named=True)
    assert first == {
        "provider_agb": "65656055",
        "municipality_code": "0384",
        "law": "wmo",
        "message_id": "765432198",
        "declaration_number": "DN001",
        "declaration_period_start": "2023-04-01",
        "declaration_period_end": "2023-04-30",
        "declared_on": "2023-05-06",
        "reference_number": "RN001",
        "previous_reference_number": None,
        "client_bsn": "999900006",
        "allocation_number": "20072",
        "product_category": "01",
        "product_code": "01A03",
        "period_start": "2023-04-01",
        "period_end": "2023-04-30",
        "volume": "4",
        "unit": "04",
        "tariff_eur": "12.50",
        "amount_eur": "50.00",
        "debit_credit": "D",
        "source_row": 1,
    }
    assert rows["reference_number"].to_list() == ["RN001", "RN002", "RN003", "RN004"]
    assert rows["client_bsn"].to_list() == ["999900006", "999900006", "999900018", "999900018"]
    assert rows["allocation_number"].to_list() == ["20072", "200730", "20074", "20073"]
    assert rows["volume"].to_list() == ["4", "16", "4", "16"]
    assert rows["tariff_eur"].to_list() == ["12.50", "15.00", "12.50", "15.00"]
    assert rows["amount_eur"].to_list() == ["50.00", "240.00", "50.00", "240.00"]
    # TotaalIngediendBedrag 58000 eurocents = the sum of the lines
    assert rows["amount_eur"].cast(pl.Decimal(18, 2)).sum() == pytest.approx(580)
    assert rows["source_row"].to_list() == [1, 2, 3, 4]


# --- canonical frames for the round trips -------------------------------------------------------

LAW_VALUES = {
    # law: (category, product code, second category, stop reason)
    "wmo": ("02", "02A01", "01", "20"),
    "jeugd": ("45", "45A12", "43", "34"),
}


def _allocations(law: str) -> pl.DataFrame:
    cat, code, cat2, _ = LAW_VALUES[law]
    return pl.DataFrame(
        {
            "municipality_code": ["0363", "0363", "0363", "0363", "0599"],
            "allocation_number": ["1001", "1002", "1001", "1003", "1001"],
            "law": [law] * 5,
            "client_bsn": ["999900006", "999900006", "999900006", "999900018", "999900006"],
            "provider_agb": ["12345678", "12345678", "12345678", "12345678", "87654321"],
            "product_category": [cat, cat2, cat, None, cat],
            "product_code": [code, None, code, None, code],
            "decided_on": [
                "2025-01-05 10:00:00", "2025-01-05 10:00:00", "2025-03-01 09:30:15",
                "2025-02-01 08:00:00", "2025-01-07 11:00:00",
            ],
            "start_date": ["2025-01-01", "2025-01-01", "2025-01-01", "2025-02-01", "2025-01-01"],
            "end_date": ["2025-12-31", "2025-06-30", "2025-06-30", "2025-12-31", None],
            "volume": ["4", "250.50", "4", None, "3"],
            "unit": ["04", "83", "04", None, "16"],
            "frequency": ["2", "4", "2", None, "2"],
            "budget_eur": [None, None, None, "1200.00", None],
            "change_reason": [None, None, "13", None, None],
        }
    )


def _declarations(law: str) -> pl.DataFrame:
    cat, code, cat2, _ = LAW_VALUES[law]
    n = 5
    return pl.DataFrame(
        {
            "provider_agb": ["12345678"] * 4 + ["87654321"],
            "municipality_code": ["0363"] * 4 + ["0599"],
            "law": [law] * n,
            "message_id": ["M2025-02"] * 4 + ["X1"],
            "declaration_number": ["DN1"] * 4 + ["DN9"],
            "declaration_period_start": ["2025-02-01"] * 4 + ["2025-03-01"],
            "declaration_period_end": ["2025-02-28"] * 4 + ["2025-03-31"],
            "declared_on": ["2025-03-03"] * 4 + ["2025-04-02"],
            "reference_number": ["R1", "R2", "R3", "R4", "R1"],
            "previous_reference_number": [None, None, "R0", None, None],
            "client_bsn": ["999900006", "999900018", "999900006", "999900018", "999900006"],
            "allocation_number": ["1001", "1002", "1001", "1003", "1001"],
            "product_category": [cat, cat2, cat, cat, cat],
            "product_code": [code, "X&Y", code, code, code],
            "period_start": ["2025-02-01"] * 4 + ["2025-03-01"],
            "period_end": ["2025-02-28"] * 4 + ["2025-03-31"],
            "volume": ["16", "250.50", "2", "10", "7"],
            "unit": ["04", "83", "04", "01", "16"],
            "tariff_eur": ["62.50", None, "62.50", "1.05", "40.00"],
            "amount_eur": ["1000.00", "250.50", "125.00", "10.50", "280.00"],
            "debit_credit": ["D", "D", "C", "D", "D"],
        }
    )


def _answers(law: str) -> pl.DataFrame:
    """M2025-02: one line rejected, client 999900018 rejected as a whole; X1: fully approved."""
    return pl.DataFrame(
        {
            "provider_agb": ["12345678"] * 4 + ["87654321"],
            "law": [law] * 5,
            "message_id": ["M2025-02"] * 4 + ["X1"],
            "answered_on": ["2025-03-10"] * 4 + ["2025-04-09"],
            "reference_number": [None, "R1", "R2", "R4", None],
            "return_codes": ["0200", "9338,9339", "0233,8187", "0233,8187", "0200,8001"],
        }
    )


def _care_events(law: str) -> pl.DataFrame:
    _, _, _, reason = LAW_VALUES[law]
    return pl.DataFrame(
        {
            "municipality_code": ["0363"] * 5,
            "law": [law] * 5,
            "allocation_number": ["1001", "1001", "1002", "1001", "1001"],
            "provider_agb": ["12345678"] * 5,
            "client_bsn": ["999900006"] * 5,
            "event": ["start", "stop", "start", "start", "start"],
            "start_date": ["2025-01-06", "2025-01-06", "2025-01-06", "2025-01-06", "2025-03-01"],
            "end_date": [None, "2025-02-01", None, None, None],
            "end_reason": [None, reason, None, None, None],
            "status": ["1", "1", "1", "3", "1"],
            # one Dagtekening per message: the three first-version starts travel together
            "sent_on": ["2025-03-03", "2025-02-10", "2025-03-03", "2025-03-04", "2025-03-03"],
        }
    )


FRAMES = {
    "allocations": _allocations,
    "declarations": _declarations,
    "answers": _answers,
    "care_events": _care_events,
}
SORT_KEYS = {
    "allocations": ["municipality_code", "provider_agb", "allocation_number", "decided_on"],
    "declarations": ["message_id", "reference_number"],
    "answers": ["message_id", "reference_number"],
    "care_events": ["event", "allocation_number", "start_date", "status"],
}
EXPECTED_CODES = {
    "allocations": {"301"},
    "declarations": {"323"},
    "answers": {"325"},
    "care_events": {"305", "307"},
}


def _write(kind: str, frame: pl.DataFrame, out: Path, law: str) -> list[Path]:
    extra = {"declarations": _declarations(law)} if kind == "answers" else {}
    return write_messages(kind, frame, out, law=law, **extra)


@pytest.mark.parametrize("law", ["wmo", "jeugd"])
@pytest.mark.parametrize("kind", list(FRAMES))
def test_round_trip_gives_the_same_canonical_rows(kind, law, tmp_path):
    frame = FRAMES[kind](law)
    paths = _write(kind, frame, tmp_path, law)
    messages = [read_message(p) for p in paths]
    for path, message in zip(paths, messages):
        _assert_valid(path)
        assert (message.kind, message.law) == (kind, law)
        assert message.rows["source_row"].to_list() == list(range(1, message.rows.height + 1))
    assert {m.message_code for m in messages} == EXPECTED_CODES[kind]
    read = pl.concat([m.rows for m in messages]).drop("source_row")
    assert read.columns == CANONICAL_COLUMNS[kind]
    expected = frame.select(CANONICAL_COLUMNS[kind])
    key = SORT_KEYS[kind]
    assert read.sort(key).to_dicts() == expected.sort(key).to_dicts()


def test_allocation_versions_go_to_successive_messages(tmp_path):
    paths = write_messages("allocations", _allocations("wmo"), tmp_path, law="wmo")
    # client 999900006 at 0363/12345678 has two versions of allocation 1001: two messages;
    # one more for client 999900018 and one for the other municipality and provider
    assert len(paths) == 4
    snapshots = sorted(
        tuple(read_message(p).rows["allocation_number"].to_list()) for p in paths
    )
    assert snapshots == [("1001",), ("1001",), ("1001", "1002"), ("1003",)]


def test_writer_accepts_typed_values(tmp_path):
    text = _declarations("wmo")
    typed = text.with_columns(
        pl.col("declared_on", "period_start", "period_end").str.to_date(),
        pl.col("volume", "tariff_eur", "amount_eur").cast(pl.Float64),
    )
    paths = write_messages("declarations", typed, tmp_path, law="wmo")
    read = pl.concat([read_message(p).rows for p in paths]).sort("message_id", "reference_number")
    expected = text.sort("message_id", "reference_number")
    for column in ("declared_on", "period_start", "period_end", "reference_number"):
        assert read[column].to_list() == expected[column].to_list()
    for column in ("volume", "tariff_eur", "amount_eur"):
        assert read[column].cast(pl.Float64).to_list() == expected[column].cast(pl.Float64).to_list()
    assert typed["declared_on"].dtype == pl.Date and date(2025, 3, 3) in typed["declared_on"]


def test_writer_refuses_a_frame_of_the_other_law(tmp_path):
    with pytest.raises(ValueError, match="law"):
        write_messages("allocations", _allocations("wmo"), tmp_path, law="jeugd")


# --- 325 semantics ------------------------------------------------------------------------------


def _answer_xml(path: Path, law: str) -> tuple[etree._Element, dict]:
    root = etree.parse(str(path)).getroot()
    ns = {"m": message_namespace(law, "325"), "b": base_namespace(law)}
    return root, ns


@pytest.mark.parametrize(
    ("codes", "header", "answer", "awarded"),
    [
        ("0200,8001", ["0200"], ["8001"], "113600"),  # nothing rejected: all awarded
        ("0001", ["0001"], None, None),  # technical refusal: header only
        ("0200,9333", ["0200"], ["9333"], "0"),  # declaration-level error: nothing awarded
    ],
)
def test_declaration_level_answers(codes, header, answer, awarded, tmp_path):
    answers = pl.DataFrame(
        {
            "provider_agb": ["12345678"],
            "law": ["wmo"],
            "message_id": ["M2025-02"],
            "answered_on": ["2025-03-10"],
            "reference_number": [None],
            "return_codes": [codes],
        },
        schema_overrides={"reference_number": pl.Utf8},
    )
    [path] = write_messages("answers", answers, tmp_path, law="wmo", declarations=_declarations("wmo"))
    _assert_valid(path)
    root, ns = _answer_xml(path, "wmo")
    assert root.xpath("m:Header/m:RetourCodes/m:RetourCode/text()", namespaces=ns) == header
    assert root.xpath("m:Header/m:DeclaratieIdentificatie/b:Identificatie/text()", namespaces=ns) == [
        "M2025-02"
    ]
    if answer is None:
        assert root.find("m:DeclaratieAntwoord", ns) is None
    else:
        da = root.find("m:DeclaratieAntwoord", ns)
        assert da.xpath("m:RetourCodes/m:RetourCode/text()", namespaces=ns) == answer
        # declared: 1000.00 + 250.50 - 125.00 + 10.50 = 1136.00 -> 113600 eurocents
        assert da.findtext("m:TotaalIngediendBedrag/b:TotaalBedrag", namespaces=ns) == "113600"
        assert da.findtext("m:TotaalToegekendBedrag/b:TotaalBedrag", namespaces=ns) == awarded
    rows = read_message(path).rows
    assert rows.to_dicts() == [
        {
            "provider_agb": "12345678",
            "law": "wmo",
            "message_id": "M2025-02",
            "answered_on": "2025-03-10",
            "reference_number": None,
            "return_codes": codes,
            "source_row": 1,
        }
    ]


def test_client_level_error_is_written_on_the_client_and_read_as_0233(tmp_path):
    [path] = write_messages(
        "answers",
        _answers("wmo").filter(pl.col("message_id") == "M2025-02"),
        tmp_path,
        law="wmo",
        declarations=_declarations("wmo"),
    )
    root, ns = _answer_xml(path, "wmo")
    clients = root.findall("m:DeclaratieAntwoord/m:Clienten/m:Client", ns)
    by_bsn = {c.findtext("m:Bsn", namespaces=ns): c for c in clients}
    error_client = by_bsn["999900018"]
    assert error_client.xpath("m:RetourCodes/m:RetourCode/text()", namespaces=ns) == ["8187"]
    assert error_client.xpath(
        "m:Prestaties/m:Prestatie/m:RetourCodes/m:RetourCode/text()", namespaces=ns
    ) == ["0233", "0233"]
    assert by_bsn["999900006"].xpath("m:RetourCodes/m:RetourCode/text()", namespaces=ns) == ["0200"]
    # awarded = declared 1136.00 - rejected (1000.00 + 250.50 + 10.50) = -125.00: a credit
    da = root.find("m:DeclaratieAntwoord", ns)
    assert da.findtext("m:TotaalToegekendBedrag/b:TotaalBedrag", namespaces=ns) == "12500"
    assert da.findtext("m:TotaalToegekendBedrag/b:DebetCredit", namespaces=ns) == "C"
    rows = read_message(path).rows.select("reference_number", "return_codes").to_dicts()
    assert rows == [
        {"reference_number": None, "return_codes": "0200"},
        {"reference_number": "R1", "return_codes": "9338,9339"},
        {"reference_number": "R2", "return_codes": "0233,8187"},
        {"reference_number": "R4", "return_codes": "0233,8187"},
    ]


# --- refusals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "reason_code", "phrase"),
    [
        ("wrong_namespace_child.xml", "xml_invalid", "Expected is ( iwmo:Volume )"),
        ("jeugd_with_wmo_basisschema.xml", "xml_invalid", "Expected is ( ijw:Identificatie )"),
        ("wrong_namespace_release.xml", "xml_unknown_message", "iWmo 3.1"),
        ("missing_required_element.xml", "xml_invalid", "Expected is ( wmo323:GeleverdVolume )"),
        ("code_list_eenheid.xml", "xml_invalid", "The value '99' is not an element of the set"),
        ("jeugd_code_list_category.xml", "xml_invalid", "The value '01' is not an element"),
        ("impossible_date.xml", "xml_invalid", "'2026-02-30' is not a valid value"),
        ("bericht_code_mismatch.xml", "xml_invalid", "'484' is not accepted by the pattern '414'"),
        ("invalid_bsn_short.xml", "xml_invalid", "wmo323:Bsn"),
        ("invalid_bsn_long.xml", "xml_invalid", "wmo323:Bsn"),
        ("unknown_message_315.xml", "xml_unknown_message", "WMO315"),
        ("not_iwmo.xml", "xml_unknown_message", "is not an iWmo/iJw message"),
        ("external_entity.xml", "xml_forbidden_entity", "DOCTYPE"),
        ("external_dtd.xml", "xml_forbidden_entity", "DOCTYPE"),
        ("billion_laughs.xml", "xml_forbidden_entity", "DOCTYPE"),
        ("truncated.xml", "xml_unparseable", "not well-formed"),
        ("empty.xml", "xml_unparseable", "not well-formed"),
    ],
)
def test_malformed_message_is_refused_with_a_clear_reason(fixture, reason_code, phrase):
    with pytest.raises(MessageRefused) as refused:
        read_message(FIXTURES / fixture)
    assert refused.value.reason_code == reason_code
    assert phrase in refused.value.reason_text
    assert not re.search(r"\d{9}", refused.value.reason_text)
    for bsn in ("999900006", "999900018", "99990001", "9999000181"):
        assert bsn not in refused.value.reason_text


def test_entities_are_never_expanded_even_past_the_prolog_scan(tmp_path):
    """A DOCTYPE hidden behind 70 kB of comment still reaches libxml2: it must not expand it."""
    lol = "".join(
        f'<!ENTITY l{i} "{f"&l{i - 1};" * 10 if i else "lol"}">' for i in range(10)
    )
    path = tmp_path / "hidden.xml"
    path.write_text(
        f'<?xml version="1.0"?>\n<!--{"x" * 70000}-->\n<!DOCTYPE r [{lol}]>\n<r>&l9;</r>\n'
    )
    with pytest.raises(MessageRefused) as refused:
        read_message(path)
    assert refused.value.reason_code == "xml_forbidden_entity"


def test_a_missing_file_is_refused(tmp_path):
    with pytest.raises(MessageRefused) as refused:
        read_message(tmp_path / "absent.xml")
    assert refused.value.reason_code == "xml_unparseable"


def test_large_message_streams_to_the_same_rows(tmp_path):
    """A 3,000-line 323 (about 2 MB) reads back line for line."""
    lines = 3000
    base = _declarations("wmo").head(1)
    frame = pl.concat([base] * lines).with_columns(
        pl.format("R{}", pl.int_range(lines)).alias("reference_number"),
        pl.format("99990{}", (pl.int_range(lines) // 10).cast(pl.Utf8).str.zfill(4)).alias(
            "client_bsn"
        ),
    )
    [path] = write_messages("declarations", frame, tmp_path, law="wmo")
    rows = read_message(path).rows
    assert rows.height == lines
    assert rows["reference_number"].to_list() == frame["reference_number"].to_list()
    assert rows["client_bsn"].n_unique() == lines // 10
