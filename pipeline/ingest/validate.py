"""Validate typed frames: pandera (lazy, eager frames) plus the multi-column row rules.

Returns the rows that pass and one error row per failing source row, with a reason code (the
first problem found) and a reason text listing every problem. Texts never carry a BSN.
"""

from __future__ import annotations

import datetime as dt

import pandera.polars as pa
import polars as pl

from pipeline.ingest.bounds import bounded_expr, quote_expr
from pipeline.privacy import mask_bsn_expr
from pipeline.schemas import INBOX_KINDS, MODELS, dtypes, row_rules

ERROR_SCHEMA = {"source_row": pl.Int64, "reason_code": pl.String, "reason_text": pl.String}


def _pandera_errors(typed: pl.DataFrame, kind: str) -> pl.DataFrame:
    body = typed.drop("source_row")
    try:
        MODELS[kind].validate(body, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases.filter(pl.col("index").is_not_null())
        unindexed = exc.failure_cases.filter(pl.col("index").is_null())
        if unindexed.height:
            raise RuntimeError(f"schema-level failure for {kind}: {unindexed.rows()}") from None
        rows = typed["source_row"]
        return cases.select(
            source_row=pl.col("index").map_batches(lambda s: rows.gather(s), return_dtype=pl.Int64),
            # concat_str, not pl.format, which panics in polars 2.1 on some long strings
            reason_code=pl.concat_str([pl.lit("invalid_"), pl.col("column")]),
            # a missing value has no failure case to quote: say so (a null text was shown empty)
            reason_text=pl.when(pl.col("column") == "client_bsn")
            .then(pl.concat_str([pl.lit("column "), pl.col("column"), pl.lit(": fails "), pl.col("check")]))
            .when(pl.col("failure_case").is_null())
            .then(pl.concat_str([pl.lit("column "), pl.col("column"), pl.lit(" is empty but required ("),
                                 pl.col("check").fill_null("not_nullable"), pl.lit(")")]))
            .otherwise(pl.concat_str([pl.lit("column "), pl.col("column"), pl.lit(": '"),
                                      quote_expr("failure_case"), pl.lit("' fails "),
                                      pl.col("check").fill_null("its check")])),
        )
    return pl.DataFrame(schema=ERROR_SCHEMA)


def _rule_errors(typed: pl.DataFrame, kind: str, today: dt.date) -> pl.DataFrame:
    rules = row_rules(kind, today)
    if not rules:
        return pl.DataFrame(schema=ERROR_SCHEMA)
    # every rule's verdict in one pass over the frame (Polars runs the expressions side by side),
    # then the broken rows of each rule, in rule order
    broken = typed.select("source_row", *(rule.fill_null(False).alias(f"_rule{i}") for i, (_, _, rule) in enumerate(rules)))
    return pl.concat([
        broken.filter(pl.col(f"_rule{i}")).select("source_row", reason_code=pl.lit(code), reason_text=pl.lit(text))
        for i, (code, text, _) in enumerate(rules)
    ])


EARLIEST_DATE = dt.date(2015, 1, 1)  # the Wmo 2015 and the Jeugdwet: no line of this pipeline is older
FUTURE_YEARS = 2  # a start, decision or submission date later than this after today is a misread
#: end dates may lie far ahead (open-ended sentinels such as 2099-12-31), up to this one
LATEST_END = dt.date(2100, 12, 31)
_END_COLUMNS = {"end_date", "valid_to", "period_end", "declaration_period_end", "service_end",
                "increase_request_deadline"}


def _date_window_errors(typed: pl.DataFrame, kind: str, today: dt.date) -> pl.DataFrame:
    """Dates outside the plausible window: before 2015, or (other than end dates) more than two
    years ahead; a two-digit year or a misread day-month order lands here if a format let it in."""
    parts = []
    latest = today.replace(year=today.year + FUTURE_YEARS, day=min(today.day, 28))
    for col, dtype in dtypes(kind).items():
        if dtype.base_type() not in (pl.Date, pl.Datetime):
            continue
        day = pl.col(col).cast(pl.Date)
        upper = LATEST_END if col in _END_COLUMNS else latest
        broken = (day < pl.lit(EARLIEST_DATE)) | (day > pl.lit(upper))
        parts.append(typed.filter(broken.fill_null(False)).select(
            "source_row", reason_code=pl.lit("implausible_date"),
            reason_text=pl.concat_str([pl.lit(f"column {col}: "), day.cast(pl.String),
                                       pl.lit(f" lies outside the plausible window {EARLIEST_DATE} to {upper}")])))
    return pl.concat(parts) if parts else pl.DataFrame(schema=ERROR_SCHEMA)


# Columns that are codes of a fixed format (4 or 8 digits, code lists): no BSN fits them. Every
# other text column of an inbox kind is an identifier or free text and is scanned for a BSN.
_CODE_COLUMNS = {"client_bsn", "municipality_code", "provider_agb", "insurer_code", "law",
                 "product_category", "unit", "frequency", "change_reason", "debit_credit", "event",
                 "end_reason", "status", "return_codes", "week", "month"}
_PSEUDONYM = r"^[A-Za-z0-9][A-Za-z0-9_\-+/=:.]{7,127}$"


def _bsn_in(expr: pl.Expr) -> pl.Expr:
    """True where the text holds a run of exactly nine digits that passes the elfproef."""
    runs = expr.str.extract_all(r"\d+").list.eval(
        pl.element().filter(pl.element().str.len_chars() == 9))
    weights = (9, 8, 7, 6, 5, 4, 3, 2, -1)
    passes = runs.list.eval(
        (pl.sum_horizontal(pl.element().str.slice(i, 1).cast(pl.Int64) * w for i, w in enumerate(weights)) % 11 == 0)
        & (pl.element() != "000000000"))
    return passes.list.any().fill_null(False)


def _identifier_errors(typed: pl.DataFrame, kind: str) -> pl.DataFrame:
    """A BSN where no BSN belongs (client_id, allocation_number, reference_number, ...), and a
    client_id that does not look like a pseudonym. Such a row is quarantined: the BSN would
    otherwise be stored as-is and reach the marts, the exports and the reports."""
    if kind not in INBOX_KINDS:
        return pl.DataFrame(schema=ERROR_SCHEMA)
    parts = []
    scanned = [col for col, dtype in dtypes(kind).items() if dtype == pl.String and col not in _CODE_COLUMNS]
    # a cheap filter first, over every scanned column in one pass: only texts with a nine-digit
    # run are looked at closely
    nine = typed.select(pl.col(col).str.contains(r"(^|\D)\d{9}(\D|$)").fill_null(False) for col in scanned)
    for col in scanned:
        if not nine[col].any():
            continue
        maybe = typed.filter(nine[col])
        parts.append(maybe.filter(_bsn_in(pl.col(col))).select(
            "source_row", reason_code=pl.lit("bsn_in_identifier"),
            reason_text=pl.lit(f"column {col} holds a nine-digit number that passes the elfproef "
                               "(a BSN where no BSN belongs; not shown, not stored)")))
    if "client_id" in typed.columns:
        parts.append(typed.filter(
            pl.col("client_id").is_not_null()
            & (~pl.col("client_id").str.contains(_PSEUDONYM) | pl.col("client_id").str.contains(r"^\d{1,9}$"))
        ).select("source_row", reason_code=pl.lit("client_id_not_pseudonym"),
                 reason_text=pl.lit("client_id does not look like a pseudonym (8 to 128 letters, digits or "
                                    "_-+/=:., not a bare number of up to nine digits such as a BSN)")))
    return pl.concat(parts) if parts else pl.DataFrame(schema=ERROR_SCHEMA)


AMOUNT_FACTOR_LIMIT = 2.0  # an amount more than twice or less than half volume x tariff is a misread


def expected_amount_expr(kind: str) -> pl.Expr | None:
    """volume x tariff in euros, as the iWmo standard computes IngediendBedrag: GeleverdVolume x
    ProductTarief, the tariff being per unit of the line (per minute for unit 01; euro products,
    unit 83, have tariff 1.00 a euro); minutes / 60 x tariff per hour for wijkverpleging."""
    if kind == "declarations":
        return pl.col("volume") * pl.col("tariff_eur")
    if kind == "zvw_declarations":
        return pl.col("minutes") / 60 * pl.col("tariff_eur")
    return None


def _amount_errors(typed: pl.DataFrame, kind: str) -> pl.DataFrame:
    """Lines whose amount is no rounding of volume x tariff but another quantity altogether (more
    than twice or less than half of it): a misread or shifted column. Smaller differences (a wrong
    tariff, which municipalities reject with 0611/9346) load and are flagged by the asset check
    raw/<kind> amount_matches_volume."""
    expected = expected_amount_expr(kind)
    if expected is None:
        return pl.DataFrame(schema=ERROR_SCHEMA)
    amount = pl.col("amount_eur")

    def far_from(value: pl.Expr) -> pl.Expr:
        return ((amount - value).abs() > 0.02) & (
            (amount > AMOUNT_FACTOR_LIMIT * value) | (amount * AMOUNT_FACTOR_LIMIT < value))

    gross = expected.is_not_null() & far_from(expected)
    if kind == "declarations":
        # minutes (unit 01) are priced per minute or, as many contracts do, per hour
        gross = gross & ~((pl.col("unit") == "01") & ~far_from(expected / 60))
    return typed.filter(gross.fill_null(False)).select(
        "source_row", reason_code=pl.lit("amount_mismatch"),
        reason_text=pl.concat_str([pl.lit("amount_eur "), amount.round(2).cast(pl.String),
                                   pl.lit(" is not volume x tariff ("), expected.round(2).cast(pl.String),
                                   pl.lit("): a column is misread or shifted")]))


def combine_errors(*frames: pl.DataFrame) -> pl.DataFrame:
    """One row per source row: first reason code, all texts joined."""
    errors = pl.concat([f.select(ERROR_SCHEMA.keys()).cast(ERROR_SCHEMA) for f in frames])
    return (
        errors.group_by("source_row", maintain_order=True)
        .agg(pl.col("reason_code").first(), pl.col("reason_text").unique(maintain_order=True).str.join("; "))
        .with_columns(bounded_expr(mask_bsn_expr("reason_text")).alias("reason_text"))
        .sort("source_row")
    )


def validate(
    typed: pl.DataFrame, kind: str, today: dt.date, cast_errors: pl.DataFrame | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split a typed frame into passing rows and errors (source_row, reason_code, reason_text)."""
    # the identifier scan first: a row holding a BSN where none belongs is quarantined for that
    frames = [_identifier_errors(typed, kind), _pandera_errors(typed, kind), _rule_errors(typed, kind, today),
              _date_window_errors(typed, kind, today), _amount_errors(typed, kind)]
    if cast_errors is not None:
        frames.insert(0, cast_errors)
    errors = combine_errors(*frames)
    good = typed.filter(~pl.col("source_row").is_in(errors["source_row"].implode()))
    return good, errors
