"""The public entry point: read the marts, build every report page, the index and the workbook."""

from __future__ import annotations

import dataclasses

import datetime as dt
import html
import re
from pathlib import Path

import duckdb
import polars as pl

from . import figures as F
from . import tables as T
from .data import AllocationFigures, ReportData, read_report_data
from .excel import WORKBOOK, workbook_in_background
from .html import (
    cards_html,
    ensure_plotly_js,
    figure_html,
    followup_html,
    none_html,
    page_html,
    section_html,
    table_html,
    write_page,
)
from .i18n import fmt_date, fmt_eur, fmt_num, fmt_pct, label, pl_fmt_num, pl_value_label
from .tables import Column as C
from .tables import FollowUpList

SHEETS = {
    "real_overshoots": ("Totaaloverschrijdingen", "Total overshoots"),
    "period_overshoots": ("Periodeoverschrijdingen", "Period overshoots"),
    "underused": ("Onderbenutte toewijzingen", "Under-used allocations"),
    "budget_alerts": ("Budgetsignalen", "Budget alerts"),
    "ceiling_alerts": ("Plafondsignalen", "Ceiling alerts"),
    "hours_agreement": ("Urenafspraak", "Hours agreement"),
    "late": ("Late declaraties en antwoorden", "Late declarations and answers"),
}

ALLOCATION_COLUMNS = (
    C("municipality_code", "municipality"), C("law", "law"), C("allocation_number", "allocation_number"),
    C("provider_agb", "provider"), C("product_category", "product_category"), C("product_code", "product_code"),
)
LIST_COLUMNS: dict[str, tuple[C, ...]] = {
    "real_overshoots": (*ALLOCATION_COLUMNS, C("total_max_volume", "total_max_volume", "num"),
                        C("delivered_volume", "delivered_volume", "num"), C("excess_volume", "excess_volume", "num"),
                        C("excess_eur", "excess_eur", "eur"), C("why", "why")),
    "period_overshoots": (*ALLOCATION_COLUMNS, C("month", "month", "month"), C("max_volume", "total_max_volume", "num"),
                          C("delivered_volume", "delivered_volume", "num"), C("excess_volume", "excess_volume", "num"),
                          C("excess_eur", "excess_eur", "eur"), C("why", "why")),
    "underused": (*ALLOCATION_COLUMNS, C("utilisation", "utilisation", "pct"), C("reason_label", "underuse_reason"),
                  C("suggested_product_code", "suggested_product_code"), C("committed_eur", "committed_eur", "eur"),
                  C("why", "why")),
    "budget_alerts": (C("municipality_code", "municipality"), C("law", "law"), C("product_category", "product_category"),
                      C("year", "year"), C("budget_eur", "budget", "eur"), C("forecast_eur", "forecast", "eur"),
                      C("exhaustion", "exhaustion", "pct"), C("why", "why")),
    "ceiling_alerts": (C("payer_code", "payer"), C("provider_agb", "provider"), C("year", "year"),
                       C("ceiling_eur", "ceiling", "eur"), C("realised_eur", "realised", "eur"), C("share", "share", "pct"),
                       C("expected_late_eur", "expected_late", "eur"), C("projected_year_end_eur", "projected_year_end", "eur"),
                       C("projected_run_out_date", "run_out_date", "date"), C("above_ceiling_eur", "above_ceiling", "eur"),
                       C("above_kind", "above_kind"), C("alert_label", "alert"), C("request_increase_by", "request_by", "date"),
                       C("why", "why")),
    "hours_agreement": (C("payer_code", "payer"), C("provider_agb", "provider"), C("year", "year"),
                        C("client_months", "client_months", "int"), C("avg_hours_per_client_month", "avg_hours", "num2"),
                        C("avg_hours_full_months", "avg_hours_full", "num2"),
                        C("max_hours_per_client_month", "urenafspraak", "num2"), C("excess_hours", "excess_hours", "num"),
                        C("avg_hourly_tariff_eur", "hourly_tariff", "eur"), C("expected_reclaim_eur", "expected_reclaim", "eur"),
                        C("why", "why")),
    "late": (C("municipality_code", "municipality"), C("provider_agb", "provider"), C("month", "month", "month"),
             C("lines", "lines", "int"), C("late_lines", "late_lines", "int"), C("late_amount_eur", "late_amount", "eur"),
             C("median_lag_days", "median_lag_days", "num"), C("late_answers", "late_answers", "int"), C("why", "why")),
}


