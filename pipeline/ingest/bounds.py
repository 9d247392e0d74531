"""Bounds on text quoted from input: a value, a header or a reader's error message copied into
the manifest, the quarantine, the marts, the reports or Dagster's event log is cut to a few hundred
characters, with the length of the original, so a 50 MB single-line file costs a line, not 50 MB
in every place that mentions it."""

from __future__ import annotations

import polars as pl

MAX_QUOTE = 80  # characters of one quoted value
MAX_TEXT = 500  # characters of a reason text or message
MAX_FIELD = 200  # characters of one field in a quarantined row's JSON record (the JSON stays valid)


def bounded(text: str | None, limit: int = MAX_TEXT) -> str | None:
    """``text`` cut to ``limit`` characters, saying how long it was."""
    if text is None or len(text) <= limit:
        return text
    return f"{text[:limit]}… [{len(text):,} characters, cut]"


def bounded_expr(col: str | pl.Expr, limit: int = MAX_TEXT) -> pl.Expr:
    """``bounded`` as a Polars expression over a whole column."""
    expr = pl.col(col) if isinstance(col, str) else col
    n = expr.str.len_chars()
    return pl.when(n > limit).then(pl.concat_str([
        expr.str.slice(0, limit), pl.lit("… ["), n.cast(pl.String), pl.lit(" characters, cut]")])).otherwise(expr)


def quote_expr(col: str) -> pl.Expr:
    """A value as quoted in a reason text."""
    return bounded_expr(col, MAX_QUOTE)
