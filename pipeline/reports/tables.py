"""Derived frames for the reports: headline rows, overshoot classes and the follow-up lists.

Pure polars functions: frames in, frame out. Every follow-up list carries a ``why`` column that
says, in the reader's language, why the row was flagged.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import polars as pl

from .i18n import label, pl_fmt_date, pl_fmt_eur, pl_fmt_num, pl_fmt_pct, pl_value_label

ALLOCATION_KEY = ["municipality_code", "law", "allocation_number"]
ALERT_RANK = {"reached": 0, "projected_over": 1, "90": 2, "70": 3, "ok": 4}
TOP_PROVIDERS = 10  # providers per panel of the Maandrapportage's top-providers figure
SHOWN_CEILING_PROVIDERS = 12  # most urgent providers drawn per insurer in the Plafondmonitor


@dataclasses.dataclass(frozen=True)
class Column:
    """One column of a displayed list: source column, label key, kind of value."""

    name: str
    label: str
    kind: str = "text"  # text, eur, pct, num, int, date, month
    decimals: int | None = None  # euros: 0 in pages unless given
    blank: str | None = None  # the text of a null cell ('' unless given, e.g. 'niet te bepalen')
    optional: bool = False  # left out of the page below 1280 px (and in print); always in the workbook


@dataclasses.dataclass(frozen=True)
class FollowUpList:
    """A flagged list: shown (top rows) in an HTML report and in full as a workbook sheet."""

    key: str
    sheet: str
    frame: pl.DataFrame
    columns: tuple[Column, ...]


def _t(lang: str, nl: str, en: str) -> pl.Expr:
    return pl.lit(nl if lang == "nl" else en)


def pl_fmt_vol(expr: pl.Expr, lang: str) -> pl.Expr:
    """A volume with at most one decimal, without a trailing ',0'."""
    return pl_fmt_num(expr, lang, 1).str.replace(r"[,.]0$", "")


# ---------------------------------------------------------------- allocations and overshoots


def months_in_year(months: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """Allocation months of the as-of year up to the as-of month (the reports filter in SQL)."""
    return months.filter(
        pl.col("month").dt.year() == as_of.year, pl.col("month") <= as_of
    )


def enrich_totals(totals: pl.DataFrame, months: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """Allocation totals of the allocations active in the as-of year, with their approved euros.

    Adds ``approved_amount_eur`` (all months), ``price_eur`` (approved euros per unit delivered)
    and ``period_excess_eur`` (the euros above the monthly maxima in peak months), and fills the
    provider and product from the allocation's months where the totals lack them. The reports run
    the same in DuckDB (``data.ENRICHED_TOTALS_SQL``); this is its reference, kept equal by tests.
    """
    per_allocation = (
        months.sort("month")
        .group_by(ALLOCATION_KEY)
        .agg(
            pl.col("provider_agb").last().alias("_provider"),
            pl.col("product_category").last().alias("_category"),
            pl.col("product_code").last().alias("_product"),
            pl.col("approved_amount_eur").sum().alias("approved_amount_eur"),
            pl.col("delivered_volume").sum().alias("_delivered_months"),
            _period_excess_volume().filter(pl.col("period_overshoot")).sum().alias("_period_excess_volume"),
            (pl.col("month").dt.year() == as_of.year).any().alias("_active"),
        )
    )
    return (
        totals.join(per_allocation, on=ALLOCATION_KEY, how="inner")
        .filter(pl.col("_active"))
        .with_columns(
            pl.coalesce("provider_agb", "_provider").alias("provider_agb"),
            pl.coalesce("product_category", "_category").alias("product_category"),
            pl.coalesce("product_code", "_product").alias("product_code"),
            pl.when(pl.col("_delivered_months") > 0)
            .then(pl.col("approved_amount_eur") / pl.col("_delivered_months"))
            .alias("price_eur"),
        )
        .with_columns(
            (_requested() - pl.col("total_max_volume")).clip(lower_bound=0).alias("excess_volume"),
        )
        .with_columns(
            (pl.col("excess_volume") * pl.col("price_eur")).fill_null(0).alias("excess_eur"),
            (pl.col("_period_excess_volume") * pl.col("price_eur")).fill_null(0).alias("period_excess_eur"),
        )
        .drop("_provider", "_category", "_product", "_delivered_months", "_active", "_period_excess_volume")
    )


def _requested() -> pl.Expr:
    """The volume the provider asked for (metrics.md §4: overshoots are judged on it); the
    delivered volume where the marts do not carry it."""
    return pl.coalesce(pl.col("^requested_volume$"), pl.col("delivered_volume"))


def _period_excess_volume() -> pl.Expr:
    return (_requested() - pl.col("max_volume")).clip(lower_bound=0)


def _period_excess_eur() -> pl.Expr:
    """Euros above the month's maximum: the requested volume above it at the allocation's price
    per approved unit (``price_eur``; a month whose overshooting line was rejected has no approved
    units of its own)."""
    return (_period_excess_volume() * pl.col("price_eur")).fill_null(0.0)


def with_price(months: pl.DataFrame, totals: pl.DataFrame) -> pl.DataFrame:
    """Allocation months with their allocation's ``price_eur`` (from the enriched totals)."""
    if "price_eur" in months.columns:
        return months
    return months.join(totals.select(*ALLOCATION_KEY, "price_eur"), on=ALLOCATION_KEY, how="left",
                       maintain_order="left")


