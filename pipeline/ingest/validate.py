"""Validate typed frames: pandera (lazy, eager frames) plus the multi-column row rules.

Returns the rows that pass and one error row per failing source row, with a reason code (the
first problem found) and a reason text listing every problem. Texts never carry a BSN.
"""

from __future__ import annotations

import datetime as dt

import pandera.polars as pa
import polars as pl

from pipeline.privacy import mask_bsn_expr
from pipeline.schemas import MODELS, row_rules

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
            reason_text=pl.when(pl.col("column") == "client_bsn")
            .then(pl.concat_str([pl.lit("column "), pl.col("column"), pl.lit(": fails "), pl.col("check")]))
            .otherwise(pl.concat_str([pl.lit("column "), pl.col("column"), pl.lit(": '"), pl.col("failure_case"),
                                      pl.lit("' fails "), pl.col("check")])),
        )
    return pl.DataFrame(schema=ERROR_SCHEMA)


def _rule_errors(typed: pl.DataFrame, kind: str, today: dt.date) -> pl.DataFrame:
    parts = []
    for code, text, broken in row_rules(kind, today):
        parts.append(
            typed.filter(broken.fill_null(False)).select(
                "source_row", reason_code=pl.lit(code), reason_text=pl.lit(text)
            )
        )
    return pl.concat(parts) if parts else pl.DataFrame(schema=ERROR_SCHEMA)


def combine_errors(*frames: pl.DataFrame) -> pl.DataFrame:
    """One row per source row: first reason code, all texts joined."""
    errors = pl.concat([f.select(ERROR_SCHEMA.keys()).cast(ERROR_SCHEMA) for f in frames])
    return (
        errors.group_by("source_row", maintain_order=True)
        .agg(pl.col("reason_code").first(), pl.col("reason_text").unique(maintain_order=True).str.join("; "))
        .with_columns(mask_bsn_expr("reason_text"))
        .sort("source_row")
    )


def validate(
    typed: pl.DataFrame, kind: str, today: dt.date, cast_errors: pl.DataFrame | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split a typed frame into passing rows and errors (source_row, reason_code, reason_text)."""
    frames = [_pandera_errors(typed, kind), _rule_errors(typed, kind, today)]
    if cast_errors is not None:
        frames.insert(0, cast_errors)
    errors = combine_errors(*frames)
    good = typed.filter(~pl.col("source_row").is_in(errors["source_row"].implode()))
    return good, errors
