"""Tests of the synthetic demo data generator (pipeline/demo.py), at a small scale."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from pipeline.ingest.iwmo import read_message
import pytest
import yaml

from pipeline import demo

SCALE = 0.05
AS_OF = date(2026, 10, 31)
PROFILE = Path(demo.__file__).parent / "profiles" / "gemeente_nl.yaml"

# canonical headers, copied from spec/inputs.md (not from the generator)
EXPECTED_HEADERS = {
    "allocations": "municipality_code,allocation_number,law,client_bsn,provider_agb,product_category,"
    "product_code,decided_on,start_date,end_date,volume,unit,frequency,budget_eur,change_reason",
    "declarations": "provider_agb,municipality_code,law,message_id,declaration_number,"
    "declaration_period_start,declaration_period_end,declared_on,reference_number,"
    "previous_reference_number,client_bsn,allocation_number,product_category,product_code,"
    "period_start,period_end,volume,unit,tariff_eur,amount_eur,debit_credit",
    "answers": "provider_agb,law,message_id,answered_on,reference_number,return_codes",
    "care_events": "municipality_code,law,allocation_number,provider_agb,client_bsn,event,start_date,"
    "end_date,end_reason,status,sent_on",
    "zvw_declarations": "insurer_code,provider_agb,client_bsn,client_id,reference_number,"
    "previous_reference_number,service_start,service_end,prestation_code,minutes,tariff_eur,"
    "amount_eur,debit_credit,submitted_on,status",
    "delivered_hours": "municipality_code,law,allocation_number,provider_agb,client_bsn,week,month,hours",
}


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("demo")
    demo.generate(path, seed=7, scale=SCALE, as_of=AS_OF)
    return path


@pytest.fixture(scope="module")
def summary(out) -> dict:
    return json.loads((out / "summary.json").read_text(encoding="utf-8"))


def _dutch_to_canonical(path: Path) -> pl.DataFrame:
    """Read a Dutch export with the profile, into canonical text (ISO dates, '.' decimals)."""
    prof = yaml.safe_load(PROFILE.read_text(encoding="utf-8"))
    text = path.read_bytes().decode(prof["read"]["encoding"])
    df = pl.read_csv(text.encode("utf-8"), separator=prof["read"]["separator"], infer_schema=False)
    df = df.rename(prof["columns"])
    for col, mapping in prof["values"].items():
        df = df.with_columns(pl.col(col).replace_strict(mapping))
    date_cols = ["declaration_period_start", "declaration_period_end", "declared_on", "period_start", "period_end"]
    return df.with_columns(
        *[pl.col(c).str.strptime(pl.Date, prof["read"]["date_format"]).dt.strftime("%Y-%m-%d") for c in date_cols],
        *[pl.col(c).str.replace(",", ".", literal=True) for c in ("tariff_eur", "amount_eur")],
    )


def read_kind(out: Path, kind: str) -> pl.DataFrame:
    """Every readable file of a kind, all columns as text with canonical names, plus source_file."""
    frames = []
    for path in sorted((out / "inbox" / kind).iterdir()):
        if "truncated" in path.name:
            continue
        if path.suffix == ".parquet":
            df = pl.read_parquet(path)
        elif path.suffix == ".xlsx":
            df = pl.read_excel(path, infer_schema_length=0)
        elif "_nl_" in path.name:
            df = _dutch_to_canonical(path)
        else:
            df = pl.read_csv(path, infer_schema=False)
        frames.append(df.with_columns(pl.lit(path.name).alias("source_file")))
    # the part of the traffic that the demo writes as iWmo/iJw XML messages
    iwmo = out / "inbox" / "iwmo"
    if kind in ("allocations", "declarations", "answers", "care_events") and iwmo.is_dir():
        messages = [read_message(p) for p in sorted(iwmo.glob("*.xml"))]
        frames += [
            m.rows.drop("source_row").with_columns(pl.lit(m.message_code).alias("source_file"))
            for m in messages if m.kind == kind
        ]
    return pl.concat(frames, how="diagonal_relaxed")


def elfproef_ok(col: str) -> pl.Expr:
    """Independent elfproef: digits × (9,8,7,6,5,4,3,2,-1) summed ≡ 0 mod 11."""
    weights = [9, 8, 7, 6, 5, 4, 3, 2, -1]
    total = sum(pl.col(col).str.slice(i, 1).cast(pl.Int64) * w for i, w in enumerate(weights))
    return (pl.col(col).str.len_chars() == 9) & (total % 11 == 0)


# ---------------------------------------------------------------------------------------------


def test_monthly_max_worked_examples():
    # metrics.md §3 worked examples
    d = demo.day_number

    def run(unit, cat, s, e, months):
        p0 = np.array([d(max(s, m0)) for m0, _ in months])
        p1 = np.array([d(min(e, m1)) for _, m1 in months])
        n = len(months)
        return demo.monthly_max(np.full(n, 3 if unit == "04" else 300), np.full(n, unit), np.full(n, "2"),
                                np.full(n, "wmo"), np.full(n, cat), np.full(n, d(s)), np.full(n, d(e)), p0, p1)

    q4 = [(date(2025, 10, 1), date(2025, 10, 31)), (date(2025, 11, 1), date(2025, 11, 30)),
          (date(2025, 12, 1), date(2025, 12, 31))]
    q3 = [(date(2025, 7, 1), date(2025, 7, 31)), (date(2025, 8, 1), date(2025, 8, 31)),
          (date(2025, 9, 1), date(2025, 9, 30))]
    # 3 h/week inspanning: Oct 7-31 touches ISO weeks 41-44 (4) -> 12; Nov 5 weeks -> 15; Dec 5 -> 15
    assert run("04", "02", date(2025, 10, 7), date(2025, 12, 30), q4).tolist() == [12, 15, 15]
    # Jul 7-31: 4 weeks -> 12; Aug: weeks 31-35 -> 15; Sep 1-7: one week -> 3
    assert run("04", "02", date(2025, 7, 7), date(2025, 9, 7), q3).tolist() == [12, 15, 3]
    # EUR 300/week output: Oct Sundays 12,19,26 -> 900; Nov 5 Sundays -> 1500; Dec 4 + last-Sunday rule -> 1500
    assert run("83", "10", date(2025, 10, 7), date(2025, 12, 31), q4).tolist() == [900, 1500, 1500]
    # Jul 13,20,27 -> 900; Aug 3..31 (5) + last Sunday Aug 31 (end Sep 5 is a Friday) -> 1800; Sep 0
    assert run("83", "10", date(2025, 7, 7), date(2025, 9, 5), q3).tolist() == [900, 1800, 0]
    # huishoudelijke hulp (category 01, inspanning): 6 × 3 = 18 in every month
    assert run("04", "01", date(2025, 10, 7), date(2025, 12, 30), q4).tolist() == [18, 18, 18]


def test_bsn_pool_and_elfproef():
    pool = demo.bsn_pool(12_000)
    assert len(np.unique(pool)) == 12_000
    assert demo.elfproef(pool).all()
    # 999900006 is the standard test BSN: 9*9 + 9*8 + 9*7 + 9*6 = 270, minus the last digit 6 = 264 = 24 * 11
    assert pool[0] == 999900006
    # the 9999 block holds 10,000 prefixes of which ~1/11 lack a check digit: about 9,090 numbers
    in_block = (pool // 100_000 == 9999).sum()
    assert 9_000 < in_block < 9_200
    assert (pool[in_block:] // 100_000 == 9998).all()
    assert not demo.elfproef(np.array([999900007, 123456789])).any()  # 123456789: 9+16+21+24+25+24+21+16-9 = 147 = 13*11+4


def test_structure_and_counts(out, summary):
    files = summary["file_list"]
    for kind, header in EXPECTED_HEADERS.items():
        csvs = [f for f in files[kind] if f.endswith(".csv") and "_nl_" not in f]
        assert csvs, kind
        for f in csvs:
            with open(out / f, encoding="utf-8") as fh:
                assert fh.readline().rstrip("\n") == header, f
    # row counts in the files equal the summary (bad rows are in the files)
    for kind in EXPECTED_HEADERS:
        assert read_kind(out, kind).height == summary["rows"][kind], kind
    rows = summary["rows"]
    assert rows["declarations"] > 3_000
    assert 0.3 < rows["zvw_declarations"] / rows["declarations"] < 0.8  # ~half
    # formats: Dutch CSV for 1980, Parquet for 0383, XLSX allocations for 0373, one unreadable file
    decl_files = files["declarations"]
    assert any("declaraties_nl_1980_" in f for f in decl_files)
    assert any(f.endswith(".parquet") and "_0383_" in f for f in decl_files)
    assert any(f.endswith(".xlsx") and "_0373_" in f for f in files["allocations"])
    with pytest.raises(Exception):
        pl.read_parquet(out / summary["unreadable_files"][0])
    assert "SYNTHETIC" in (out / "README.txt").read_text(encoding="utf-8")
    # six municipalities, three insurers
    decl = read_kind(out, "declarations")
    assert sorted(decl["municipality_code"].unique()) == ["0361", "0373", "0383", "0399", "0441", "1980"]
    zvw = read_kind(out, "zvw_declarations")
    assert sorted(zvw["insurer_code"].unique()) == ["3311", "3343", "7029"]
    assert zvw.filter(pl.col("insurer_code") == "7029")["client_bsn"].is_null().all()
    assert zvw.filter(pl.col("insurer_code") != "7029")["client_id"].is_null().all()
    assert zvw["provider_agb"].n_unique() >= 20
    assert decl["provider_agb"].n_unique() >= 30


def test_codes_keep_leading_zeros(out):
    alloc = read_kind(out, "allocations")
    xlsx = alloc.filter(pl.col("source_file").str.ends_with(".xlsx"))
    assert xlsx.height > 0 and (xlsx["municipality_code"] == "0373").all()
    for df in (alloc, read_kind(out, "declarations")):
        assert (df["municipality_code"].str.len_chars() == 4).all()
        assert (df["provider_agb"].str.len_chars() == 8).all()
        assert (df["product_category"].str.len_chars() == 2).all()
        assert df["provider_agb"].str.starts_with("0").any()
    pq = pl.read_parquet(next((out / "inbox" / "declarations").glob("declarations_0383_*.parquet")))
    assert all(dtype == pl.String for dtype in pq.schema.values())


def test_allocation_code_lists_and_mix(out):
    alloc = read_kind(out, "allocations")
    good = alloc.filter(pl.col("product_category") != "99")
    assert set(good["unit"].drop_nulls()) <= {"01", "04", "14", "16", "82", "83", "84"}
    assert set(good["frequency"].drop_nulls()) <= {"1", "2", "4", "6"}
    wmo_cats = good.filter(pl.col("law") == "wmo")["product_category"].cast(pl.Int64)
    jeugd_cats = good.filter(pl.col("law") == "jeugd")["product_category"].cast(pl.Int64)
    assert wmo_cats.is_between(1, 18).all() and jeugd_cats.is_between(31, 55).all()
    budget = good.filter(pl.col("budget_eur").is_not_null())
    assert budget.height > 0 and budget["product_code"].is_null().all() and budget["end_date"].is_not_null().all()
    assert good.filter(pl.col("frequency") == "2")["end_date"].is_not_null().all()  # required for per week
    assert good["end_date"].is_null().any()  # open-ended ones exist
    reasons = set(good["change_reason"].drop_nulls())
    assert {"04", "13"} <= reasons
    # a changed allocation keeps its number and gets a later decided_on
    versions = good.group_by("municipality_code", "law", "allocation_number").agg(
        pl.col("decided_on").n_unique().alias("n"))
    assert versions["n"].max() >= 2
    # allocations per client: about 58% one
    per_client = good.group_by("client_bsn").agg(pl.col("allocation_number").n_unique().alias("n"))
    assert 0.48 < (per_client["n"] == 1).mean() < 0.68


def test_bsns_pass_elfproef_except_deliberate_ones(out):
    bad = pl.read_csv(out / "bad_rows.csv", infer_schema=False)
    bad_refs = bad.filter(pl.col("defect") == "bsn_fails_elfproef")["reference_number"]
    seen_bad = 0
    for kind in ("allocations", "declarations", "care_events", "zvw_declarations", "delivered_hours"):
        df = read_kind(out, kind).filter(pl.col("client_bsn").is_not_null())
        failing = df.filter(~elfproef_ok("client_bsn"))
        if "reference_number" in df.columns:
            assert failing["reference_number"].is_in(bad_refs.implode()).all(), kind
            seen_bad += failing.height
        else:
            assert failing.height == 0, kind
        # at this scale every valid BSN comes from the 9999 test range
        assert df.filter(elfproef_ok("client_bsn"))["client_bsn"].str.starts_with("9999").all()
    assert seen_bad == bad_refs.len() > 0


def test_no_date_after_as_of(out):
    as_of = AS_OF.isoformat()
    checks = {
        "allocations": ["decided_on", "start_date"],
        "declarations": ["declared_on", "period_start", "period_end", "declaration_period_start"],
        "answers": ["answered_on"],
        "care_events": ["start_date", "end_date", "sent_on"],
        "zvw_declarations": ["service_start", "service_end", "submitted_on"],
    }
    for kind, cols in checks.items():
        df = read_kind(out, kind)
        for col in cols:
            assert df[col].drop_nulls().str.slice(0, 10).max() <= as_of, (kind, col)
    hours = read_kind(out, "delivered_hours")
    assert hours["month"].drop_nulls().max() <= as_of[:7]
    # ISO week 44 of 2026 runs Mon 26 Oct to Sun 1 Nov: the last week that ended by 31 Oct is week 43
    assert hours["week"].drop_nulls().max() <= "2026-W43"
    decl = read_kind(out, "declarations")
    assert (decl["declared_on"] >= decl["period_end"]).all()
    # product periods stay within one calendar month
    assert (decl["period_start"].str.slice(0, 7) == decl["period_end"].str.slice(0, 7)).all()
    assert decl["period_start"].min() >= "2025-01-01"


def test_amounts_volumes_and_credits(out):
    # (Float64: the XML reader gives unit-83 volumes as euros with two decimals, "541.00")
    decl = read_kind(out, "declarations").with_columns(
        pl.col("volume").cast(pl.Float64), pl.col("tariff_eur").cast(pl.Float64), pl.col("amount_eur").cast(pl.Float64))
    bad = pl.read_csv(out / "bad_rows.csv", infer_schema=False)
    ok = decl.filter(~pl.col("reference_number").is_in(bad["reference_number"].implode()))
    assert (ok["volume"] > 0).all()
    # amount = volume × tariff (unit 83: tariff 1.00), hours declared in minutes: minutes × tariff / 60
    expected = (pl.when((pl.col("unit") == "01") & (pl.col("tariff_eur") > 10))
                .then(pl.col("volume") * pl.col("tariff_eur") / 60)
                .otherwise(pl.col("volume") * pl.col("tariff_eur")))
    mismatch = ok.filter((pl.col("amount_eur") - expected).abs() > 0.011)
    answers = read_kind(out, "answers")
    rejected = answers.filter(pl.col("reference_number").is_not_null())
    # only deliberately wrong amounts differ: rejected with 9346, or in a message that is still
    # unanswered or was voided as a whole
    msg_rows = answers.filter(pl.col("reference_number").is_null()).select(
        "provider_agb", "message_id", pl.col("return_codes").alias("message_code"))
    m = mismatch.join(rejected, on=["provider_agb", "message_id", "reference_number"], how="left").join(
        msg_rows, on=["provider_agb", "message_id"], how="left")
    assert mismatch.height > 0
    assert m.filter(pl.col("return_codes").is_not_null())["return_codes"].str.contains("9346").all()
    unlisted = m.filter(pl.col("return_codes").is_null())
    assert (unlisted["message_code"].is_null() | unlisted["message_code"].is_in(["0001", "0200,9333"])).all()
    # reference numbers unique per provider except the deliberate duplicates
    dups = decl.group_by("provider_agb", "reference_number").len().filter(pl.col("len") > 1)
    dup_refs = bad.filter(pl.col("defect") == "duplicate_reference_number")["reference_number"]
    assert set(dups["reference_number"]) == set(dup_refs)
    # every credit names an existing debit with the same amount, except the deliberate ghosts
    credits = ok.filter(pl.col("debit_credit") == "C")
    debits = decl.filter(pl.col("debit_credit") == "D").select(
        "provider_agb", pl.col("reference_number").alias("previous_reference_number"),
        pl.col("amount_eur").alias("debit_amount"), pl.col("declared_on").alias("debit_declared"))
    c = credits.join(debits, on=["provider_agb", "previous_reference_number"], how="left")
    assert credits.height > 0
    assert c["debit_amount"].is_not_null().all()
    assert (c["debit_amount"] == c["amount_eur"]).all()
    assert (c["debit_declared"] < c["declared_on"]).all()
    ghosts = bad.filter(pl.col("defect") == "credit_without_debit")["reference_number"]
    assert decl.filter(pl.col("reference_number").is_in(ghosts.implode()))["debit_credit"].eq("C").all()


def test_answers(out):
    decl = read_kind(out, "declarations")
    answers = read_kind(out, "answers")
    msg_rows = answers.filter(pl.col("reference_number").is_null())
    # one declaration-level row per answered message
    assert msg_rows.group_by("provider_agb", "message_id").len()["len"].max() == 1
    assert set(msg_rows["return_codes"]) <= {"0200,8001", "0200", "0001", "0200,9333"}
    assert {"0200,8001", "0200"} <= set(msg_rows["return_codes"])
    line_rows = answers.filter(pl.col("reference_number").is_not_null())
    allowed = {"9321", "9322", "9307", "9308", "0611", "9346", "9338", "9340", "9341"}
    assert set(",".join(line_rows["return_codes"]).split(",")) <= allowed
    # a rejected line belongs to the answered message and its message says 0200
    j = line_rows.join(decl.select("provider_agb", "message_id", "reference_number", "declared_on"),
                       on=["provider_agb", "message_id", "reference_number"], how="left")
    assert j["declared_on"].is_not_null().all()
    assert (j["answered_on"] > j["declared_on"]).all()
    m = line_rows.select("provider_agb", "message_id").unique().join(msg_rows, on=["provider_agb", "message_id"])
    assert (m["return_codes"] == "0200").all()
    # a few percent of the lines are rejected; some messages are still pending
    assert 0.01 < line_rows.height / decl.height < 0.08
    msgs = decl.select("provider_agb", "message_id").unique()
    answered = msg_rows.select("provider_agb", "message_id")
    assert 0 < msgs.join(answered, on=["provider_agb", "message_id"], how="anti").height < 0.2 * msgs.height


def _latest_allocations(out: Path) -> pl.DataFrame:
    alloc = read_kind(out, "allocations").filter(pl.col("product_category") != "99")
    return (alloc.sort("decided_on").group_by("municipality_code", "law", "allocation_number").last()
            .filter(pl.col("change_reason").fill_null("") != "13"))


def test_monthly_volumes_within_maxima_except_intended(out, summary):
    """Recompute §3 by exploding each product period into days (independent of the generator)."""
    alloc = _latest_allocations(out).filter(pl.col("volume").is_not_null() & (pl.col("frequency") != "6"))
    decl = read_kind(out, "declarations")
    answers = read_kind(out, "answers")
    bad = pl.read_csv(out / "bad_rows.csv", infer_schema=False)
    voided = answers.filter(pl.col("reference_number").is_null() & pl.col("return_codes").is_in(["0001", "0200,9333"]))
    rejected = answers.filter(pl.col("reference_number").is_not_null())
    lines = (decl.join(voided.select("provider_agb", "message_id"), on=["provider_agb", "message_id"], how="anti")
             .join(rejected.select("provider_agb", "message_id", "reference_number"),
                   on=["provider_agb", "message_id", "reference_number"], how="anti")
             .filter(~pl.col("reference_number").is_in(bad["reference_number"].implode()))
             .with_columns(pl.col("volume").cast(pl.Float64), pl.col("period_start").str.to_date()))
    # net volume in the allocation's unit per allocation × month
    net = (lines.join(alloc.select("municipality_code", "law", "allocation_number", pl.col("unit").alias("a_unit")),
                      on=["municipality_code", "law", "allocation_number"])
           .with_columns(
               (pl.when(pl.col("debit_credit") == "C").then(-1).otherwise(1)
                * pl.when((pl.col("unit") == "01") & (pl.col("a_unit") == "04")).then(pl.col("volume") / 60)
                .otherwise(pl.col("volume"))).alias("v"),
               pl.col("period_start").dt.truncate("1mo").alias("month"))
           .group_by("municipality_code", "law", "allocation_number", "provider_agb", "month").agg(pl.col("v").sum()))
    # days of each month the allocation covers
    a = alloc.with_columns(pl.col("start_date").str.to_date(), pl.col("end_date").str.to_date(),
                           pl.col("volume").cast(pl.Float64))
    keys = net.select("municipality_code", "law", "allocation_number", "month").unique().join(
        a, on=["municipality_code", "law", "allocation_number"])
    days = keys.with_columns(
        pl.date_ranges(pl.max_horizontal("start_date", "month"),
                       pl.min_horizontal(pl.col("end_date").fill_null(date(2099, 12, 31)),
                                         pl.col("month").dt.month_end())).alias("day")).explode("day")
    # the allocation's last Sunday (for the output per-week rule)
    last_sunday = pl.col("end_date") - pl.duration(days=pl.col("end_date").dt.weekday() % 7)
    per = days.group_by("municipality_code", "law", "allocation_number", "month").agg(
        pl.len().alias("days"),
        (pl.col("day").dt.iso_year().cast(pl.Int64) * 100 + pl.col("day").dt.week()).n_unique().alias("weeks"),
        (pl.col("day").dt.weekday() == 7).sum().alias("sundays"),
        ((pl.col("day") == last_sunday) & (pl.col("end_date").dt.weekday() != 7)).any().alias("extra"),
        pl.first("volume", "unit", "frequency", "product_category"),
    )
    output = pl.col("unit").is_in(["82", "83"])
    maxima = per.with_columns(
        pl.when(pl.col("frequency") == "1").then(pl.col("volume") * pl.col("days"))
        .when((pl.col("frequency") == "2") & output).then(pl.col("volume") * (pl.col("sundays") + pl.col("extra").cast(pl.Int64)))
        .when((pl.col("frequency") == "2") & (pl.col("law") == "wmo") & (pl.col("product_category") == "01")).then(6 * pl.col("volume"))
        .when(pl.col("frequency") == "2").then(pl.col("volume") * pl.col("weeks"))
        .when(pl.col("frequency") == "4").then(pl.col("volume"))
        .alias("max_volume"))
    checked = net.join(maxima, on=["municipality_code", "law", "allocation_number", "month"])
    assert checked.height > 0.8 * net.height
    over = checked.filter(pl.col("v") > pl.col("max_volume") + 1e-9)
    intended = summary["overshooting_providers"]["peaky"] + summary["overshooting_providers"]["overshoot"]
    assert over["provider_agb"].is_in(intended).all()
    assert 0 < over.height < 0.1 * checked.height
    # about 20% of the indicated volume is unused (between 10% and 35%)
    used = checked["v"].sum() / checked["max_volume"].sum()
    assert 0.65 < used < 0.9


def test_dutch_export_is_cp1252_with_decimal_commas(out):
    prof = yaml.safe_load(PROFILE.read_text(encoding="utf-8"))
    assert prof["kind"] == "declarations" and prof["read"]["encoding"] == "cp1252"
    dutch = sorted((out / "inbox" / "declarations").glob("declaraties_nl_*.csv"))
    assert dutch
    import fnmatch
    all_names = [p.name for p in (out / "inbox").rglob("*")]
    matched = {n for n in all_names for g in prof["match"] if fnmatch.fnmatch(n, g)}
    assert matched == {p.name for p in dutch}  # the glob matches only the Dutch files
    raw = dutch[0].read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # 'ë' and '€' in cp1252 are not valid UTF-8
    text = raw.decode("cp1252")
    header = text.splitlines()[0].split(";")
    assert set(header) == set(prof["columns"])  # every source column is listed in the profile
    assert len(header) == len(prof["columns"])
    assert "AGB-code zorgaanbieder" in header and "Begindatum product" in header
    df = pl.read_csv(text.encode("utf-8"), separator=";", infer_schema=False)
    assert df["Ingediend bedrag"].str.contains(r"^\d+,\d{2}$").all()
    assert df["Begindatum product"].str.contains(r"^\d{2}-\d{2}-\d{4}$").all()
    assert set(df["Debet/Credit"]) <= {"Debet", "Credit"} and set(df["Wet"]) <= {"Wmo", "Jeugdwet"}
    assert set(prof["columns"].values()) == set(EXPECTED_HEADERS["declarations"].split(","))
    # read through the profile, the Dutch file carries the same content as a canonical one would
    canon = _dutch_to_canonical(dutch[0])
    assert canon["amount_eur"].cast(pl.Float64).sum() > 0
    assert (canon["municipality_code"] == "1980").all()


def test_reference_tables(out):
    products = pl.read_csv(out / "reference" / "products.csv", infer_schema=False)
    assert products.columns == ["product_code", "product_category", "law", "description", "unit", "tariff_eur",
                                "tariff_period", "band_min_hours_per_week", "band_max_hours_per_week",
                                "reference_hours_per_week", "rekenfactor", "valid_from", "valid_to"]
    assert (products.group_by("product_code").len()["len"] == 2).all()  # a 2025 and a 2026 tariff
    assert "4weeks" in set(products["tariff_period"])
    bands = products.filter(pl.col("band_min_hours_per_week").is_not_null())
    assert {("0.00", "2.00"), ("2.00", "4.00"), ("4.00", "6.00")} <= set(
        zip(bands["band_min_hours_per_week"], bands["band_max_hours_per_week"]))
    assert bands["rekenfactor"].cast(pl.Float64).is_between(0.85, 1.0).all()
    ceilings = pl.read_csv(out / "reference" / "ceilings.csv", infer_schema=False)
    assert {"3311", "3343", "7029"} <= set(ceilings["payer_code"])
    assert ceilings["payer_code"].is_in(["0361", "0383", "0373", "1980", "0399", "0441"]).any()
    assert set(ceilings["policy"]) == {"stop_payment", "settle"}
    ins = ceilings.filter(pl.col("payer_code").is_in(["3311", "3343", "7029"]))
    assert ins["max_hours_per_client_month"].cast(pl.Float64).is_between(8, 14).all()
    budgets = pl.read_csv(out / "reference" / "budgets.csv", infer_schema=False)
    assert budgets.filter(pl.col("product_category").is_null()).height == 6 * 2 * 2
    assert budgets["product_category"].is_not_null().any()


def test_care_events_and_delivered_hours(out):
    ev = read_kind(out, "care_events")
    assert {"start", "stop"} == set(ev["event"])
    assert "20" in set(ev["end_reason"].drop_nulls())
    assert "3" in set(ev["status"])
    stops = ev.filter(pl.col("event") == "stop")
    assert (stops["end_date"] >= stops["start_date"]).all()
    hours = read_kind(out, "delivered_hours")
    assert hours["week"].is_not_null().any() and hours["month"].is_not_null().any()
    assert (hours["week"].is_null() ^ hours["month"].is_null()).all()
    assert hours["week"].drop_nulls().str.contains(r"^\d{4}-W\d{2}$").all()
    # registered hours belong to declared allocations
    decl = read_kind(out, "declarations")
    assert hours["allocation_number"].is_in(decl["allocation_number"].implode()).all()


def test_determinism(out, tmp_path):
    demo.generate(tmp_path, seed=7, scale=SCALE, as_of=AS_OF)
    first = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    second = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert first == second
    # every file, CSV, Parquet and XLSX alike, is byte-identical
    for rel in first:
        assert (out / rel).read_bytes() == (tmp_path / rel).read_bytes(), rel


def test_other_seed_differs():
    a = demo.build_frames(seed=1, scale=0.02)["declarations"]
    b = demo.build_frames(seed=2, scale=0.02)["declarations"]
    assert not a.equals(b)


def test_scaling_doubles_lines():
    one = demo.build_frames(seed=3, scale=0.03)
    two = demo.build_frames(seed=3, scale=0.06)
    for kind in ("declarations", "zvw_declarations", "allocations"):
        ratio = two[kind].height / one[kind].height
        assert 1.7 < ratio < 2.3, (kind, ratio)


# --- steady state (issue 19) -------------------------------------------------------------------


def _in_force(alloc: pl.DataFrame, month: str) -> pl.DataFrame:
    """Allocations (latest version) that cover some day of the month YYYY-MM."""
    first = date.fromisoformat(f"{month}-01")
    last = (pl.lit(first).dt.month_end())
    return alloc.filter((pl.col("start_date").str.to_date() <= last)
                        & (pl.col("end_date").is_null() | (pl.col("end_date").str.to_date() >= first)))


def test_the_population_is_in_care_from_the_first_month(out, summary):
    """No cold start: the allocations in force and the clients declared for stay level over 2025
    (the old generator grew tenfold), because allocations began up to four years before the window."""
    alloc = _latest_allocations(out)
    jan, dec = _in_force(alloc, "2025-01").height, _in_force(alloc, "2025-12").height
    assert 0.8 < dec / jan < 1.25, (jan, dec)
    # most of January's population started before the window, some years before, and some of it
    # ends soon after the window begins
    started = _in_force(alloc, "2025-01")["start_date"]
    assert (started < "2025-01-01").mean() > 0.8
    assert started.min() < "2022-07-01"
    ends = _in_force(alloc, "2025-01")["end_date"].drop_nulls()
    assert ((ends >= "2025-01-01") & (ends < "2025-04-01")).sum() > 0
    # what was decided before the window comes as one first-load file per municipality
    initial = [f for f in summary["file_list"]["allocations"] if "_initial." in f]
    assert len(initial) == 6
    first_load = read_kind(out, "allocations").filter(pl.col("source_file").str.contains("_initial."))
    assert (first_load["decided_on"].str.slice(0, 10) < "2025-01-01").all()
    # declarations only from the window on, also for the allocations that started before it
    decl = read_kind(out, "declarations")
    assert decl["period_start"].min() >= "2025-01-01"
    old = alloc.filter(pl.col("start_date") < "2024-01-01")["allocation_number"]
    assert decl.filter(pl.col("allocation_number").is_in(old.implode())
                       & (pl.col("period_start").str.slice(0, 7) == "2025-01")).height > 0
    # clients declared per month, Wmo/Jeugd and wijkverpleging, level too
    per_month = decl.group_by(pl.col("period_start").str.slice(0, 7).alias("m")).agg(pl.col("client_bsn").n_unique())
    n = dict(per_month.iter_rows())
    assert 0.8 < n["2025-12"] / n["2025-01"] < 1.25
    zvw = read_kind(out, "zvw_declarations").with_columns(pl.coalesce("client_bsn", "client_id").alias("c"))
    zn = dict(zvw.group_by(pl.col("service_start").str.slice(0, 7)).agg(pl.col("c").n_unique()).iter_rows())
    assert 0.8 < zn["2025-12"] / zn["2025-01"] < 1.25


def test_summary_states_the_parameters_and_what_was_generated(summary):
    p = summary["parameters"]
    assert set(p["growth_per_year"]["clients_by_municipality"]) == {"0361", "0383", "0373", "1980", "0399", "0441"}
    assert set(p["growth_per_year"]["clients_by_insurer"]) == {"3311", "3343", "7029"}
    assert all(0 < g < 0.08 for g in p["growth_per_year"]["clients_by_municipality"].values())
    for factors in p["seasonality"].values():
        assert len(factors) == 12 and abs(sum(factors.values()) / 12 - 1) < 0.01
    assert p["seasonality"]["volume_per_allocation_month"]["aug"] < 0.95  # the summer dip
    monthly = pl.DataFrame(summary["generated"]["monthly"])
    assert monthly.height == (6 * 2 + 3) * 24  # every payer (municipality × law, insurer) × 24 months
    assert (monthly["spend_eur"] > 0).all() and (monthly["clients"] > 0).all()
    per_payer = pl.DataFrame(summary["generated"]["per_payer"])
    assert per_payer.height == 15 and per_payer["ended_per_month_share_2025"].is_between(0.01, 0.3).all()
    assert summary["late_providers"] and len(summary["zvw_late_providers"]) == 3


# --- truth (issues 14 and 18) ------------------------------------------------------------------


def test_ceiling_and_budget_truth(out, summary):
    truth = summary["truth"]
    ceilings = pl.read_csv(out / "reference" / "ceilings.csv", infer_schema=False).with_columns(
        pl.col("year").cast(pl.Int64), pl.col("ceiling_eur").cast(pl.Float64))
    t = pl.DataFrame(truth["ceilings"])
    assert t.select("payer_code", "provider_agb", "year", "ceiling_eur").sort(pl.all()).equals(
        ceilings.select("payer_code", "provider_agb", "year", "ceiling_eur").sort(pl.all()))
    share = pl.col("outcome_eur") / pl.col("ceiling_eur")
    assert t.filter(pl.col("planted") == "over").select(share > 1).to_series().all()
    large = pl.col("ceiling_eur") >= 10_000  # (a tiny contract's ceiling is rounded to hundreds)
    assert t.filter((pl.col("planted") == "within") & large).select(share < 0.9).to_series().all()  # clearly within
    over = pl.DataFrame(truth["ceiling_overruns"])
    assert over.height == t.filter(pl.col("planted") == "over").height
    per_year = over.filter(pl.col("payer_code").is_in(["3311", "3343", "7029"])).group_by("year").len()
    assert per_year.height == 2 and per_year["len"].is_between(2, 8).all()  # a handful a year
    # the 2025 insurer outcomes are exactly what the wijkverpleging files hold for 2025
    z = read_kind(out, "zvw_declarations").filter(
        (pl.col("status") != "rejected") & (pl.col("service_start").str.slice(0, 4) == "2025")).with_columns(
        (pl.col("amount_eur").cast(pl.Float64) * pl.when(pl.col("debit_credit") == "C").then(-1).otherwise(1)).alias("net"))
    files = z.group_by(pl.col("insurer_code").alias("payer_code"), "provider_agb").agg(pl.col("net").sum())
    t25 = t.filter((pl.col("year") == 2025) & pl.col("payer_code").is_in(["3311", "3343", "7029"]))
    both = t25.join(files, on=["payer_code", "provider_agb"], how="left")
    assert ((both["net"] - both["outcome_eur"]).abs() < 0.01).all()
    # budgets: 0361 and 0441 overspend (every law and year), the others stay clearly within
    b = pl.DataFrame(truth["budgets"])
    budgets = pl.read_csv(out / "reference" / "budgets.csv", infer_schema=False)
    assert b.height == budgets.height
    whole = b.filter(pl.col("product_category").is_null())
    over_munis = set(whole.filter(pl.col("outcome_eur") > pl.col("budget_eur"))["municipality_code"])
    assert over_munis == {"0361", "0441"}
    assert whole.filter(pl.col("municipality_code").is_in(["0361", "0441"]))["planted"].eq("over").all()
    assert whole.filter(~pl.col("municipality_code").is_in(["0361", "0441"])).select(
        pl.col("outcome_eur") / pl.col("budget_eur") < 0.97).to_series().all()
    assert {(r["municipality_code"], r["law"], r["year"]) for r in truth["budget_overspends"]} >= {
        (m, law, y) for m in ("0361", "0441") for law in ("wmo", "jeugd") for y in (2025, 2026)}


def _working_days(a: pl.Series, b: pl.Series) -> np.ndarray:
    """Working days in (a, b], Dutch public holidays excluded (independent of the generator)."""
    import holidays
    hol = np.array(sorted(holidays.country_holidays("NL", years=range(2024, 2028))), dtype="datetime64[D]")
    a_ = a.str.to_date().to_numpy().astype("datetime64[D]")
    b_ = b.str.to_date().to_numpy().astype("datetime64[D]")
    return np.busday_count(a_ + 1, b_ + 1, holidays=hol)


def _final_stops(out: Path) -> pl.DataFrame:
    """Stop messages as exported: not temporary (20), not deleted (a status-3 message of the same stop)."""
    ev = read_kind(out, "care_events").filter(pl.col("event") == "stop")
    key = ["municipality_code", "law", "allocation_number", "start_date", "end_date"]
    deleted = ev.filter(pl.col("status") == "3").select(key)
    return ev.filter((pl.col("status") == "1") & (pl.col("end_reason") != "20")).join(deleted, on=key, how="anti")


def test_stop_truth_recomputed_from_the_files(out, summary):
    """sent_on, late stops, temporary stops that resume, deleted stops and allocations left open
    after a stop: what summary.json says equals what the exported files hold."""
    ev = read_kind(out, "care_events")
    assert ev["sent_on"].is_not_null().all() and (ev["sent_on"] >= ev["end_date"].fill_null(ev["start_date"])).all()
    truth = summary["truth"]["stop_messages"]
    stops = _final_stops(out)
    stops = stops.with_columns(pl.Series("wd", _working_days(stops["end_date"], stops["sent_on"])))
    late = stops.filter(pl.col("wd") > 5)
    assert not stops.filter((pl.col("wd") > 3) & (pl.col("wd") < 8)).height  # on time ≤ 3, late ≥ 8
    per_muni = {r["municipality_code"]: r for r in truth["per_municipality"]}
    counts = stops.group_by("municipality_code").agg(pl.len(), (pl.col("wd") > 5).sum().alias("late"))
    for muni, n, n_late in counts.iter_rows():
        assert (per_muni[muni]["final_stops"], per_muni[muni]["late_final_stops"]) == (n, n_late), muni
    assert 0.05 < late.height / stops.height < 0.35
    t_late = pl.DataFrame(truth["late"]).filter(pl.col("kind") == "final")
    assert set(zip(t_late["allocation_number"], t_late["end_date"])) == set(zip(late["allocation_number"], late["end_date"]))
    # a temporary stop resumed by a later start of the same allocation
    temp = ev.filter((pl.col("event") == "stop") & (pl.col("end_reason") == "20"))
    starts = ev.filter((pl.col("event") == "start") & (pl.col("status") == "1"))
    resumed = temp.join(starts, on=["municipality_code", "law", "allocation_number"], suffix="_s").filter(
        pl.col("start_date_s") > pl.col("end_date"))
    assert resumed.height >= 1 and len(truth["temporary"]) == temp.height
    # a stop deleted by a status-3 message
    assert ev.filter((pl.col("event") == "stop") & (pl.col("status") == "3")).height == len(truth["deleted"]) >= 1
    # allocations whose care stopped for good while their latest version has no end on or before the stop
    latest = _latest_allocations(out).select("municipality_code", "law", "allocation_number",
                                             pl.col("end_date").alias("alloc_end"))
    open_after = stops.join(latest, on=["municipality_code", "law", "allocation_number"]).filter(
        pl.col("alloc_end").is_null() | (pl.col("alloc_end") > pl.col("end_date")))
    planted = pl.DataFrame(summary["truth"]["open_after_stop"]["allocations"])
    assert set(open_after["allocation_number"]) == set(planted["allocation_number"])
    assert planted.height >= 1 and (planted["planted"] == "left_open").any()


def test_declared_after_stop_truth_recomputed_from_the_files(out, summary):
    """Lines not rejected (approved, or pending without an answer) whose period starts after a final
    stop of their allocation: exactly the planted ones."""
    decl = read_kind(out, "declarations")
    answers = read_kind(out, "answers")
    bad = pl.read_csv(out / "bad_rows.csv", infer_schema=False)
    voided = answers.filter(pl.col("reference_number").is_null() & pl.col("return_codes").is_in(["0001", "0200,9333"]))
    rejected = answers.filter(pl.col("reference_number").is_not_null())
    lines = (decl.join(voided.select("provider_agb", "message_id"), on=["provider_agb", "message_id"], how="anti")
             .join(rejected.select("provider_agb", "message_id", "reference_number"),
                   on=["provider_agb", "message_id", "reference_number"], how="anti")
             .filter(~pl.col("reference_number").is_in(bad["reference_number"].implode())))
    stops = _final_stops(out).select("municipality_code", "law", "allocation_number", pl.col("end_date").alias("stop"))
    after = lines.join(stops, on=["municipality_code", "law", "allocation_number"]).filter(
        pl.col("period_start") > pl.col("stop"))
    planted = pl.DataFrame(summary["truth"]["declared_after_stop"]["lines"])
    assert planted.height >= 1
    assert set(after["reference_number"]) == set(planted["reference_number"])
    assert (after["debit_credit"] == "D").all()
    per_muni = {r["municipality_code"]: r["lines"] for r in summary["truth"]["declared_after_stop"]["per_municipality"]}
    assert sum(per_muni.values()) == after.height
    # a few percent of the allocations stopped for good
    share = after["allocation_number"].n_unique() / _final_stops(out).height
    assert 0.003 < share < 0.08


def test_organisations_reference(out):
    org = pl.read_csv(out / "reference" / "organisations.csv", infer_schema=False)
    assert org.columns == ["kind", "code", "name"]
    munis = dict(org.filter(pl.col("kind") == "municipality").select("code", "name").iter_rows())
    assert munis == {"0361": "Alkmaar", "0383": "Castricum", "0373": "Bergen (NH)", "1980": "Dijk en Waard",
                     "0399": "Heiloo", "0441": "Schagen"}
    assert set(org.filter(pl.col("kind") == "insurer")["code"]) == {"3311", "3343", "7029"}
    providers = set(org.filter(pl.col("kind") == "provider")["code"])
    assert set(read_kind(out, "declarations")["provider_agb"]) <= providers
    assert set(read_kind(out, "zvw_declarations")["provider_agb"]) <= providers
    assert org["name"].n_unique() == org.height and org["code"].n_unique() == org.height