def overshoot_summary(months_year: pl.DataFrame, totals: pl.DataFrame, lang: str) -> pl.DataFrame:
    """Period overshoots vs compensated peaks vs real total overshoots: counts and euros.

    Period overshoots count allocation months of the year (TR321); compensated peaks count the
    peak months that the yearly allowance absorbs, with the period excess of each allocation
    shared pro rata over its compensated peak months; real overshoots count allocations (TR322).
    """
    compensated = totals.filter(pl.col("peak_months") > 0).select(
        pl.col("compensated_peak_months").sum().cast(pl.Int64).alias("count"),
        (
            pl.col("period_excess_eur").fill_null(0)
            * pl.col("compensated_peak_months")
            / pl.col("peak_months")
        ).sum().alias("eur"),
    )
    return summary_frame(period_counts(with_price(months_year, totals)), compensated, real_counts(totals), lang)


def period_counts(months_year: pl.DataFrame) -> pl.DataFrame:
    """Allocation months with a period overshoot and their euros above the maximum: one row."""
    return months_year.filter(pl.col("period_overshoot")).select(
        pl.len().cast(pl.Int64).alias("count"), _period_excess_eur().sum().alias("eur")
    )


def real_counts(totals: pl.DataFrame) -> pl.DataFrame:
    """Allocations with a real total overshoot and their euros above the maximum: one row."""
    return totals.filter(pl.col("total_overshoot")).select(
        pl.len().cast(pl.Int64).alias("count"), pl.col("excess_eur").sum().alias("eur")
    )


def summary_frame(period: pl.DataFrame, compensated: pl.DataFrame, real: pl.DataFrame, lang: str) -> pl.DataFrame:
    """The overshoot summary from three one-row (count, eur) frames."""
    return pl.concat(
        [
            frame.select(pl.col("count").cast(pl.Int64), pl.col("eur").cast(pl.Float64)).with_columns(
                pl.lit(label(key, lang)).alias("class"),
                pl.lit(key).alias("key"),
                pl.lit(label(unit, lang)).alias("unit"),
            )
            for key, unit, frame in (
                ("period_overshoots", "unit_months", period),
                ("compensated_peaks", "unit_months", compensated),
                ("real_overshoots", "unit_allocations", real),
            )
        ]
    ).select("key", "class", pl.col("count").fill_null(0), "unit", pl.col("eur").fill_null(0.0))


