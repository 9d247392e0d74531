"""The peer: the core figures computed by a straightforward pandas script, for comparison only.

Reads the same inbox and reference files as the pipeline (CSV, the Dutch-style export, Parquet,
XLSX) and computes, without validation, pseudonymisation or quarantine:

1. approved net amount per allocation and month (metrics.md §2, §4 `approved_amount_eur`);
2. the allocation maximum per month (§3) for the current version of every allocation;
3. the ceiling position per insurer × provider in the as_of year (§7: realised, share, date the ceiling
   was reached).

Vectorised pandas (no loops over rows), the way an analyst would write it. It is not used by
the pipeline. Run: .venv/bin/python benchmarks/pandas_peer.py DATA_DIR; prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parent.parent
INSPANNING = {"01", "04", "14", "16", "84"}


def read_kind(inbox: Path, kind: str) -> pd.DataFrame:
    frames = []
    for path in sorted((inbox / kind).glob("*")):
        if path.suffix == ".csv" and "_nl_" in path.name:
            frames.append(read_dutch(path))
        elif path.suffix == ".csv":
            frames.append(pd.read_csv(path, dtype=str, keep_default_na=False))
        elif path.suffix == ".parquet":
            try:
                frames.append(pd.read_parquet(path))
            except Exception:  # the deliberately truncated file
                continue
        elif path.suffix == ".xlsx":
            frames.append(pd.read_excel(path, dtype=str, engine="openpyxl").fillna(""))
    return pd.concat(frames, ignore_index=True).replace({None: ""})


def read_dutch(path: Path) -> pd.DataFrame:
    profile = yaml.safe_load((ROOT / "pipeline" / "profiles" / "gemeente_nl.yaml").read_text(encoding="utf-8"))
    df = pd.read_csv(path, sep=";", encoding="cp1252", dtype=str, keep_default_na=False)
    df = df.rename(columns=profile["columns"])
    for col, mapping in profile["values"].items():
        df[col] = df[col].replace(mapping)
    for col in ("volume", "tariff_eur", "amount_eur"):
        df[col] = df[col].str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    for col in ("declaration_period_start", "declaration_period_end", "declared_on", "period_start", "period_end"):
        df[col] = pd.to_datetime(df[col], format="%d-%m-%Y").dt.strftime("%Y-%m-%d")
    return df


def approved_per_allocation_month(inbox: Path) -> pd.DataFrame:
    lines = read_kind(inbox, "declarations")
    answers = read_kind(inbox, "answers")
    lines["amount"] = pd.to_numeric(lines["amount_eur"], errors="coerce")
    lines["net"] = np.where(lines["debit_credit"] == "C", -lines["amount"], lines["amount"])
    lines["month"] = pd.to_datetime(lines["period_start"], errors="coerce").dt.to_period("M")
    lines = lines.drop_duplicates(["provider_agb", "law", "reference_number"])
    rejected = answers[answers["reference_number"] != ""][["provider_agb", "law", "reference_number"]].drop_duplicates()
    header = answers[answers["reference_number"] == ""]
    codes = header["return_codes"].str.split(",").explode().str.strip()
    voiding = codes[~codes.isin(["0200", "8001"]) | (codes == "0001")].index.unique()
    voids = header.loc[voiding]
    answered = answers[["provider_agb", "law", "message_id"]].drop_duplicates()
    lines = lines.merge(answered.assign(answered=True), on=["provider_agb", "law", "message_id"], how="left")
    lines = lines.merge(rejected.assign(rejected=True), on=["provider_agb", "law", "reference_number"], how="left")
    lines = lines.merge(voids[["provider_agb", "law", "message_id"]].drop_duplicates().assign(voided=True),
                        on=["provider_agb", "law", "message_id"], how="left")
    approved = lines[lines["answered"].eq(True) & ~lines["rejected"].eq(True) & ~lines["voided"].eq(True)]
    return (approved.groupby(["municipality_code", "law", "allocation_number", "month"], as_index=False)["net"].sum())


def monthly_maxima(inbox: Path, as_of: pd.Timestamp) -> pd.DataFrame:
    alloc = read_kind(inbox, "allocations")
    alloc["decided_on"] = pd.to_datetime(alloc["decided_on"], errors="coerce")
    alloc = alloc[alloc["decided_on"] <= as_of]
    alloc = alloc.sort_values("decided_on").drop_duplicates(["municipality_code", "law", "allocation_number"], keep="last")
    alloc = alloc[(alloc["change_reason"] != "13") & (alloc["volume"] != "")]
    start = pd.to_datetime(alloc["start_date"], errors="coerce")
    end = pd.to_datetime(alloc["end_date"], errors="coerce").fillna(as_of).clip(upper=as_of)
    alloc = alloc.assign(start=start, end=end)[start.notna() & (start <= end)]
    first = alloc["start"].dt.to_period("M")
    n = (alloc["end"].dt.year * 12 + alloc["end"].dt.month) - (alloc["start"].dt.year * 12 + alloc["start"].dt.month) + 1
    rows = alloc.loc[alloc.index.repeat(n)].copy()
    rows["month"] = first.loc[rows.index] + rows.groupby(level=0).cumcount()
    month_start = rows["month"].dt.start_time
    month_end = rows["month"].dt.end_time.dt.normalize()
    p_start = np.maximum(rows["start"], month_start)
    p_end = np.minimum(rows["end"], month_end)
    v = pd.to_numeric(rows["volume"], errors="coerce")
    days = (p_end - p_start).dt.days + 1
    monday = lambda d: d - pd.to_timedelta(d.dt.day_of_week, unit="D")  # noqa: E731
    weeks = (monday(p_end) - monday(p_start)).dt.days // 7 + 1
    sundays = ((p_end - pd.to_timedelta((p_end.dt.day_of_week + 1) % 7, unit="D")) - p_start).dt.days // 7 + 1
    sundays = sundays.clip(lower=0)
    freq, unit = rows["frequency"], rows["unit"]
    household = (rows["law"] == "wmo") & (rows["product_category"] == "01")
    rows["max_volume"] = np.select(
        [freq == "1", (freq == "2") & unit.isin(INSPANNING) & household, (freq == "2") & unit.isin(INSPANNING),
         freq == "2", freq == "4"],
        [v * days, 6 * v, v * weeks, v * sundays, v],
        default=np.nan,
    )
    return rows[["municipality_code", "law", "allocation_number", "month", "max_volume"]]


def ceiling_position(inbox: Path, reference: Path, year: int) -> pd.DataFrame:
    z = read_kind(inbox, "zvw_declarations")
    z = z[z["status"] == "approved"].drop_duplicates(["insurer_code", "provider_agb", "reference_number"])
    z["amount"] = pd.to_numeric(z["amount_eur"], errors="coerce")
    z["net"] = np.where(z["debit_credit"] == "C", -z["amount"], z["amount"])
    z["year"] = pd.to_datetime(z["service_start"]).dt.year
    z = z[z["year"] == year]  # the as_of year, like marts.ceiling_position
    z["submitted_on"] = pd.to_datetime(z["submitted_on"])
    ceilings = pd.read_csv(reference / "ceilings.csv", dtype=str)
    ceilings["year"] = ceilings["year"].astype(int)
    ceilings["ceiling_eur"] = pd.to_numeric(ceilings["ceiling_eur"])
    z = z.sort_values(["submitted_on", "reference_number"])
    keys = ["insurer_code", "provider_agb", "year"]
    z["running"] = z.groupby(keys)["net"].cumsum()
    z = z.merge(ceilings.rename(columns={"payer_code": "insurer_code"}), on=keys, how="inner")
    reached = z[z["running"] >= z["ceiling_eur"]].groupby(keys)["submitted_on"].min().rename("ceiling_reached_on")
    pos = z.groupby(keys).agg(realised_eur=("net", "sum"), ceiling_eur=("ceiling_eur", "first"))
    pos = pos.join(reached).reset_index()
    pos["share"] = pos["realised_eur"] / pos["ceiling_eur"]
    return pos


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--as-of", default=None, help="default: the last day of the latest declared month")
    args = parser.parse_args()
    inbox, reference = args.data / "inbox", args.data / "reference"
    t0 = time.perf_counter()
    approved = approved_per_allocation_month(inbox)
    as_of = pd.Timestamp(args.as_of) if args.as_of else (approved["month"].max() + 1).start_time - pd.Timedelta(days=1)
    maxima = monthly_maxima(inbox, as_of)
    ceilings = ceiling_position(inbox, reference, as_of.year)
    seconds = time.perf_counter() - t0
    print(json.dumps({
        "seconds": seconds,
        "approved_rows": len(approved), "approved_eur": round(float(approved["net"].sum()), 2),
        "maxima_rows": len(maxima), "ceiling_rows": len(ceilings),
        "ceiling_realised_eur": round(float(ceilings["realised_eur"].sum()), 2),
    }))


if __name__ == "__main__":
    main()