class _Context:
    """The frames every report page draws on, derived once from the read data."""

    def __init__(self, data: ReportData, lang: str, min_cell_clients: int | None = None) -> None:
        self.min_cell_clients = min_cell_clients
        if min_cell_clients:
            data = suppress_small_cells(data, min_cell_clients)
        self.data, self.lang, self.as_of = data, lang, data.as_of
        self.year = data.as_of.year
        self.timeliness = T.last_twelve_months(data["declaration_timeliness"], data.as_of)
        self.rejections = T.last_twelve_months(data["rejections"], data.as_of).with_columns(
            pl_value_label(pl.col("category"), lang)
        )
        self.ceilings = T.ceiling_table(data["ceiling_position"].filter(pl.col("year") == self.year), lang)
        self.lists = self._lists()

    def _lists(self) -> dict[str, FollowUpList]:
        lang = self.lang
        agreement = self.data["hours_agreement"].filter(
            pl.col("year") == self.year, pl.col("excess_hours") > 0
        ).with_columns(
            pl.concat_str([
                pl.lit("gem. " if lang == "nl" else "avg "),
                pl_fmt_num(pl.col("avg_hours_per_client_month"), lang, 2),
                pl.lit(" uur per cliëntmaand > afspraak " if lang == "nl" else " hours per client-month > agreement "),
                pl_fmt_num(pl.col("max_hours_per_client_month"), lang, 2),
            ]).alias("why")
        ).sort(["expected_reclaim_eur", "provider_agb"], descending=[True, False])
        allocations = self.data.allocations
        frames = {
            "real_overshoots": T.real_overshoot_list(allocations.real_overshoots, lang),
            "period_overshoots": T.period_overshoot_list(allocations.period_overshoots, allocations.compensation, lang),
            "underused": T.underused_list(allocations.underused, lang),
            "budget_alerts": T.budget_alerts(self.data["budget_exhaustion"], self.year, lang),
            "ceiling_alerts": T.ceiling_alerts(self.ceilings),
            "hours_agreement": agreement,
            "late": T.late_list(self.timeliness, lang),
        }
        if self.min_cell_clients:  # a row per allocation is a row per client: left out
            frames = {k: f.clear() if k in ALLOCATION_LISTS else f for k, f in frames.items()}
        return {
            key: FollowUpList(key, SHEETS[key][0 if lang == "nl" else 1], frame, LIST_COLUMNS[key])
            for key, frame in frames.items()
        }

    def sheet(self, key: str) -> str:
        return self.lists[key].sheet

    def summary(self, municipality: str | None) -> pl.DataFrame:
        return overshoot_summary(self.data.allocations, municipality, self.lang)


def write_reports(conn: duckdb.DuckDBPyConnection, out_dir: Path, *, as_of: dt.date,
                  language: str = "nl", min_cell_clients: int | None = None) -> list[Path]:
    """Write every report for the reporting month ``as_of`` into ``out_dir``; return the paths.

    Reads what the pages show first (nothing stays bound to ``conn``), then builds the figures and
    pages.
    ``min_cell_clients`` (e.g. 5) suppresses small cells for reports that leave the organisation.
    """
    data = read_report_data(conn, as_of)
    return write_reports_from_data(data, Path(out_dir), language=language, min_cell_clients=min_cell_clients)


def write_reports_from_data(data: ReportData, out_dir: Path, *, language: str = "nl",
                            min_cell_clients: int | None = None) -> list[Path]:
    label("as_of", language)  # validates the language early
    out_dir.mkdir(parents=True, exist_ok=True)
    ctx = _Context(data, language, min_cell_clients)
    with workbook_in_background(out_dir / WORKBOOK, list(ctx.lists.values()), lang=language) as workbook:
        written = _write_pages(ctx, out_dir)
        written.insert(-1, workbook())  # before index.html, as listed
    return written


def _write_pages(ctx: _Context, out_dir: Path) -> list[Path]:
    """Every HTML page and the index; the path of index.html comes last."""
    data, language = ctx.data, ctx.lang
    written: list[Path] = [ensure_plotly_js(out_dir)]
    entries: list[tuple[str, str, str]] = []  # (group, file, title)

    for code in data.municipalities:
        name = f"maandrapportage_{_slug(code)}.html"
        title = f"{label('maand_title', language)} {label('municipality', language).lower()} {code}"
        written.append(write_page(out_dir / name, maandrapportage(ctx, code, title)))
        entries.append((label("maand_title", language), name, title))
    title = f"{label('maand_title', language)} {label('region_title', language)}"
    written.append(write_page(out_dir / "maandrapportage_regio.html", maandrapportage(ctx, None, title)))
    entries.append((label("maand_title", language), "maandrapportage_regio.html", title))

    for insurer in data.insurers:
        name = f"plafondmonitor_{_slug(insurer)}.html"
        title = f"{label('plafond_title', language)} {label('insurer', language).lower()} {insurer}"
        written.append(write_page(out_dir / name, plafondmonitor(ctx, insurer, title)))
        entries.append((label("plafond_title", language), name, title))

    written.append(write_page(out_dir / "rekenfactor.html", rekenfactor_page(ctx)))
    entries.append((label("rekenfactor_title", language), "rekenfactor.html", label("rekenfactor_title", language)))
    written.append(write_page(out_dir / "datakwaliteit.html", datakwaliteit_page(ctx)))
    entries.append((label("dq_title", language), "datakwaliteit.html", label("dq_title", language)))

    written.append(write_page(out_dir / "index.html", index_page(ctx, entries)))
    return written