def region_or(frame: pl.DataFrame, municipality: str | None) -> pl.DataFrame:
    """The rows of a municipality, or the region's rows (``region`` true) when it is None."""
    if municipality is None:
        return frame.filter(pl.col("region"))
    return frame.filter(~pl.col("region"), pl.col("municipality_code") == municipality)


def real_overshoot_list(totals: pl.DataFrame, lang: str) -> pl.DataFrame:
    return (
        totals.filter(pl.col("total_overshoot"))
        .with_columns(
            pl.concat_str(
                [
                    _t(lang, "totaaloverschrijding: gevraagd ", "total overshoot: requested "),
                    pl_fmt_vol(_requested(), lang),
                    pl.lit(" > max "),
                    pl_fmt_vol(pl.col("total_max_volume"), lang),
                ]
            ).alias("why")
        )
        .sort(["excess_eur", "allocation_number"], descending=[True, False])
    )


def period_overshoot_list(months_year: pl.DataFrame, totals: pl.DataFrame, lang: str) -> pl.DataFrame:
    compensation = totals.select(
        *ALLOCATION_KEY,
        pl.when(pl.col("compensated_peak_months") >= pl.col("peak_months"))
        .then(_t(lang, "gecompenseerd binnen het jaar", "compensated within the year"))
        .when(pl.col("compensated_peak_months") > 0)
        .then(_t(lang, "deels gecompenseerd", "partly compensated"))
        .otherwise(_t(lang, "niet gecompenseerd", "not compensated"))
        .alias("_compensation"),
    )
    if "price_eur" in totals.columns:
        months_year = with_price(months_year, totals)
    return (
        months_year.filter(pl.col("period_overshoot"))
        .join(compensation, on=ALLOCATION_KEY, how="left", maintain_order="left")
        .with_columns(
            (_requested() - pl.col("max_volume")).alias("excess_volume"),
            _period_excess_eur().alias("excess_eur"),
            pl.concat_str(
                [
                    _t(lang, "periode-overschrijding: gevraagd ", "period overshoot: requested "),
                    pl_fmt_vol(_requested(), lang),
                    pl.lit(" > max "),
                    pl_fmt_vol(pl.col("max_volume"), lang),
                    pl.lit("; "),
                    pl.col("_compensation").fill_null(""),
                ]
            ).alias("why"),
        )
        .drop("_compensation")
        .sort(["excess_eur", "month", "allocation_number"], descending=[True, True, False])
    )


def underused_list(totals: pl.DataFrame, lang: str) -> pl.DataFrame:
    reason = pl.col("underuse_reason")
    why = (
        pl.when(reason == "no_declarations")
        .then(_t(lang, "geen declaraties over de volwassen maanden", "no declarations in the mature months"))
        .when(reason == "low_utilisation")
        .then(
            pl.concat_str(
                [
                    _t(lang, "lage benutting: ", "low utilisation: "),
                    pl_fmt_pct(pl.coalesce(pl.col("mature_utilisation") if "mature_utilisation" in totals.columns
                                           else pl.col("utilisation"), pl.col("utilisation")), lang).fill_null("?"),
                    _t(lang, " van het maximum over de volwassen maanden", " of the maximum over the mature months"),
                ]
            )
        )
        .when(reason == "below_band")
        .then(_t(lang, "uren per week onder de band", "hours per week below the band"))
        .otherwise(pl_value_label(reason, lang))
    )
    suggestion = (
        pl.when(pl.col("suggested_product_code").is_not_null())
        .then(pl.concat_str([_t(lang, "; past bij product ", "; fits product "), pl.col("suggested_product_code")]))
        .otherwise(pl.lit(""))
    )
    return (
        totals.filter(pl.col("underused"))
        .with_columns(
            pl.concat_str([why, suggestion]).alias("why"),
            pl_value_label(reason, lang).alias("reason_label"),
        )
        .sort(["committed_eur", "allocation_number"], descending=[True, False], nulls_last=True)
    )


def underuse_by_reason(underused: pl.DataFrame) -> pl.DataFrame:
    return (
        underused.group_by("underuse_reason", "reason_label")
        .agg(pl.len().cast(pl.Int64).alias("count"), pl.col("committed_eur").sum().alias("committed_eur"))
        .sort("underuse_reason")
    )


# ---------------------------------------------------------------- budget


def headline_by_law(exhaustion: pl.DataFrame, year: int) -> pl.DataFrame:
    """Whole-law rows (empty product_category) of the year, summed over municipalities."""
    return (
        exhaustion.filter(pl.col("year") == year, pl.col("product_category").is_null())
        .group_by("law")
        .agg(
            pl.col(c).sum()
            for c in ("budget_eur", "approved_eur", "pending_eur", "expected_late_eur", "committed_eur", "forecast_eur")
        )
        .with_columns(
            pl.when(pl.col("budget_eur") > 0).then(pl.col("forecast_eur") / pl.col("budget_eur")).alias("exhaustion")
        )
        .sort("law")
    )


def by_category(exhaustion: pl.DataFrame, year: int) -> pl.DataFrame:
    return (
        exhaustion.filter(pl.col("year") == year, pl.col("product_category").is_not_null())
        .group_by("law", "product_category")
        .agg(
            pl.col(c).sum()
            for c in ("budget_eur", "approved_eur", "pending_eur", "expected_late_eur", "committed_eur", "forecast_eur")
        )
        .sort("law", "product_category")
    )


def budget_alerts(exhaustion: pl.DataFrame, year: int, lang: str) -> pl.DataFrame:
    """Budget rows (whole law or category) whose forecast exceeds the budget."""
    return (
        exhaustion.filter(pl.col("year") == year, pl.col("exhaustion") > 1)
        .with_columns(pl.col("product_category").fill_null(label("whole_law", lang)))
        .with_columns(
            pl.concat_str(
                [
                    _t(lang, "prognose ", "forecast "),
                    pl_fmt_eur(pl.col("forecast_eur"), lang, 0),
                    pl.lit(" > budget "),
                    pl_fmt_eur(pl.col("budget_eur"), lang, 0),
                    _t(lang, " (uitputting ", " (exhaustion "),
                    pl_fmt_pct(pl.col("exhaustion"), lang),
                    pl.lit(")"),
                ]
            ).alias("why")
        )
        .sort(["exhaustion", "municipality_code"], descending=[True, False])
    )


def cumulative_spend(months_year: pl.DataFrame) -> pl.DataFrame:
    """Approved euros per law and month, and their running total through the year."""
    return (
        months_year.group_by("law", "month")
        .agg(pl.col("approved_amount_eur").sum())
        .sort("law", "month")
        .with_columns(pl.col("approved_amount_eur").cum_sum().over("law").alias("cumulative_eur"))
    )


def top_providers(frame: pl.DataFrame, value: str, n: int = TOP_PROVIDERS) -> pl.DataFrame:
    """Providers by the sum of ``value``, largest first, positive sums only."""
    return (
        frame.group_by("provider_agb")
        .agg(pl.col(value).sum())
        .filter(pl.col(value) > 0)
        .sort([value, "provider_agb"], descending=[True, False])
        .head(n)
    )


# ---------------------------------------------------------------- timeliness and rejections


def first_of_twelve_months(as_of: dt.date) -> dt.date:
    """The first day of the first of the twelve months up to and including the as-of month."""
    return dt.date(as_of.year, 1, 1) if as_of.month == 12 else dt.date(as_of.year - 1, as_of.month + 1, 1)