# ------------------------------------------------------------------------------------ helpers


def _slug(code: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", code)


def _subtitle(ctx: _Context) -> list[str]:
    lang = ctx.lang
    fresh = []
    if ctx.data.latest_declared_on:
        fresh.append(f"{label('latest_declaration', lang)} {fmt_date(ctx.data.latest_declared_on, lang)}")
    if ctx.data.latest_submitted_on:
        fresh.append(f"{label('latest_submission', lang)} {fmt_date(ctx.data.latest_submitted_on, lang)}")
    lines = [f"{label('as_of', lang)}: {fmt_date(ctx.as_of, lang)}"]
    lines.append(f"{label('freshness', lang)}: {', '.join(fresh) if fresh else label('unknown', lang)}")
    if ctx.min_cell_clients:
        lines.append(
            f"Kleine aantallen (minder dan {ctx.min_cell_clients} cliënten) zijn onderdrukt; "
            "lijsten per toewijzing zijn weggelaten." if lang == "nl" else
            f"Small cells (fewer than {ctx.min_cell_clients} clients) are suppressed; "
            "lists per allocation are left out."
        )
    return lines


def overshoot_summary(allocations: AllocationFigures, municipality: str | None, lang: str) -> pl.DataFrame:
    """Period overshoots, compensated peaks and real overshoots of a municipality or the region
    (``tables.overshoot_summary`` on the figures read). Counted on the flagged rows themselves, so
    small-cell suppression of the lists does not change them."""
    compensated = T.region_or(allocations.compensated_peaks, municipality)
    return T.summary_frame(
        T.period_counts(_filter(allocations.period_overshoots, "municipality_code", municipality)),
        compensated if not compensated.is_empty() else pl.DataFrame({"count": [0], "eur": [0.0]}),
        T.real_counts(_filter(allocations.real_overshoots, "municipality_code", municipality)),
        lang,
    )


# Follow-up lists with a row per allocation, i.e. per client.
ALLOCATION_LISTS = ("real_overshoots", "period_overshoots", "underused")


def suppress_small_cells(data: ReportData, min_clients: int) -> ReportData:
    """The report data with every figure that rests on fewer than ``min_clients`` clients blanked:
    hours per client (month and year) and rekenfactor groups of too few allocations (one
    allocation is one client)."""
    masks = {
        "hours_per_client_month": (pl.col("clients") < min_clients, ["hours", "clients", "hours_per_client"]),
        "hours_agreement": (pl.col("client_months") < min_clients,
                            ["hours", "client_months", "avg_hours_per_client_month", "avg_hours_full_months",
                             "excess_hours", "expected_reclaim_eur"]),
        "rekenfactor": (pl.col("allocations") < min_clients,
                        ["allocations", "indicated_hours", "realised_hours", "implied_rekenfactor",
                         "unused_share", "budget_effect_eur"]),
    }
    marts = dict(data.marts)
    for table, (small, columns) in masks.items():
        marts[table] = marts[table].with_columns(
            pl.when(small).then(None).otherwise(pl.col(c)).alias(c) for c in columns
        )
    return dataclasses.replace(data, marts=marts)


def _filter(frame: pl.DataFrame, column: str, value: str | None) -> pl.DataFrame:
    return frame if value is None else frame.filter(pl.col(column) == value)


def _id(*parts: str) -> str:
    return "-".join(_slug(p) for p in parts)


def _local(columns: tuple[C, ...], municipality: str | None) -> tuple[C, ...]:
    """On a municipality's own page its code column says nothing: leave it out."""
    return columns if municipality is None else tuple(c for c in columns if c.name != "municipality_code")


def _none(lang: str, nl: str, en: str) -> str:
    return nl if lang == "nl" else en


# ------------------------------------------------------------------------------ Maandrapportage


SUMMARY_COLUMNS = (C("class", "category"), C("count", "count", "int"), C("unit", "count_unit"), C("eur", "euros", "eur"))
HEADLINE_COLUMNS = (
    C("law", "law"), C("budget_eur", "budget", "eur"), C("approved_eur", "approved", "eur"),
    C("pending_eur", "pending", "eur"), C("expected_late_eur", "expected_late", "eur"),
    C("committed_eur", "committed", "eur"), C("forecast_eur", "forecast", "eur"), C("exhaustion", "exhaustion", "pct"),
)


def maandrapportage(ctx: _Context, municipality: str | None, title: str) -> str:
    lang, year = ctx.lang, ctx.year
    scope = municipality or "regio"
    allocations = ctx.data.allocations
    exhaustion = _filter(ctx.data["budget_exhaustion"], "municipality_code", municipality)
    headline = T.headline_by_law(exhaustion, year)
    timeliness = _filter(ctx.timeliness, "municipality_code", municipality)
    rejections = _filter(ctx.rejections, "municipality_code", municipality)
    lists = {k: _filter(v.frame, "municipality_code", municipality)
             for k, v in ctx.lists.items() if k in ("real_overshoots", "underused", "budget_alerts", "late")}
    summary = ctx.summary(municipality)
    underused = lists["underused"]

    # headline
    cards = []
    for row in headline.iter_rows(named=True):  # one card per law (two at most)
        cards.append((
            f"{row['law']} · {label('exhaustion', lang).lower()}",
            fmt_pct(row["exhaustion"], lang) or "–",
            f"{label('forecast', lang)} {fmt_eur(row['forecast_eur'], lang, 0)} / {label('budget', lang).lower()} "
            f"{fmt_eur(row['budget_eur'], lang, 0)}",
            (row["exhaustion"] or 0) > 1,
        ))
    real = summary.filter(pl.col("key") == "real_overshoots")
    cards.append((label("real_overshoots", lang), fmt_num(real["count"][0], lang),
                  fmt_eur(real["eur"][0], lang, 0), real["count"][0] > 0))
    cards.append((_none(lang, "Onderbenutte toewijzingen", "Under-used allocations"), fmt_num(underused.height, lang),
                  f"{label('committed', lang)} {fmt_eur(underused['committed_eur'].sum(), lang, 0)}", False))
    headline_part = (
        cards_html(cards)
        + (table_html(headline, HEADLINE_COLUMNS, lang) if not headline.is_empty()
           else none_html(_none(lang, "Geen budgetgegevens voor dit jaar.", "No budget figures for this year.")))
    )

    # pictures
    spend_providers = T.top_providers(T.region_or(allocations.spend_providers, municipality), "approved_amount_eur")
    over_providers = T.top_providers(T.region_or(allocations.overshoot_providers, municipality), "excess_eur")
    late_providers = T.top_providers(timeliness, "late_amount_eur")
    cumulative = T.cumulative_spend(T.region_or(allocations.spend, municipality))
    pictures = [
        figure_html(F.fig_cumulative_spend(cumulative, headline, ctx.as_of, lang),
                    _id("maand", scope, "cumulatief"), label("no_data", lang)),
        figure_html(F.fig_category_spend(T.by_category(exhaustion, year), lang),
                    _id("maand", scope, "categorie"), _none(lang, "Geen budgetten per productcategorie.",
                                                           "No budgets per product category.")),
        figure_html(F.fig_top_providers(spend_providers, over_providers, late_providers, lang),
                    _id("maand", scope, "aanbieders"), label("no_data", lang)),
    ]

    overshoot_part = [
        table_html(summary, SUMMARY_COLUMNS, lang),
        figure_html(F.fig_overshoots(summary, lang), _id("maand", scope, "overschrijdingen"),
                    _none(lang, "Geen overschrijdingen.", "No overshoots.")),
        f"<h3>{label('real_overshoots', lang)}</h3>",
        followup_html(lists["real_overshoots"], _local(LIST_COLUMNS["real_overshoots"], municipality), lang,
                      empty_text=_none(lang, "Geen toewijzingen met een echte totaaloverschrijding.",
                                       "No allocations with a real total overshoot."),
                      sheet=ctx.sheet("real_overshoots"), workbook=WORKBOOK),
        '<p class="note">' + (
            f"Periode-overschrijdingen per maand: zie {WORKBOOK}, tabblad '{ctx.sheet('period_overshoots')}'."
            if lang == "nl" else
            f"Period overshoots per month: see {WORKBOOK}, sheet '{ctx.sheet('period_overshoots')}'.") + "</p>",
    ]

    by_reason = T.underuse_by_reason(underused)
    underuse_part = [
        figure_html(F.fig_underuse(by_reason, lang), _id("maand", scope, "onderbenutting"), "")
        if not underused.is_empty() else "",
        followup_html(underused, _local(LIST_COLUMNS["underused"], municipality), lang,
                      empty_text=_none(lang, "Geen onderbenutte toewijzingen.", "No under-used allocations."),
                      sheet=ctx.sheet("underused"), workbook=WORKBOOK),
    ]

    provider_timeliness = (
        timeliness.group_by("provider_agb").agg(
            pl.col("lines").sum(), pl.col("late_lines").sum(), pl.col("late_amount_eur").sum(),
            pl.col("median_lag_days").median(), pl.col("late_answers").sum(),
        ).with_columns((pl.col("late_lines") / pl.col("lines")).alias("late_share"))
        .sort(["late_lines", "provider_agb"], descending=[True, False])
    )
    timeliness_part = [
        figure_html(F.fig_timeliness(timeliness, rejections, lang), _id("maand", scope, "tijdigheid"),
                    _none(lang, "Geen declaraties in de afgelopen twaalf maanden.",
                          "No declarations in the last twelve months.")),
        table_html(provider_timeliness, (
            C("provider_agb", "provider"), C("lines", "lines", "int"), C("late_lines", "late_lines", "int"),
            C("late_share", "late_share", "pct"), C("late_amount_eur", "late_amount", "eur"),
            C("median_lag_days", "median_lag_days", "num"), C("late_answers", "late_answers", "int"),
        ), lang, limit=10) if not provider_timeliness.is_empty() else "",
        f"<h3>{_none(lang, 'Late declaraties en antwoorden', 'Late declarations and answers')}</h3>",
        followup_html(lists["late"], _local(LIST_COLUMNS["late"], municipality), lang,
                      empty_text=_none(lang, "Geen late declaraties of antwoorden.", "No late declarations or answers."),
                      sheet=ctx.sheet("late"), workbook=WORKBOOK),
    ]

    budget_part = followup_html(lists["budget_alerts"], _local(LIST_COLUMNS["budget_alerts"], municipality), lang,
                                empty_text=_none(lang, "Geen budgetoverschrijding verwacht.",
                                                 "No budget overrun expected."),
                                sheet=ctx.sheet("budget_alerts"), workbook=WORKBOOK)
    sections = [
        section_html(label("headline", lang), headline_part, section_id="kerncijfers"),
        section_html(f"{label('spend', lang)} & {label('forecast', lang).lower()}", *pictures, section_id="besteding"),
        section_html(_none(lang, "Overschrijdingen", "Overshoots"), *overshoot_part, section_id="overschrijdingen"),
        section_html(_none(lang, "Onderbenutting", "Under-use"), *underuse_part, section_id="onderbenutting"),
        section_html(_none(lang, "Tijdigheid en afwijzingen", "Timeliness and rejections"), *timeliness_part,
                     section_id="tijdigheid"),
        section_html(label("followup", lang) + ": " + _none(lang, "budgetsignalen", "budget alerts"), budget_part,
                     section_id="opvolging"),
    ]
    return page_html(title, _subtitle(ctx), sections, lang)


# ------------------------------------------------------------------------------- Plafondmonitor


CEILING_COLUMNS = (
    C("provider_agb", "provider"), C("ceiling_eur", "ceiling", "eur"), C("realised_eur", "realised", "eur"),
    C("share", "share", "pct"), C("expected_late_eur", "expected_late", "eur"),
    C("projected_year_end_eur", "projected_year_end", "eur"), C("projected_run_out_date", "run_out_date", "date"),
    C("above_ceiling_eur", "above_ceiling", "eur"), C("above_kind", "above_kind"), C("alert_label", "alert"),
    C("request_increase_by", "request_by", "date"), C("why", "why"),
)


def _page(columns: tuple[C, ...]) -> tuple[C, ...]:
    """On an insurer's page the payer and the year are the page's own: leave them out."""
    return tuple(c for c in columns if c.name not in ("payer_code", "year"))


def plafondmonitor(ctx: _Context, insurer: str, title: str) -> str:
    lang, year = ctx.lang, ctx.year
    table = ctx.ceilings.filter(pl.col("payer_code") == insurer)
    alerts = ctx.lists["ceiling_alerts"].frame.filter(pl.col("payer_code") == insurer)
    monthly = ctx.data["hours_per_client_month"].filter(
        pl.col("payer_code") == insurer, pl.col("month").dt.year() == year, pl.col("month") <= ctx.as_of)
    agreement = ctx.data["hours_agreement"].filter(pl.col("payer_code") == insurer, pl.col("year") == year)
    over_agreement = ctx.lists["hours_agreement"].frame.filter(pl.col("payer_code") == insurer)
    cumulative = T.cumulative_by_provider(ctx.data.realisation.filter(pl.col("insurer_code") == insurer))

    ceiling_sum, realised_sum = table["ceiling_eur"].sum(), table["realised_eur"].sum()
    cards = [
        (label("providers_total", lang), fmt_num(table.height, lang), f"{label('year', lang)} {year}", False),
        (label("providers_alert", lang), fmt_num(alerts.height, lang),
         ", ".join(f"{n}× {a}" for a, n in alerts.group_by("alert_label").len().sort("alert_label").iter_rows()),
         alerts.height > 0),
        (label("realised", lang), fmt_pct(realised_sum / ceiling_sum, lang) if ceiling_sum else "–",
         f"{fmt_eur(realised_sum, lang, 0)} / {fmt_eur(ceiling_sum, lang, 0)}", False),
        (label("above_ceiling", lang), fmt_eur(table["above_ceiling_eur"].sum(), lang, 0), "", table["above_ceiling_eur"].sum() > 0),
        (label("expected_reclaim", lang), fmt_eur(agreement["expected_reclaim_eur"].sum(), lang, 0),
         label("urenafspraak", lang), agreement["expected_reclaim_eur"].sum() > 0),
    ]
    headline_part = cards_html(cards) + (
        table_html(table, CEILING_COLUMNS, lang) if not table.is_empty()
        else none_html(_none(lang, "Geen plafonds voor deze verzekeraar in dit jaar.",
                             "No ceilings for this insurer this year.")))
    more = table.height - 12
    pictures = [
        figure_html(F.fig_cumulative_realisation(cumulative, table, year, lang), _id("plafond", insurer, "cumulatief"),
                    _none(lang, "Geen plafonds om te tonen.", "No ceilings to show.")),
        (f'<p class="note">{_none(lang, f"De {more} minst urgente aanbieders staan alleen in de tabel.", f"The {more} least urgent providers are only in the table.")}</p>'
         if more > 0 else ""),
        f"<h3>{label('hours_per_client', lang)}</h3>",
        figure_html(F.fig_hours_per_client(monthly, agreement, lang), _id("plafond", insurer, "uren"),
                    _none(lang, "Geen uren per cliënt in dit jaar.", "No hours per client this year.")),
        table_html(agreement.sort("provider_agb"), _page(LIST_COLUMNS["hours_agreement"])[:-1], lang)
        if not agreement.is_empty() else "",
    ]
    followup = [
        f"<h3>{label('plafond_title', lang)}: {label('alert', lang).lower()}</h3>",
        followup_html(alerts, _page(LIST_COLUMNS["ceiling_alerts"]), lang,
                      empty_text=_none(lang, "Geen plafondsignalen: alle aanbieders blijven binnen hun plafond.",
                                       "No ceiling alerts: every provider stays within its ceiling."),
                      sheet=ctx.sheet("ceiling_alerts"), workbook=WORKBOOK),
        f"<h3>{label('urenafspraak', lang)}</h3>",
        followup_html(over_agreement, _page(LIST_COLUMNS["hours_agreement"]), lang,
                      empty_text=_none(lang, "Geen overschrijding van de urenafspraak.",
                                       "No provider above its hours agreement."),
                      sheet=ctx.sheet("hours_agreement"), workbook=WORKBOOK),
    ]
    sections = [
        section_html(label("headline", lang), headline_part, section_id="kerncijfers"),
        section_html(label("pictures", lang), *pictures, section_id="grafieken"),
        section_html(label("followup", lang), *followup, section_id="opvolging"),
    ]
    return page_html(title, _subtitle(ctx), sections, lang)


# ----------------------------------------------------------------------------- Rekenfactor page


RF_COLUMNS = (
    C("product_code", "product_code"), C("allocations", "allocations", "int"),
    C("indicated_hours", "indicated_hours", "num"), C("realised_hours", "realised_hours", "num"),
    C("implied_rekenfactor", "implied_rf", "num2"), C("contract_rekenfactor", "contract_rf", "num2"),
    C("unused_share", "unused_share", "pct"), C("budget_effect_eur", "budget_effect", "eur"),
)


def rekenfactor_page(ctx: _Context) -> str:
    lang = ctx.lang
    band = ctx.data["band_utilisation"]
    rf = ctx.data["rekenfactor"]
    effects = F.rekenfactor_effects(rf)
    shares = F.band_shares(band)
    overall_class = band.group_by("band_class").len()
    total = band.height
    cards = [(label("allocations", lang), fmt_num(total, lang), label("band_position", lang), False)]
    for cls in F.BAND_CLASSES:
        n = overall_class.filter(pl.col("band_class") == cls)["len"].sum()
        cards.append((label(f"band_{cls}", lang), fmt_pct(n / total, lang) if total else "–", fmt_num(n, lang), False))
    indicated, realised = effects["indicated_hours"].sum(), effects["realised_hours"].sum()
    if indicated:
        cards.append((label("implied_rf", lang), fmt_num(realised / indicated, lang, 2),
                      f"{label('unused_share', lang)} {fmt_pct(1 - realised / indicated, lang)}", False))
    cards.append((label("budget_effect", lang), fmt_eur(effects["budget_effect_eur"].sum(), lang, 0),
                  _none(lang, "bij impliciete rekenfactor", "at the implied rekenfactor"), False))
    headline = cards_html(cards) + (
        table_html(effects, RF_COLUMNS, lang) if not effects.is_empty()
        else none_html(_none(lang, "Geen rekenfactorgegevens.", "No rekenfactor figures.")))

    share_table = shares.pivot(on="band_class", index="product_code", values="share").sort("product_code")
    share_table = share_table.with_columns(
        pl.lit(None, dtype=pl.Float64).alias(c) for c in F.BAND_CLASSES if c not in share_table.columns)
    band_part = [
        figure_html(F.fig_band_positions(band, lang), "rekenfactor-bandpositie",
                    _none(lang, "Geen toewijzingen met een band.", "No allocations with a band.")),
        figure_html(F.fig_band_classes(shares, lang), "rekenfactor-bandklassen",
                    _none(lang, "Geen toewijzingen met een band.", "No allocations with a band.")),
        table_html(share_table, (C("product_code", "product_code"),
                                 *(C(c, f"band_{c}", "pct") for c in F.BAND_CLASSES)), lang)
        if not share_table.is_empty() else "",
    ]
    rf_part = [
        '<p class="note">' + _none(
            lang,
            "Het budgeteffect = goedgekeurd bedrag × (rekenfactor ÷ contract-rekenfactor − 1). "
            "Schuif met de regelaar om een andere rekenfactor te proberen.",
            "Budget effect = approved amount × (rekenfactor ÷ contract rekenfactor − 1). "
            "Move the slider to try another rekenfactor.") + "</p>",
        figure_html(F.fig_rekenfactor(effects, lang), "rekenfactor-effect",
                    _none(lang, "Geen rekenfactorgegevens.", "No rekenfactor figures.")),
    ]
    by_municipality = rf.filter(pl.col("grain") == "product_municipality").sort("municipality_code", "product_code")
    by_provider = (rf.filter(pl.col("grain") == "product_provider")
                   .sort(pl.col("budget_effect_eur").abs(), "provider_agb", descending=[True, False]))
    grain_part = [
        f"<h3>{_none(lang, 'Per gemeente', 'Per municipality')}</h3>",
        table_html(by_municipality, (C("municipality_code", "municipality"), *RF_COLUMNS), lang)
        if not by_municipality.is_empty() else none_html(label("none", lang)),
        f"<h3>{_none(lang, 'Per aanbieder (grootste budgeteffect eerst)', 'Per provider (largest budget effect first)')}</h3>",
        table_html(by_provider, (C("provider_agb", "provider"), *RF_COLUMNS), lang, limit=20)
        if not by_provider.is_empty() else none_html(label("none", lang)),
    ]
    peaks = ctx.data.allocations.peaks
    summary = ctx.summary(None)
    peak_part = [
        table_html(summary, SUMMARY_COLUMNS, lang),
        figure_html(F.fig_peaks(peaks, lang), "rekenfactor-pieken",
                    _none(lang, "Geen piekmaanden.", "No peak months.")),
    ]
    sections = [
        section_html(label("headline", lang), headline, section_id="kerncijfers"),
        section_html(_none(lang, "Bandbreedte", "Bandwidth"), *band_part, section_id="band"),
        section_html(label("implied_rf", lang), *rf_part, *grain_part, section_id="rekenfactor"),
        section_html("Disharmonisch factureren", *peak_part, section_id="pieken"),
    ]
    return page_html(label("rekenfactor_title", lang), _subtitle(ctx), sections, lang)


# --------------------------------------------------------------------------- Datakwaliteit page


def datakwaliteit_page(ctx: _Context) -> str:
    lang = ctx.lang
    summary = ctx.data["quarantine_summary"].with_columns(
        pl.when(pl.col("rows_received") == pl.col("rows_loaded") + pl.col("rows_quarantined"))
        .then(pl.lit(label("yes", lang))).otherwise(pl.lit(label("no", lang))).alias("reconciles"),
        pl.when(pl.col("rows_received") > 0).then(pl.col("rows_quarantined") / pl.col("rows_received")).alias("q_share"),
    ).sort("source_file")
    reasons = ctx.data["quarantine_reasons"].sort(["source_file", "rows"], descending=[False, True])
    refused = ctx.data.refused_files
    rejections, timeliness = ctx.rejections, ctx.timeliness
    not_reconciled = summary.filter(pl.col("reconciles") == label("no", lang)).height
    cards = [
        (label("files", lang), fmt_num(summary.height, lang), "", False),
        (label("rows_received", lang), fmt_num(summary["rows_received"].sum(), lang), "", False),
        (label("rows_quarantined", lang), fmt_num(summary["rows_quarantined"].sum(), lang),
         fmt_pct(summary["rows_quarantined"].sum() / summary["rows_received"].sum(), lang)
         if summary["rows_received"].sum() else "", summary["rows_quarantined"].sum() > 0),
        (_none(lang, "Sluit niet aan", "Does not reconcile"), fmt_num(not_reconciled, lang),
         _none(lang, "ontvangen ≠ geladen + quarantaine", "received ≠ loaded + quarantined"), not_reconciled > 0),
        (label("files_refused", lang), fmt_num(refused.height, lang), "", refused.height > 0),
        (label("rejected_amount", lang), fmt_eur(rejections["amount_eur"].sum(), lang, 0),
         f"{fmt_num(rejections['lines'].sum(), lang)} {label('lines', lang).lower()}", False),
        (label("late_answers", lang), fmt_num(timeliness["late_answers"].sum(), lang),
         _none(lang, "afgelopen 12 maanden", "last 12 months"), timeliness["late_answers"].sum() > 0),
    ]
    files_part = [
        table_html(summary, (C("source_file", "source_file"), C("kind", "kind"),
                             C("rows_received", "rows_received", "int"), C("rows_loaded", "rows_loaded", "int"),
                             C("rows_quarantined", "rows_quarantined", "int"), C("q_share", "share", "pct"),
                             C("reconciles", "reconciles")), lang)
        if not summary.is_empty() else none_html(_none(lang, "Geen bestanden ontvangen.", "No files received.")),
        figure_html(F.fig_quarantine_files(summary, lang), "datakwaliteit-bestanden", label("no_data", lang)),
        f"<h3>{label('files_refused', lang)}</h3>",
        table_html(refused, (C("source_file", "source_file"), C("reason_text", "reason")), lang)
        if not refused.is_empty() else none_html(_none(lang, "Geen geweigerde bestanden.", "No refused files.")),
        f"<h3>{_none(lang, 'Quarantaine per reden', 'Quarantine by reason')}</h3>",
        figure_html(F.fig_quarantine_reasons(reasons, lang), "datakwaliteit-redenen",
                    _none(lang, "Geen rijen in quarantaine.", "No quarantined rows.")),
        table_html(reasons, (C("source_file", "source_file"), C("reason_code", "reason_code"),
                             C("reason_text", "reason_text"), C("rows", "rows", "int")), lang, limit=40)
        if not reasons.is_empty() else "",
    ]
    by_code = (rejections.group_by("return_code", "category")
               .agg(pl.col("lines").sum(), pl.col("amount_eur").sum())
               .sort(["lines", "return_code"], descending=[True, False]))
    answers = (timeliness.group_by("provider_agb", "municipality_code")
               .agg(pl.col("lines").sum(), pl.col("late_answers").sum())
               .filter(pl.col("late_answers") > 0)
               .with_columns(pl.concat_str([
                   pl.col("late_answers").cast(pl.String),
                   pl.lit(" van " if lang == "nl" else " of "),
                   pl.col("lines").cast(pl.String),
                   pl.lit(" regels zonder tijdig antwoord" if lang == "nl" else " lines without a timely answer"),
               ]).alias("why"))
               .sort(["late_answers", "provider_agb"], descending=[True, False]))
    rejection_part = [
        figure_html(F.fig_rejections(rejections, lang), "datakwaliteit-afwijzingen",
                    _none(lang, "Geen afgewezen regels in de afgelopen twaalf maanden.",
                          "No rejected lines in the last twelve months.")),
        table_html(by_code, (C("return_code", "return_code"), C("category", "category"),
                             C("lines", "rejected_lines", "int"), C("amount_eur", "rejected_amount", "eur")), lang)
        if not by_code.is_empty() else "",
    ]
    answer_part = [
        figure_html(F.fig_late_answers(timeliness, lang), "datakwaliteit-antwoorden",
                    _none(lang, "Geen late of ontbrekende antwoorden.", "No late or missing answers.")),
        followup_html(answers, (C("provider_agb", "provider"), C("municipality_code", "municipality"),
                                C("lines", "lines", "int"), C("late_answers", "late_answers", "int"), C("why", "why")),
                      lang, empty_text=_none(lang, "Geen late of ontbrekende antwoorden.", "No late or missing answers."),
                      sheet=ctx.sheet("late"), workbook=WORKBOOK),
    ]
    sections = [
        section_html(label("headline", lang), cards_html(cards), section_id="kerncijfers"),
        section_html(_none(lang, "Ontvangen, geladen en quarantaine", "Received, loaded and quarantined"),
                     *files_part, section_id="bestanden"),
        section_html(_none(lang, "Afgewezen declaratieregels", "Rejected declaration lines"), *rejection_part,
                     section_id="afwijzingen"),
        section_html(label("late_answers", lang), *answer_part, section_id="antwoorden"),
    ]
    return page_html(label("dq_title", lang), _subtitle(ctx), sections, lang)


# ---------------------------------------------------------------------------------------- index


def index_page(ctx: _Context, entries: list[tuple[str, str, str]]) -> str:
    lang = ctx.lang
    groups: dict[str, list[tuple[str, str]]] = {}
    for group, file, title in entries:
        groups.setdefault(group, []).append((file, title))
    parts = []
    for group, items in groups.items():
        links = "".join(f'<li><a href="{file}">{_esc(title)}</a></li>' for file, title in items)
        parts.append(f"<h3>{_esc(group)}</h3><nav><ul>{links}</ul></nav>")
    counts = "".join(
        f"<li>{_esc(item.sheet)}: {fmt_num(item.frame.height, lang)}</li>" for item in ctx.lists.values()
    )
    workbook = (f'<p><a href="{WORKBOOK}">{_esc(label("workbook", lang))}</a></p>'
                f'<ul>{counts}</ul>')
    sections = [
        section_html(label("reports", lang), *parts, section_id="rapportages"),
        section_html(label("workbook", lang), workbook, section_id="opvolglijsten"),
    ]
    return page_html(label("index_title", lang), _subtitle(ctx), sections, lang, back_link=False, with_plotly=False)


def _esc(text: str) -> str:
    return html.escape(text)