def last_twelve_months(frame: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """Rows whose ``month`` lies in the twelve months up to and including the as-of month."""
    return frame.filter(pl.col("month") >= first_of_twelve_months(as_of), pl.col("month") <= as_of)


def late_list(timeliness: pl.DataFrame, lang: str) -> pl.DataFrame:
    """Provider × municipality × month rows with late lines or late/missing answers."""
    return (
        timeliness.filter((pl.col("late_lines") > 0) | (pl.col("late_answers") > 0))
        .with_columns(
            pl.concat_list(
                pl.when(pl.col("late_lines") > 0).then(
                    pl.concat_str(
                        [
                            pl.col("late_lines").cast(pl.String),
                            _t(lang, " van ", " of "),
                            pl.col("lines").cast(pl.String),
                            _t(lang, " regels te laat gedeclareerd (", " lines declared late ("),
                            pl_fmt_eur(pl.col("late_amount_eur"), lang),
                            pl.lit(")"),
                        ]
                    )
                ),
                pl.when(pl.col("late_answers") > 0).then(
                    pl.concat_str(
                        [
                            pl.col("late_answers").cast(pl.String),
                            _t(lang, " antwoorden te laat of ontbrekend", " answers late or missing"),
                        ]
                    )
                ),
            )
            .list.drop_nulls()
            .list.join("; ")
            .alias("why")
        )
        .sort(["late_amount_eur", "month", "provider_agb"], descending=[True, True, False])
    )


# ---------------------------------------------------------------- ceilings


def ceiling_table(ceilings: pl.DataFrame, lang: str) -> pl.DataFrame:
    """Ceiling positions sorted by urgency, with the reason of each alert."""
    unpaid = pl.col("policy") == "stop_payment"
    above_kind = (
        pl.when(pl.col("above_ceiling_eur") <= 0)
        .then(pl.lit(""))
        .when(unpaid)
        .then(pl.lit(label("above_unpaid", lang)))
        .when(pl.col("policy") == "settle")
        .then(pl.lit(label("above_reclaim", lang)))
        .otherwise(pl.lit(""))
    )
    why = (
        pl.when(pl.col("alert") == "reached")
        .then(
            pl.concat_str(
                [
                    _t(lang, "plafond bereikt op ", "ceiling reached on "),
                    pl_fmt_date(pl.col("ceiling_reached_on"), lang).fill_null("?"),
                    pl.lit(": "),
                    pl_fmt_pct(pl.col("share"), lang),
                    _t(lang, " van ", " of "),
                    pl_fmt_eur(pl.col("ceiling_eur"), lang, 0),
                ]
            )
        )
        .when(pl.col("alert") == "projected_over")
        .then(
            pl.concat_str(
                [
                    _t(lang, "prognose jaareinde ", "projected year end "),
                    pl_fmt_eur(pl.col("projected_year_end_eur"), lang, 0),
                    _t(lang, " > plafond ", " > ceiling "),
                    pl_fmt_eur(pl.col("ceiling_eur"), lang, 0),
                    pl.when(pl.col("projected_run_out_date").is_not_null())
                    .then(pl.concat_str([_t(lang, "; bereikt rond ", "; reached around "), pl_fmt_date(pl.col("projected_run_out_date"), lang)]))
                    .otherwise(pl.lit("")),
                ]
            )
        )
        .when(pl.col("alert").is_in(["90", "70"]))
        .then(
            pl.concat_str(
                [
                    _t(lang, "realisatie ", "realisation "),
                    pl_fmt_pct(pl.col("share"), lang),
                    pl.lit(" ≥ "),
                    pl.col("alert"),
                    pl.lit("%"),
                ]
            )
        )
        .otherwise(_t(lang, "binnen plafond", "within ceiling"))
    )
    return ceiling_order(
        ceilings.with_columns(
            why.alias("why"),
            above_kind.alias("above_kind"),
            pl_value_label(pl.col("alert"), lang).alias("alert_label"),
        )
    )


def ceiling_order(ceilings: pl.DataFrame) -> pl.DataFrame:
    """Ceiling positions by urgency: alert, earliest run-out date, highest share, provider."""
    return (
        ceilings.with_columns(
            pl.col("alert").replace_strict(ALERT_RANK, default=5, return_dtype=pl.Int64).alias("_rank"),
        )
        .sort(
            ["_rank", "projected_run_out_date", "share", "provider_agb"],
            descending=[False, False, True, False],
            nulls_last=True,
        )
        .drop("_rank")
    )


def ceiling_alerts(table: pl.DataFrame) -> pl.DataFrame:
    return table.filter(pl.col("alert") != "ok")


def cumulative_realisation(zvw: pl.DataFrame, insurer: str, year: int) -> pl.DataFrame:
    """Approved net euros per provider by submission date, running total within the year."""
    return cumulative_by_provider(
        zvw.filter(
            pl.col("insurer_code") == insurer,
            pl.col("status") == "approved",
            pl.col("month").dt.year() == year,
        )
    )


def cumulative_by_provider(lines: pl.DataFrame) -> pl.DataFrame:
    """Net euros per provider and submission date (lines or day sums), with their running total."""
    return (
        lines.group_by("provider_agb", "submitted_on")
        .agg(pl.col("net_amount_eur").sum())
        .sort("provider_agb", "submitted_on")
        .with_columns(pl.col("net_amount_eur").cum_sum().over("provider_agb").alias("cumulative_eur"))
    )


# ---------------------------------------------------------------- forecast history (metrics.md §14)

HISTORY_KEYS = ["scope", "payer_code", "provider_agb", "municipality_code", "law", "product_category"]
CHANGES_SCHEMA = {
    "scope": pl.String, "payer_code": pl.String, "provider_agb": pl.String, "municipality_code": pl.String,
    "law": pl.String, "product_category": pl.String, "projected_eur": pl.Float64, "previous_eur": pl.Float64,
    "change_eur": pl.Float64, "limit_eur": pl.Float64, "alert": pl.String, "previous_alert": pl.String,
    "last_year_eur": pl.Float64, "last_year_outcome_eur": pl.Float64, "forecast_as_of": pl.Date,
    "previous_as_of": pl.Date,
}


def forecast_changes(history: pl.DataFrame | None, as_of: dt.date) -> pl.DataFrame:
    """Per forecast (a budget per municipality and law, a ceiling per payer and provider) of the
    as-of year: the projection now, at the previous month end, the change, and the projection at the
    same point last year with that year's outcome."""
    if history is None or history.is_empty():
        return pl.DataFrame(schema=CHANGES_SCHEMA)
    this_year = history.filter(pl.col("year") == as_of.year, pl.col("forecast_as_of") <= as_of)
    if this_year.is_empty():
        return pl.DataFrame(schema=CHANGES_SCHEMA)
    now_t = this_year["forecast_as_of"].max()
    earlier = this_year.filter(pl.col("forecast_as_of") < now_t)
    prev_t = earlier["forecast_as_of"].max() if earlier.height else None
    keys = HISTORY_KEYS
    now = this_year.filter(pl.col("forecast_as_of") == now_t).select(
        *keys, "projected_eur", "limit_eur", "alert", "forecast_as_of")
    if prev_t is not None:
        prev = this_year.filter(pl.col("forecast_as_of") == prev_t).select(
            *keys, pl.col("projected_eur").alias("previous_eur"), pl.col("alert").alias("previous_alert"),
            pl.lit(prev_t).alias("previous_as_of"))
    else:
        prev = pl.DataFrame(schema={**{k: pl.String for k in keys}, "previous_eur": pl.Float64,
                                    "previous_alert": pl.String, "previous_as_of": pl.Date})
    same_point = dt.date(now_t.year - 1, now_t.month, 28 if now_t.month == 2 else now_t.day)
    last = history.filter(pl.col("year") == as_of.year - 1)
    last = last.filter(pl.col("forecast_as_of") <= same_point)
    if last.height:
        last_t = last["forecast_as_of"].max()
        last = last.filter(pl.col("forecast_as_of") == last_t).select(
            *[k for k in keys if k != "year"], pl.col("projected_eur").alias("last_year_eur"),
            pl.col("outcome_eur").alias("last_year_outcome_eur"))
    else:
        last = pl.DataFrame(schema={**{k: pl.String for k in keys}, "last_year_eur": pl.Float64,
                                    "last_year_outcome_eur": pl.Float64})
    joined = (now.join(prev, on=keys, how="left", nulls_equal=True, maintain_order="left")
              .join(last, on=keys, how="left", nulls_equal=True, maintain_order="left")
              .with_columns((pl.col("projected_eur") - pl.col("previous_eur")).alias("change_eur")))
    return joined.select(list(CHANGES_SCHEMA)).cast(CHANGES_SCHEMA)


def top_changes(changes: pl.DataFrame, n: int = 3) -> pl.DataFrame:
    """The ``n`` forecasts that moved most since last month, in euros either way."""
    return (changes.filter(pl.col("change_eur").is_not_null(), pl.col("change_eur") != 0)
            .sort([pl.col("change_eur").abs(), "scope", "municipality_code", "payer_code", "provider_agb", "law"],
                  descending=[True, False, False, False, False, False], nulls_last=True)
            .head(n))


def change_text(row: dict, lang: str) -> str:
    """'prognose € 1.234.000, vorige maand € 1.100.000 (+€ 134.000); budget € 1.200.000'."""
    from .i18n import fmt_eur, value_label

    sign = "+" if (row["change_eur"] or 0) > 0 else ""
    text = (f"{'prognose' if lang == 'nl' else 'forecast'} {fmt_eur(row['projected_eur'], lang, 0)}, "
            f"{'vorige maand' if lang == 'nl' else 'last month'} {fmt_eur(row['previous_eur'], lang, 0)} "
            f"({sign}{fmt_eur(row['change_eur'], lang, 0)})")
    if row.get("limit_eur") is not None:
        limit = ("budget" if row["scope"] == "budget" else ("plafond" if lang == "nl" else "ceiling"))
        text += f"; {limit} {fmt_eur(row['limit_eur'], lang, 0)}"
    if row.get("previous_alert") and row.get("alert") and row["alert"] != row["previous_alert"]:
        text += f"; {'signaal' if lang == 'nl' else 'alert'}: {value_label(row['previous_alert'], lang)} → {value_label(row['alert'], lang)}"
    return text


def change_line(changes: pl.DataFrame, scope: str, code: str, lang: str) -> str:
    """The month's change of a municipality's budget forecasts (all laws) or an insurer's ceiling
    projections (all providers), for the index; '' when there is no earlier forecast."""
    from .i18n import fmt_eur

    column = "municipality_code" if scope == "budget" else "payer_code"
    mine = changes.filter(pl.col("scope") == scope, pl.col(column) == code, pl.col("previous_eur").is_not_null())
    if mine.is_empty():
        return ""
    change = mine["change_eur"].sum()
    sign = "+" if change > 0 else ""
    return (f"{'Prognose' if lang == 'nl' else 'Forecast'} {sign}{fmt_eur(change, lang, 0)} "
            f"{'t.o.v. vorige maand' if lang == 'nl' else 'vs last month'}")


def change_of(changes: pl.DataFrame, lang: str, **keys: str | None) -> tuple[str, str]:
    """(text, tone) of the change since last month of one forecast (or the sum of those matching
    ``keys``), for a headline card; ('', 'flat') when unknown."""
    from .i18n import fmt_eur

    mine = changes
    for k, v in keys.items():
        mine = mine.filter(pl.col(k).is_null() if v is None else pl.col(k) == v)
    mine = mine.filter(pl.col("previous_eur").is_not_null())
    if mine.is_empty():
        return "", "flat"
    change, previous = mine["change_eur"].sum(), mine["previous_eur"].sum()
    sign = "+" if change > 0 else ""
    text = (f"{'Vorige maand' if lang == 'nl' else 'Last month'} {fmt_eur(previous, lang, 0)} "
            f"({sign}{fmt_eur(change, lang, 0)})")
    last = mine["last_year_eur"]
    if last.is_not_null().any():
        text += (f"; {'vorig jaar op dit moment' if lang == 'nl' else 'last year at this point'} "
                 f"{fmt_eur(last.sum(), lang, 0)}")
    return text, "up" if change > 0 else "down" if change < 0 else "flat"
