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
    Card,
    cards_html,
    figure_html,
    heading,
    link,
    note,
    render,
    followup_html,
    none_html,
    page_html,
    section_html,
    table_html,
    write_page,
)
from .i18n import (fmt_date, fmt_eur, fmt_month, fmt_num, fmt_pct, help_text, label, pl_fmt_num, pl_value_label,
                   reason_text, value_label)
from .names import Names, with_names
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
    "signal_after_stop": ("Gedeclareerd na stop", "Declared after stop"),
    "signal_outside_allocation": ("Buiten toewijzing", "Outside allocation"),
    "signal_no_allocation": ("Zonder toewijzing", "Without allocation"),
    "signal_duplicate_period": ("Dubbele periode", "Duplicate period"),
}
SIGNAL_LISTS = ("signal_after_stop", "signal_outside_allocation", "signal_no_allocation", "signal_duplicate_period")

ALLOCATION_COLUMNS = (
    C("municipality_code_name", "municipality"), C("law", "law"), C("allocation_number", "allocation_number"),
    C("provider_agb_name", "provider"), C("product_category_name", "product_category", optional=True), C("product_code_name", "product_code"),
)
SIGNAL_COLUMNS = (
    C("municipality_code_name", "municipality"), C("law", "law"), C("provider_agb_name", "provider"),
    C("allocation_number", "allocation_number"), C("reference_number", "reference_number"),
    C("month", "month", "month"), C("amount_eur", "amount_eur", "eur", decimals=2), C("detail", "signal_detail"),
)
LIST_COLUMNS: dict[str, tuple[C, ...]] = {
    **{key: SIGNAL_COLUMNS for key in SIGNAL_LISTS},
    "real_overshoots": (*ALLOCATION_COLUMNS, C("total_max_volume", "total_max_volume", "num"),
                        C("requested_volume", "requested_volume", "num"), C("delivered_volume", "delivered_volume", "num", optional=True), C("excess_volume", "excess_volume", "num", optional=True),
                        C("excess_eur", "excess_eur", "eur"), C("why", "why")),
    "period_overshoots": (*ALLOCATION_COLUMNS, C("month", "month", "month"), C("max_volume", "max_volume", "num"),
                          C("requested_volume", "requested_volume", "num"), C("delivered_volume", "delivered_volume", "num", optional=True), C("excess_volume", "excess_volume", "num", optional=True),
                          C("excess_eur", "excess_eur", "eur"), C("why", "why")),
    "underused": (*ALLOCATION_COLUMNS, C("shown_utilisation", "utilisation", "pct"), C("reason_label", "underuse_reason"),
                  C("suggested_product_code_name", "suggested_product_code", blank="–", optional=True), C("committed_eur", "committed_eur", "eur"),
                  C("why", "why")),
    "budget_alerts": (C("municipality_code_name", "municipality"), C("law", "law"), C("product_category_name", "product_category"),
                      C("year", "year"), C("budget_eur", "budget", "eur"), C("forecast_eur", "forecast", "eur"),
                      C("exhaustion", "exhaustion", "pct"), C("why", "why")),
    "ceiling_alerts": (C("payer_code_name", "payer"), C("provider_agb_name", "provider"), C("year", "year"),
                       C("ceiling_eur", "ceiling", "eur"), C("realised_eur", "realised", "eur", optional=True), C("share", "share", "pct"),
                       C("expected_late_eur", "expected_late", "eur", optional=True),
                       C("projected_year_end_eur", "projected_year_end", "eur"),
                       C("projected_run_out_date", "run_out_date", "date"), C("above_ceiling_eur", "above_ceiling", "eur"),
                       C("above_kind", "above_kind", optional=True), C("alert_label", "alert"), C("request_increase_by", "request_by", "date"),
                       C("why", "why")),
    "hours_agreement": (C("payer_code_name", "payer"), C("provider_agb_name", "provider"), C("year", "year"),
                        C("client_months", "client_months", "int"), C("avg_hours_per_client_month", "avg_hours", "num2"),
                        C("avg_hours_full_months", "avg_hours_full", "num2", optional=True),
                        C("max_hours_per_client_month", "urenafspraak", "num2"), C("excess_hours", "excess_hours", "num"),
                        C("avg_hourly_tariff_eur", "hourly_tariff", "eur", optional=True), C("expected_reclaim_eur", "expected_reclaim", "eur"),
                        C("why", "why")),
    "late": (C("municipality_code_name", "municipality"), C("provider_agb_name", "provider"), C("month", "month", "month"),
             C("lines", "lines", "int"), C("late_lines", "late_lines", "int"), C("late_amount_eur", "late_amount", "eur"),
             C("median_lag_days", "median_lag_days", "num"), C("late_answers", "late_answers", "int"), C("why", "why")),
}


class _Context:
    """The frames every report page draws on, derived once from the read data."""

    def __init__(self, data: ReportData, lang: str, min_cell_clients: int | None = None) -> None:
        self.min_cell_clients = min_cell_clients
        if min_cell_clients:
            data = suppress_small_cells(data, min_cell_clients)
        self.names = Names.load(data.organisations)
        data = _named(data, self.names)
        self.data, self.lang, self.as_of = data, lang, data.as_of
        self.year = data.as_of.year
        self.timeliness = T.last_twelve_months(data["declaration_timeliness"], data.as_of)
        rejections = T.last_twelve_months(data["rejections"], data.as_of).with_columns(
            pl_value_label(pl.col("category"), lang)
        )
        # a line rejected with several codes has one primary code: totals add up those rows only
        self.primary_known = rejections["primary"].is_not_null().any()
        self.rejections_all = rejections
        self.rejections = rejections.filter(pl.col("primary")) if self.primary_known else rejections
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
            "underused": T.underused_list(allocations.underused, lang).with_columns(
                pl.coalesce("mature_utilisation", "utilisation").alias("shown_utilisation")),
            "budget_alerts": T.budget_alerts(self.data["budget_exhaustion"], self.year, lang),
            "ceiling_alerts": T.ceiling_alerts(self.ceilings),
            "hours_agreement": agreement,
            "late": T.late_list(self.timeliness, lang),
        }
        lines = self.data.signal_lines
        if lines is not None:  # §15: a sheet per lawfulness signal, every line, largest amounts first
            frames |= {key: lines.filter(pl.col("signal") == key.removeprefix("signal_")) for key in SIGNAL_LISTS}
        # an aspecific allocation has no product: name its category instead of leaving the cell blank
        aspecific = "aspecifiek" if lang == "nl" else "aspecific"
        frames = {k: f.with_columns(pl.coalesce(
            "product_code_name", pl.concat_str([pl.lit(f"{aspecific}: "), pl.col("product_category_name")])
        ).alias("product_code_name")) if k in ALLOCATION_LISTS and "product_code_name" in f.columns
            and "product_category_name" in f.columns else f for k, f in frames.items()}
        if self.min_cell_clients:  # a row per allocation is a row per client: left out
            frames = {k: f.clear() if k in ALLOCATION_LISTS + SIGNAL_LISTS else f for k, f in frames.items()}
        return {
            key: FollowUpList(key, SHEETS[key][0 if lang == "nl" else 1], frame, LIST_COLUMNS[key])
            for key, frame in frames.items()
        }

    def sheet(self, key: str) -> str:
        return self.lists[key].sheet

    def summary(self, municipality: str | None) -> pl.DataFrame:
        return overshoot_summary(self.data.allocations, municipality, self.lang)


def _named(data: ReportData, names: Names) -> ReportData:
    """Every frame with a ``<code>_name`` column beside each code column it has."""
    marts = {k: with_names(v, names) for k, v in data.marts.items()}
    allocations = dataclasses.replace(data.allocations, **{
        f.name: with_names(getattr(data.allocations, f.name), names)
        for f in dataclasses.fields(data.allocations)})
    realisation = with_names(data.realisation, names)
    optional = {k: with_names(getattr(data, k), names) for k in ("signals", "stop_messages", "signal_lines")
                if getattr(data, k) is not None}
    return dataclasses.replace(data, marts=marts, allocations=allocations, realisation=realisation, **optional)


SIGNALS = ("after_stop", "outside_allocation", "no_allocation", "duplicate_period")


def rechtmatigheid_part(ctx: _Context, municipality: str | None) -> list[str]:
    """Lawfulness signals (metrics.md §15): euros per provider and signal, and the stop messages."""
    lang = ctx.lang
    if ctx.data.signals is None and ctx.data.stop_messages is None:
        return [none_html(_none(lang, "Niet te bepalen: de signalen (marts.declaration_signals, marts.stop_messages) "
                                      "zijn nog niet berekend.",
                                "Not determinable: the signals (marts.declaration_signals, marts.stop_messages) have "
                                "not been computed yet."))]
    parts: list[str] = []
    signals = _filter(ctx.data.signals, "municipality_code", municipality) if ctx.data.signals is not None else None
    if signals is not None and not signals.is_empty():
        per = (signals.group_by("provider_agb", "provider_agb_name", "signal").agg(pl.col("amount_eur").sum())
               .pivot(on="signal", index=["provider_agb", "provider_agb_name"], values="amount_eur"))
        for sig in SIGNALS:
            if sig not in per.columns:
                per = per.with_columns(pl.lit(None, dtype=pl.Float64).alias(sig))
        per = per.with_columns(pl.sum_horizontal(*SIGNALS).alias("total_eur")).sort(
            ["total_eur", "provider_agb"], descending=[True, False])
        totals = signals.group_by("signal").agg(pl.col("lines").sum(), pl.col("amount_eur").sum())
        cards = []
        for sig in SIGNALS:
            row = totals.filter(pl.col("signal") == sig)
            eur = row["amount_eur"].sum() if row.height else 0.0
            n = row["lines"].sum() if row.height else 0
            cards.append(Card(value_label(sig, lang), fmt_eur(eur, lang, 0), f"{fmt_num(n, lang)} {_none(lang, 'regels', 'lines')}",
                              "warn" if eur > 0 else "good", help_text(f"signal_{sig}", lang)))
        parts += [cards_html(cards), table_html(per, (C("provider_agb_name", "provider"),
                                                      *(C(sig, f"signal_{sig}", "eur", blank="–") for sig in SIGNALS),
                                                      C("total_eur", "total", "eur")), lang, order_by="total_eur"),
                  note(_none(lang, "Goedgekeurde of nog openstaande regels van de afgelopen twaalf maanden, in euro's per "
                                   "aanbieder. Een regel kan onder meer dan één signaal vallen.",
                             "Approved or pending lines of the last twelve months, in euros per provider. A line can "
                             "fall under more than one signal."))]
    elif signals is not None:
        parts.append(none_html(_none(lang, "Geen signalen: geen regels na een stop, buiten of zonder toewijzing, of dubbel.",
                                     "No signals: no lines after a stop, outside or without an allocation, or double.")))
    stops = _filter(ctx.data.stop_messages, "municipality_code", municipality) if ctx.data.stop_messages is not None else None
    if stops is not None and not stops.is_empty():
        per = (stops.group_by("provider_agb", "provider_agb_name")
               .agg(pl.col("stops").sum(), pl.col("late_stops").sum(), pl.col("median_delay_days").median(),
                    pl.col("allocations_open_after_stop").sum())
               .with_columns((pl.col("late_stops") / pl.col("stops")).alias("late_share"))
               .sort(["late_stops", "provider_agb"], descending=[True, False]))
        parts += [heading(_none(lang, "Stopberichten", "Stop messages")),
                  table_html(per, (C("provider_agb_name", "provider"), C("stops", "stops", "int"),
                                   C("late_stops", "late_stops", "int"), C("late_share", "late_share", "pct"),
                                   C("median_delay_days", "median_delay_days", "num"),
                                   C("allocations_open_after_stop", "open_after_stop", "int")), lang, order_by="late_stops")]
    return parts


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
    with workbook_in_background(out_dir / WORKBOOK, list(ctx.lists.values()), lang=language, as_of=ctx.as_of) as workbook:
        written = _write_pages(ctx, out_dir)
        written.insert(-1, workbook())  # before index.html, as listed
    archive_workbook(out_dir, ctx.as_of)
    return written


def _write_pages(ctx: _Context, out_dir: Path) -> list[Path]:
    """Every HTML page and the index; the path of index.html comes last. The pages (and the
    workbook, once written) are also kept in ``archief/<yyyy-mm>/`` so that earlier months stay
    available next to the newest."""
    data, language, names = ctx.data, ctx.lang, ctx.names
    written: list[Path] = []
    entries: list[tuple[str, str, str]] = []  # (group, file, title)
    pages: list[tuple[str, str]] = []  # (file, html)

    for code in data.municipalities:
        name = f"maandrapportage_{_slug(code)}.html"
        title = f"{label('maand_title', language)} {names.label('municipality', code)}"
        pages.append((name, maandrapportage(ctx, code, title)))
        entries.append((label("maand_title", language), name, title))
    title = f"{label('maand_title', language)} {label('region_title', language)}"
    pages.append(("maandrapportage_regio.html", maandrapportage(ctx, None, title)))
    entries.append((label("maand_title", language), "maandrapportage_regio.html", title))

    for insurer in data.insurers:
        name = f"plafondmonitor_{_slug(insurer)}.html"
        title = f"{label('plafond_title', language)} {names.label('insurer', insurer)}"
        pages.append((name, plafondmonitor(ctx, insurer, title)))
        entries.append((label("plafond_title", language), name, title))

    pages.append(("rekenfactor.html", rekenfactor_page(ctx)))
    entries.append((label("rekenfactor_title", language), "rekenfactor.html", label("rekenfactor_title", language)))
    pages.append(("datakwaliteit.html", datakwaliteit_page(ctx)))
    entries.append((label("dq_title", language), "datakwaliteit.html", label("dq_title", language)))

    month = ctx.as_of.strftime("%Y-%m")
    archive_dir = out_dir / ARCHIVE / month
    archive_dir.mkdir(parents=True, exist_ok=True)
    for name, content in pages:
        written.append(write_page(out_dir / name, content))
        write_page(archive_dir / name, content)
    months = sorted((p.name for p in (out_dir / ARCHIVE).iterdir() if p.is_dir() and re.fullmatch(r"\d{4}-\d{2}", p.name)),
                    reverse=True)
    archive = [(fmt_month(dt.date(int(m[:4]), int(m[5:]), 1), language), f"{ARCHIVE}/{m}/index.html") for m in months]
    written.append(write_page(out_dir / "index.html", index_page(ctx, entries, archive=archive)))
    archived = [(label, f"../../{href}") for label, href in archive]
    write_page(archive_dir / "index.html", index_page(ctx, entries, archive=archived))
    return written


ARCHIVE = "archief"


def archive_workbook(out_dir: Path, as_of: dt.date) -> None:
    """Copy the month's workbook next to its archived pages."""
    target = out_dir / ARCHIVE / as_of.strftime("%Y-%m") / WORKBOOK
    target.write_bytes((out_dir / WORKBOOK).read_bytes())


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
    """On a municipality's own page its own name column says nothing: leave it out."""
    return columns if municipality is None else tuple(
        c for c in columns if c.name not in ("municipality_code", "municipality_code_name"))


def _none(lang: str, nl: str, en: str) -> str:
    return nl if lang == "nl" else en


# ------------------------------------------------------------------------------ Maandrapportage


SUMMARY_COLUMNS = (C("class", "category"), C("count", "count", "int"), C("unit", "count_unit"), C("eur", "euros", "eur"))
HEADLINE_COLUMNS = (
    C("law", "law"), C("budget_eur", "budget", "eur"), C("approved_eur", "approved", "eur"),
    C("pending_eur", "pending", "eur"), C("expected_late_eur", "expected_late", "eur"),
    C("committed_eur", "committed", "eur"), C("forecast_eur", "forecast", "eur"), C("exhaustion", "exhaustion", "pct"),
)


def _law(law: str | None) -> str:
    return {"wmo": "Wmo", "jeugd": "Jeugd"}.get(law or "", law or "")


def _immature_from(as_of: dt.date, months: int = 2) -> dt.date:
    """The first month that is not yet mature (metrics.md §1: maturity_months = 2)."""
    first = dt.date(as_of.year, as_of.month, 1)
    for _ in range(months - 1):
        first = (first - dt.timedelta(days=1)).replace(day=1)
    return first


def _judged_until(as_of: dt.date, late_after_months: int = 3) -> dt.date:
    """The last day of the last month whose lines can already be judged late."""
    first = dt.date(as_of.year, as_of.month, 1)
    for _ in range(late_after_months - 1):
        first = (first - dt.timedelta(days=1)).replace(day=1)
    return first - dt.timedelta(days=1)


MUNICIPAL_CEILING_COLUMNS = (
    C("provider_agb_name", "provider"), C("ceiling_eur", "ceiling", "eur"),
    C("realised_eur", "realised", "eur", optional=True),
    C("share", "share", "pct"), C("projected_year_end_eur", "projected_year_end", "eur"),
    C("projected_run_out_date", "run_out_date", "date", blank="–"), C("above_ceiling_eur", "above_ceiling", "eur"),
    C("above_kind", "above_kind", optional=True), C("alert_label", "alert"), C("why", "why"),
)


def maandrapportage(ctx: _Context, municipality: str | None, title: str) -> str:
    lang, year = ctx.lang, ctx.year
    scope = municipality or "regio"
    allocations = ctx.data.allocations
    exhaustion = _filter(ctx.data["budget_exhaustion"], "municipality_code", municipality)
    headline = T.headline_by_law(exhaustion, year).with_columns(pl.col("law").alias("law_code"),
                                                                 pl_value_label(pl.col("law"), lang))
    timeliness = _filter(ctx.timeliness, "municipality_code", municipality)
    rejections = _filter(ctx.rejections, "municipality_code", municipality)
    lists = {k: _filter(v.frame, "municipality_code", municipality)
             for k, v in ctx.lists.items() if k in ("real_overshoots", "underused", "budget_alerts", "late")}
    summary = ctx.summary(municipality)
    underused = lists["underused"]
    changes = T.forecast_changes(ctx.data.forecast_history, ctx.as_of).filter(pl.col("scope") == "budget")
    history_known = ctx.data.forecast_history is not None

    # headline: per law the forecast against the budget, with its change since last month
    cards = []
    for row in headline.iter_rows(named=True):
        change, tone = T.change_of(changes, lang, law=row["law_code"],
                                   **({"municipality_code": municipality} if municipality else {}))
        if not change:
            change = f"{label('change_month', lang)}: {label('not_determinable', lang)}" + (
                "" if history_known else _none(lang, " (nog geen prognosehistorie)", " (no forecast history yet)"))
        e = row["exhaustion"]
        cards.append(Card(
            f"{row['law']} · {label('exhaustion', lang).lower()}",
            fmt_pct(e, lang) if e is not None else label("not_determinable", lang),
            f"{label('forecast', lang)} {fmt_eur(row['forecast_eur'], lang, 0)} / {label('budget', lang).lower()} "
            f"{fmt_eur(row['budget_eur'], lang, 0)}",
            "warn" if (e or 0) > 1 else "amber" if (e or 0) >= 0.9 else "good" if e is not None else "",
            help_text("exhaustion", lang), change, tone))
    real = summary.filter(pl.col("key") == "real_overshoots")
    cards.append(Card(label("real_overshoots", lang), fmt_num(real["count"][0], lang),
                      fmt_eur(real["eur"][0], lang, 0), "warn" if real["count"][0] > 0 else "",
                      help_text("real_overshoots", lang) + _none(
                          lang, " Staat los van de uitputting van het budget: die komt uit de prognose van alle "
                                "toewijzingen samen.",
                          " Separate from budget exhaustion, which comes from the forecast of all allocations together.")))
    cards.append(Card(_none(lang, "Onderbenutte toewijzingen", "Under-used allocations"), fmt_num(underused.height, lang),
                      f"{label('committed', lang)} {fmt_eur(underused['committed_eur'].sum(), lang, 0)}", "",
                      help_text("underuse_reason", lang)))
    headline_part = (
        cards_html(cards)
        + (table_html(headline, HEADLINE_COLUMNS, lang, order_by="forecast_eur") if not headline.is_empty()
           else none_html(_none(lang, "Geen budgetgegevens voor dit jaar.", "No budget figures for this year.")))
    )

    # pictures
    spend_providers = T.top_providers(T.region_or(allocations.spend_providers, municipality), "approved_amount_eur")
    over_providers = T.top_providers(T.region_or(allocations.overshoot_providers, municipality), "excess_eur")
    late_providers = T.top_providers(timeliness, "late_amount_eur")
    spend_providers, over_providers, late_providers = (
        with_names(f, ctx.names) for f in (spend_providers, over_providers, late_providers))
    empty_panels = [t for f, t in ((spend_providers, label("spend", lang)), (over_providers, label("overshoot_eur", lang)),
                                   (late_providers, label("late_amount", lang))) if f.is_empty()]
    cumulative = T.cumulative_spend(T.region_or(allocations.spend, municipality))
    by_category = ctx.names.add(T.by_category(exhaustion, year), "product_category", "product_category")
    cumulative_fig = F.fig_cumulative_spend(cumulative, headline.with_columns(pl.col("law_code").alias("law")),
                                            ctx.as_of, lang, immature_from=_immature_from(ctx.as_of))
    pictures = [
        figure_html(cumulative_fig, _id("maand", scope, "cumulatief"), label("no_data", lang)),
        note(_none(lang, "De grijze maanden zijn nog niet volledig: aanbieders declareren tot maanden later. "
                         "De stippellijn is de prognose tot het jaareinde (goedgekeurd + in behandeling + nog te "
                         "verwachten + verplichtingen).",
                   "The grey months are not complete yet: providers declare up to months later. The dotted line "
                   "is the forecast to year end (approved + pending + expected late + committed)."))
        if cumulative_fig is not None else "",
        figure_html(F.fig_category_spend(by_category, lang),
                    _id("maand", scope, "categorie"), _none(lang, "Geen budgetten per productcategorie: de "
                                                                  "gemeente heeft alleen budgetten per wet.",
                                                           "No budgets per product category: the municipality has "
                                                           "budgets per law only.")),
        figure_html(F.fig_top_providers(spend_providers, over_providers, late_providers, lang),
                    _id("maand", scope, "aanbieders"), label("no_data", lang)),
        note(_none(lang, f"Geen grafiek voor {', '.join(empty_panels).lower()}: geen aanbieder heeft daar een bedrag boven nul.",
                   f"No chart for {', '.join(empty_panels).lower()}: no provider has an amount above zero there."))
        if 0 < len(empty_panels) < 3 else "",
    ]

    overshoot_part = [
        table_html(summary, SUMMARY_COLUMNS, lang, interactive=False) if summary["count"].sum() > 0 else "",
        figure_html(F.fig_overshoots(summary, lang), _id("maand", scope, "overschrijdingen"),
                    _none(lang, "Geen overschrijdingen: geen maand en geen toewijzing ging boven haar maximum.",
                          "No overshoots: no month and no allocation went above its maximum.")),
        heading(label('real_overshoots', lang)),
        followup_html(lists["real_overshoots"], _local(LIST_COLUMNS["real_overshoots"], municipality), lang,
                      empty_text=_none(lang, "Geen toewijzingen met een echte totaaloverschrijding.",
                                       "No allocations with a real total overshoot."),
                      sheet=ctx.sheet("real_overshoots"), workbook=WORKBOOK, order_by="excess_eur"),
        note(
            f"Periode-overschrijdingen per maand: zie {WORKBOOK}, tabblad '{ctx.sheet('period_overshoots')}'."
            if lang == "nl" else
            f"Period overshoots per month: see {WORKBOOK}, sheet '{ctx.sheet('period_overshoots')}'."),
    ]

    # providers over their municipal ceiling (§7 with the municipality as payer)
    municipal = (ctx.ceilings.filter(pl.col("payer_kind") == "municipality")
                 if ctx.ceilings["payer_kind"].is_not_null().any()
                 else ctx.ceilings.filter(pl.col("payer_code").is_in(ctx.data.municipalities)))
    municipal = _filter(municipal, "payer_code", municipality)
    columns = MUNICIPAL_CEILING_COLUMNS if municipality else (C("payer_code_name", "municipality"), *MUNICIPAL_CEILING_COLUMNS)
    ceiling_part = [
        table_html(municipal, columns, lang, order_by="above_ceiling_eur") if not municipal.is_empty()
        else none_html(_none(lang, "Geen aanbieders met een gemeentelijk plafond.", "No providers with a municipal ceiling.")),
    ]

    by_reason = T.underuse_by_reason(underused)
    underuse_part = [
        figure_html(F.fig_underuse(by_reason, lang), _id("maand", scope, "onderbenutting"), "")
        if not underused.is_empty() else "",
        followup_html(underused, _local(LIST_COLUMNS["underused"], municipality), lang,
                      empty_text=_none(lang, "Geen onderbenutte toewijzingen.", "No under-used allocations."),
                      sheet=ctx.sheet("underused"), workbook=WORKBOOK, order_by="committed_eur"),
    ]

    provider_timeliness = (
        timeliness.group_by("provider_agb", "provider_agb_name").agg(
            pl.col("lines").sum(), pl.col("late_lines").sum(), pl.col("late_amount_eur").sum(),
            pl.col("median_lag_days").median(), pl.col("late_answers").sum(),
        ).with_columns((pl.col("late_lines") / pl.col("lines")).alias("late_share"))
    )
    rejected_by_provider = rejections.group_by("provider_agb", "provider_agb_name").agg(
        pl.col("lines").sum().alias("rejected_lines"), pl.col("amount_eur").sum().alias("rejected_eur"))
    provider_timeliness = (provider_timeliness.join(rejected_by_provider, on=["provider_agb", "provider_agb_name"],
                                                    how="full", coalesce=True)
                           .sort(["late_amount_eur", "provider_agb"], descending=[True, False], nulls_last=True))
    late_fig = F.fig_late_lines(timeliness, lang, _judged_until(ctx.as_of))
    timeliness_part = [
        figure_html(late_fig, _id("maand", scope, "tijdigheid"),
                    _none(lang, "Geen declaraties in de afgelopen twaalf maanden.",
                          "No declarations in the last twelve months.")),
        note(_none(lang, "Een regel is te laat als hij meer dan 3 maanden na het einde van zijn productperiode is "
                         "gedeclareerd; voor de grijze maanden kan dat nog niet beoordeeld worden.",
                   "A line is late when declared more than 3 months after the end of its product period; for the "
                   "grey months that cannot be judged yet.")) if late_fig is not None else "",
        figure_html(F.fig_rejected_amounts(rejections, lang), _id("maand", scope, "afwijzingen"),
                    _none(lang, "Geen afgewezen regels in de afgelopen twaalf maanden.",
                          "No rejected lines in the last twelve months.")),
        heading(_none(lang, "Per aanbieder (afgelopen twaalf maanden)", "Per provider (last twelve months)"))
        if not provider_timeliness.is_empty() else "",
        table_html(provider_timeliness, (
            C("provider_agb_name", "provider"), C("lines", "lines", "int"), C("late_lines", "late_lines", "int"),
            C("late_share", "late_share", "pct"), C("late_amount_eur", "late_amount", "eur"),
            C("median_lag_days", "median_lag_days", "num"), C("late_answers", "late_answers", "int"),
            C("rejected_lines", "rejected_lines", "int"), C("rejected_eur", "rejected_amount", "eur"),
        ), lang, order_by="late_amount_eur") if not provider_timeliness.is_empty() else "",
        heading(_none(lang, 'Late declaraties en antwoorden', 'Late declarations and answers')),
        followup_html(lists["late"], _local(LIST_COLUMNS["late"], municipality), lang,
                      empty_text=_none(lang, "Geen late declaraties of antwoorden.", "No late declarations or answers."),
                      sheet=ctx.sheet("late"), workbook=WORKBOOK, order_by="late_amount_eur"),
    ]

    budget_part = followup_html(lists["budget_alerts"], _local(LIST_COLUMNS["budget_alerts"], municipality), lang,
                                empty_text=_none(lang, "Geen budgetoverschrijding verwacht.",
                                                 "No budget overrun expected."),
                                sheet=ctx.sheet("budget_alerts"), workbook=WORKBOOK, order_by="forecast_eur")
    parts = [
        ("kerncijfers", label("headline", lang), [headline_part]),
        ("besteding", f"{label('spend', lang)} & {label('forecast', lang).lower()}", pictures),
        ("overschrijdingen", _none(lang, "Overschrijdingen", "Overshoots"), overshoot_part),
        ("plafonds", _none(lang, "Aanbieders boven hun gemeentelijk plafond", "Providers over their municipal ceiling"),
         ceiling_part),
        ("onderbenutting", _none(lang, "Onderbenutting", "Under-use"), underuse_part),
        ("tijdigheid", _none(lang, "Tijdigheid en afwijzingen", "Timeliness and rejections"), timeliness_part),
        ("rechtmatigheid", _none(lang, "Rechtmatigheid", "Lawfulness"), rechtmatigheid_part(ctx, municipality)),
        ("opvolging", label("followup", lang) + ": " + _none(lang, "budgetsignalen", "budget alerts"), [budget_part]),
    ]
    sections = [section_html(t, *ps, section_id=i) for i, t, ps in parts]
    return page_html(title, _subtitle(ctx), sections, lang, toc=[(i, t) for i, t, _ in parts], footer=_footer(ctx))


CEILING_COLUMNS = (
    C("provider_agb_name", "provider"), C("ceiling_eur", "ceiling", "eur"), C("realised_eur", "realised", "eur"),
    C("share", "share", "pct"), C("expected_late_eur", "expected_late", "eur", optional=True),
    C("projected_year_end_eur", "projected_year_end", "eur"), C("change_eur", "change_month_eur", "eur", blank="–"),
    C("projected_run_out_date", "run_out_date", "date", blank="–"),
    C("above_ceiling_eur", "above_ceiling", "eur"), C("alert_label", "alert"),
    C("request_increase_by", "request_by", "date", blank="–", optional=True),
)


def _page(columns: tuple[C, ...]) -> tuple[C, ...]:
    """On an insurer's page the payer and the year are the page's own: leave them out."""
    return tuple(c for c in columns if c.name not in ("payer_code", "payer_code_name", "year"))


def plafondmonitor(ctx: _Context, insurer: str, title: str) -> str:
    lang, year = ctx.lang, ctx.year
    changes = T.forecast_changes(ctx.data.forecast_history, ctx.as_of).filter(
        pl.col("scope") == "ceiling", pl.col("payer_code") == insurer)
    table = ctx.ceilings.filter(pl.col("payer_code") == insurer).join(
        changes.select("provider_agb", "previous_eur", "change_eur"), on="provider_agb", how="left",
        maintain_order="left")
    alerts = ctx.lists["ceiling_alerts"].frame.filter(pl.col("payer_code") == insurer)
    monthly = ctx.data["hours_per_client_month"].filter(
        pl.col("payer_code") == insurer, pl.col("month").dt.year() == year, pl.col("month") <= ctx.as_of)
    agreement = ctx.data["hours_agreement"].filter(pl.col("payer_code") == insurer, pl.col("year") == year)
    over_agreement = ctx.lists["hours_agreement"].frame.filter(pl.col("payer_code") == insurer)
    cumulative = T.cumulative_by_provider(ctx.data.realisation.filter(pl.col("insurer_code") == insurer))

    ceiling_sum, realised_sum = table["ceiling_eur"].sum(), table["realised_eur"].sum()
    projected = table["projected_year_end_eur"].sum()
    change, tone = T.change_of(changes, lang)
    if not change:
        change = f"{label('change_month', lang)}: {label('not_determinable', lang)}"
    alert_counts = ", ".join(f"{n}× {a}" for a, n in alerts.group_by("alert_label").len().sort("alert_label").iter_rows())
    cards = [
        Card(label("providers_alert", lang), fmt_num(alerts.height, lang),
             f"{alert_counts or label('none', lang)} ({_none(lang, 'van', 'of')} {fmt_num(table.height, lang)})",
             "warn" if alerts.height else "good", help_text("alert", lang)),
        Card(label("realised", lang), fmt_pct(realised_sum / ceiling_sum, lang) if ceiling_sum else label("not_determinable", lang),
             f"{fmt_eur(realised_sum, lang, 0)} / {fmt_eur(ceiling_sum, lang, 0)}", "", help_text("share", lang)),
        Card(label("projected_year_end", lang), fmt_eur(projected, lang, 0),
             f"{fmt_pct(projected / ceiling_sum, lang)} {_none(lang, 'van de plafonds', 'of the ceilings')}" if ceiling_sum else "",
             "warn" if ceiling_sum and projected > ceiling_sum else "", help_text("projected_year_end", lang), change, tone),
        Card(label("above_ceiling", lang), fmt_eur(table["above_ceiling_eur"].sum(), lang, 0), "",
             "warn" if table["above_ceiling_eur"].sum() > 0 else "", help_text("above_ceiling", lang)),
        Card(label("expected_reclaim", lang), fmt_eur(agreement["expected_reclaim_eur"].sum(), lang, 0),
             label("urenafspraak", lang), "warn" if agreement["expected_reclaim_eur"].sum() > 0 else "",
             help_text("expected_reclaim", lang)),
    ]
    headline_part = cards_html(cards) + (
        table_html(table, CEILING_COLUMNS, lang, order_by=False) if not table.is_empty()
        else none_html(_none(lang, "Geen plafonds voor deze verzekeraar in dit jaar.",
                             "No ceilings for this insurer this year.")))
    headline_part += note(_none(lang, "Gesorteerd op urgentie: bereikt, dan prognose boven plafond (vroegste datum "
                                      "eerst), dan 90% en 70%. Klik op een kolomkop om anders te sorteren.",
                                "Sorted by urgency: reached, then projected over (earliest date first), then 90% "
                                "and 70%. Click a column header to sort otherwise."))
    more = table.height - 12
    history = None if ctx.data.forecast_history is None else with_names(ctx.data.forecast_history.filter(
        pl.col("scope") == "ceiling", pl.col("payer_code") == insurer), ctx.names)
    pictures = [
        figure_html(F.fig_cumulative_realisation(cumulative, table, year, lang), _id("plafond", insurer, "cumulatief"),
                    _none(lang, "Geen plafonds om te tonen.", "No ceilings to show.")),
        (note(_none(lang, f"De {more} minst urgente aanbieders staan alleen in de tabel.",
                    f"The {more} least urgent providers are only in the table.")) if more > 0 else ""),
        heading(label('hours_per_client', lang)),
        figure_html(F.fig_hours_per_client(monthly, agreement, lang, immature_from=_immature_from(ctx.as_of)),
                    _id("plafond", insurer, "uren"),
                    _none(lang, "Geen uren per cliënt in dit jaar.", "No hours per client this year.")),
        note(_none(lang, "Grijs gestippeld: maanden die nog niet volledig gedeclareerd zijn; die punten zakken daardoor vaak.",
                   "Grey dotted: months not fully declared yet; those points often drop for that reason.")),
        table_html(agreement.sort(["expected_reclaim_eur", "provider_agb"], descending=[True, False], nulls_last=True),
                   _page(LIST_COLUMNS["hours_agreement"])[:-1], lang, order_by="expected_reclaim_eur")
        if not agreement.is_empty() else "",
    ]
    history_part = [
        figure_html(F.fig_forecast_history(history, table, year, lang) if history is not None else None,
                    _id("plafond", insurer, "prognosehistorie"),
                    _none(lang, "Niet te bepalen: de prognosehistorie (marts.forecast_history) is nog niet berekend.",
                          "Not determinable: the forecast history (marts.forecast_history) has not been computed yet.")),
        heading(label("backtest", lang) + f" {year - 1}"),
        _backtest_part(history, year - 1, lang),
    ]
    followup = [
        heading(f"{label('plafond_title', lang)}: {label('alert', lang).lower()}"),
        followup_html(alerts, _page(LIST_COLUMNS["ceiling_alerts"]), lang,
                      empty_text=_none(lang, "Geen plafondsignalen: alle aanbieders blijven binnen hun plafond.",
                                       "No ceiling alerts: every provider stays within its ceiling."),
                      sheet=ctx.sheet("ceiling_alerts"), workbook=WORKBOOK, order_by="above_ceiling_eur"),
        heading(label('urenafspraak', lang)),
        followup_html(over_agreement, _page(LIST_COLUMNS["hours_agreement"]), lang,
                      empty_text=_none(lang, "Geen overschrijding van de urenafspraak.",
                                       "No provider above its hours agreement."),
                      sheet=ctx.sheet("hours_agreement"), workbook=WORKBOOK, order_by="expected_reclaim_eur"),
    ]
    parts = [
        ("kerncijfers", label("headline", lang), [headline_part]),
        ("grafieken", label("pictures", lang), pictures),
        ("prognose", label("forecast_history", lang), history_part),
        ("opvolging", label("followup", lang), followup),
    ]
    sections = [section_html(t, *ps, section_id=i) for i, t, ps in parts]
    return page_html(title, _subtitle(ctx), sections, lang, toc=[(i, t) for i, t, _ in parts], footer=_footer(ctx))


BACKTEST_COLUMNS = (
    C("months_before_year_end", "months_before_year_end", "int"), C("forecast_as_of", "forecast_as_of", "date"),
    C("projected_eur", "projected_year_end", "eur"), C("outcome_eur", "outcome", "eur"),
    C("error_eur", "change", "eur"), C("abs_pct_error", "abs_pct_error", "pct"),
)


def _backtest_part(history: pl.DataFrame | None, year: int, lang: str) -> str:
    """How far the projection was from the outcome at each horizon of the last complete year:
    the errors summed over the providers."""
    if history is None:
        return none_html(_none(lang, "Niet te bepalen: de prognosehistorie ontbreekt nog.",
                               "Not determinable: the forecast history is missing."))
    last = history.filter(pl.col("year") == year, pl.col("outcome_eur").is_not_null())
    if last.is_empty():
        return none_html(_none(lang, f"Niet te bepalen: geen afgesloten jaar {year} met een uitkomst.",
                               f"Not determinable: no completed year {year} with an outcome."))
    by_horizon = (last.group_by("forecast_as_of", "months_before_year_end")
                  .agg(pl.col("projected_eur").sum(), pl.col("outcome_eur").sum())
                  .with_columns((pl.col("projected_eur") - pl.col("outcome_eur")).alias("error_eur"))
                  .with_columns((pl.col("error_eur").abs() / pl.col("outcome_eur")).alias("abs_pct_error"))
                  .sort("forecast_as_of"))
    return table_html(by_horizon, BACKTEST_COLUMNS, lang, order_by="months_before_year_end") + note(_none(
        lang, "Per maandeinde van vorig jaar: de prognose van het jaartotaal van alle aanbieders samen, de uitkomst "
              "zoals nu bekend, en het verschil (prognose − uitkomst).",
        "Per month end of last year: the projection of all providers' year total, the outcome as known now, and "
        "the difference (projection − outcome)."))


# ----------------------------------------------------------------------------- Rekenfactor page


RF_COLUMNS = (
    C("product_code_name", "product_code"), C("allocations", "allocations", "int"),
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
    band_help = _none(lang, "Onder band: minder uren per week dan de ondergrens van het product; laag, midden, hoog: "
                            "het onderste, middelste en bovenste derde van de band; boven band: meer dan de bovengrens.",
                      "Below band: fewer hours a week than the product's lower bound; low, mid, high: the lower, "
                      "middle and upper third of the band; above band: more than the upper bound.")
    cards = [Card(_none(lang, "Toewijzingen met een band", "Allocations with a band"), fmt_num(total, lang),
                  _none(lang, "met minstens 4 weken in volwassen maanden", "with at least 4 weeks in mature months"),
                  "", band_help)]
    for cls in F.BAND_CLASSES:
        n = overall_class.filter(pl.col("band_class") == cls)["len"].sum()
        cards.append(Card(label(f"band_{cls}", lang), fmt_pct(n / total, lang) if total else label("not_determinable", lang),
                          f"{fmt_num(n, lang)} {_none(lang, 'toewijzingen', 'allocations')}"))
    indicated, realised = effects["indicated_hours"].sum(), effects["realised_hours"].sum()
    if indicated:
        cards.append(Card(label("implied_rf", lang), fmt_num(realised / indicated, lang, 2),
                          f"{label('unused_share', lang)} {fmt_pct(1 - realised / indicated, lang)}; "
                          f"{fmt_num(effects['allocations'].sum(), lang)} {_none(lang, 'toewijzingen (ook in uren, zonder band)', 'allocations (also in hours, without a band)')}",
                          "", help_text("implied_rf", lang)))
    cards.append(Card(label("budget_effect", lang), fmt_eur(effects["budget_effect_eur"].sum(), lang, 0),
                      _none(lang, "per jaar bij de rekenfactor die de regelaar onder de grafiek kiest (eerst: de "
                                  "impliciete)", "a year at the rekenfactor the slider below the chart chooses "
                                  "(first: the implied one)"), "", help_text("budget_effect", lang),
                      value_id=F.RF_TOTAL_ID))
    headline = cards_html(cards) + (
        table_html(effects, RF_COLUMNS, lang, order_by="budget_effect_eur", ascending=True,
                   note_text=_none(lang, "Gesorteerd op budgeteffect: de grootste besparing bij de impliciete "
                                         "rekenfactor eerst.", "Sorted by budget effect: the largest saving at the "
                                         "implied rekenfactor first.")) if not effects.is_empty()
        else none_html(_none(lang, "Geen rekenfactorgegevens.", "No rekenfactor figures.")))

    share_table = shares.pivot(on="band_class", index="product_code", values="share").sort("product_code")
    share_table = ctx.names.add(share_table, "product", "product_code")
    share_table = share_table.with_columns(
        pl.lit(None, dtype=pl.Float64).alias(c) for c in F.BAND_CLASSES if c not in share_table.columns
    ).with_columns(pl.col(c).fill_null(0.0) for c in F.BAND_CLASSES)
    band_part = [
        figure_html(F.fig_band_positions(band, lang), "rekenfactor-bandpositie",
                    _none(lang, "Geen toewijzingen met een band.", "No allocations with a band.")),
        figure_html(F.fig_band_classes(shares, lang), "rekenfactor-bandklassen",
                    _none(lang, "Geen toewijzingen met een band.", "No allocations with a band.")),
        table_html(share_table, (C("product_code_name", "product_code"),
                                 *(C(c, f"band_{c}", "pct") for c in F.BAND_CLASSES)), lang)
        if not share_table.is_empty() else "",
    ]
    rf_part = [
        note(_none(
            lang,
            "Het budgeteffect = goedgekeurd bedrag × (rekenfactor ÷ contract-rekenfactor − 1). "
            "Schuif met de regelaar om een andere rekenfactor te proberen.",
            "Budget effect = approved amount × (rekenfactor ÷ contract rekenfactor − 1). "
            "Move the slider to try another rekenfactor.")),
        figure_html(F.fig_rekenfactor(effects, lang), "rekenfactor-effect",
                    _none(lang, "Geen rekenfactorgegevens.", "No rekenfactor figures.")),
    ]
    by_municipality = rf.filter(pl.col("grain") == "product_municipality").sort("municipality_code", "product_code")
    by_provider = (rf.filter(pl.col("grain") == "product_provider")
                   .sort(pl.col("budget_effect_eur").abs(), "provider_agb", descending=[True, False]))
    grain_part = [
        heading(_none(lang, 'Per gemeente', 'Per municipality')),
        table_html(by_municipality, (C("municipality_code_name", "municipality"), *RF_COLUMNS), lang)
        if not by_municipality.is_empty() else none_html(label("none", lang)),
        heading(_none(lang, 'Per aanbieder (grootste budgeteffect eerst)', 'Per provider (largest budget effect first)')),
        table_html(by_provider, (C("provider_agb_name", "provider"), *RF_COLUMNS), lang, limit=20)
        if not by_provider.is_empty() else none_html(label("none", lang)),
    ]
    practice = F.indication_practice(band)
    practice_named = with_names(ctx.names.add(practice, "product", "product_code"), ctx.names)
    municipality_names = dict(zip(practice_named["municipality_code"].to_list(),
                                  practice_named["municipality_code_name"].to_list()))
    practice_part = [
        figure_html(F.fig_indication_practice(practice, lang, municipality_names), "rekenfactor-indicatiepraktijk",
                    _none(lang, "Geen toewijzingen met een band per gemeente.", "No allocations with a band per municipality.")),
        table_html(practice_named, (C("product_code_name", "product_code"), C("municipality_code_name", "municipality"),
                                    C("allocations", "allocations", "int"), C("median", "band_position", "num2"),
                                    C("median_hours", "hours_per_week", "num2"), C("below_share", "band_below", "pct")),
                   lang, order_by="allocations",
                   note_text=_none(lang, "Voor hetzelfde product: waar de gemeenten hun cliënten in de band laten landen "
                                         "(mediaan) en hoeveel er onder de band blijven. Verschillen tussen gemeenten zijn "
                                         "het begin van een gesprek over de rekenfactor.",
                                   "For the same product: where each municipality's clients land in the band (median) "
                                   "and how many stay below it. Differences between municipalities start a rekenfactor "
                                   "discussion."))
        if not practice.is_empty() else "",
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
        section_html(_none(lang, "Indicatiepraktijk per gemeente", "Indication practice per municipality"),
                     *practice_part, section_id="indicatiepraktijk"),
        section_html("Disharmonisch factureren", *peak_part, section_id="pieken"),
    ]
    return page_html(label("rekenfactor_title", lang), _subtitle(ctx), sections, lang)


# --------------------------------------------------------------------------- Datakwaliteit page


FILE_MONTH = r"(\d{4}-\d{2})"


def datakwaliteit_page(ctx: _Context) -> str:
    lang = ctx.lang
    summary = ctx.data["quarantine_summary"].with_columns(
        (pl.col("rows_received") == pl.col("rows_loaded") + pl.col("rows_quarantined")).alias("_reconciles"),
        pl.when(pl.col("rows_received") > 0).then(pl.col("rows_quarantined") / pl.col("rows_received")).alias("q_share"),
        # the month a file is about: from its name (…_2026-03.csv), else the month it was received
        pl.coalesce(pl.col("source_file").str.extract(FILE_MONTH, 1),
                    pl.col("loaded_at").dt.strftime("%Y-%m")).alias("file_month"),
        pl_value_label(pl.col("status"), lang).alias("status_label"),
        pl_value_label(pl.col("kind"), lang).alias("kind_label"),
    ).with_columns(
        pl.when(pl.col("_reconciles")).then(pl.lit(label("yes", lang))).otherwise(pl.lit(label("no", lang))).alias("reconciles"),
        pl.col("file_month").str.to_date("%Y-%m", strict=False).alias("month"),
    )
    reasons = ctx.data["quarantine_reasons"].sort(
        ["rows", "source_file", "reason_code"], descending=[True, False, False], nulls_last=True).with_columns(
        pl.struct("reason_code", "reason_text").map_elements(
            lambda r: reason_text(r["reason_code"], r["reason_text"], lang), return_dtype=pl.String).alias("reason_label"))
    refused = ctx.data.refused_files
    detail = ctx.data.refused_detail
    if detail is not None and not detail.is_empty():
        refused = detail.with_columns(
            pl.struct("reason_code", "message").map_elements(
                lambda r: reason_text(r["reason_code"] or "unreadable", r["message"], lang),
                return_dtype=pl.String).alias("reason_label"),
            pl.col("message").alias("technical"))
    else:
        refused = refused.with_columns(pl.col("reason_text").alias("technical"),
                                       pl.lit(reason_text("unreadable", None, lang)).alias("reason_label"))
    rejections, timeliness = ctx.rejections, ctx.timeliness
    not_reconciled = summary.filter(~pl.col("_reconciles")).height
    received = summary["rows_received"].sum()
    cards = [
        Card(label("files", lang), fmt_num(summary.height, lang), f"{fmt_num(received, lang)} {_none(lang, 'rijen ontvangen', 'rows received')}"),
        Card(label("rows_quarantined", lang), fmt_num(summary["rows_quarantined"].sum(), lang),
             fmt_pct(summary["rows_quarantined"].sum() / received, lang, 2) + _none(lang, " van de ontvangen rijen", " of the rows received")
             if received else "", "amber" if summary["rows_quarantined"].sum() > 0 else "good",
             help_text("rows_quarantined", lang)),
        Card(_none(lang, "Sluit niet aan", "Does not reconcile"), fmt_num(not_reconciled, lang),
             _none(lang, "bestanden waar ontvangen ≠ geladen + quarantaine", "files where received ≠ loaded + quarantined"),
             "warn" if not_reconciled else "good"),
        Card(label("files_refused", lang), fmt_num(refused.height, lang),
             _none(lang, "onleesbaar of geen export; apart gezet", "unreadable or not an export; moved aside"),
             "warn" if refused.height else "good"),
        Card(label("rejected_lines", lang), fmt_num(rejections["lines"].sum(), lang),
             f"{fmt_eur(rejections['amount_eur'].sum(), lang, 0)}, {_none(lang, 'afgelopen 12 maanden', 'last 12 months')}",
             "", help_text("rejected_lines", lang)),
        Card(label("late_answers", lang), fmt_num(timeliness["late_answers"].sum(), lang),
             _none(lang, "afgelopen 12 maanden", "last 12 months"), "amber" if timeliness["late_answers"].sum() else "good",
             help_text("late_answers", lang)),
    ]
    by_kind = (summary.group_by("kind", "month")
               .agg(pl.len().alias("files"), pl.col("rows_received").sum(), pl.col("rows_loaded").sum(),
                    pl.col("rows_quarantined").sum())
               .with_columns(pl.when(pl.col("rows_received") > 0)
                             .then(pl.col("rows_quarantined") / pl.col("rows_received")).alias("q_share"),
                             pl_value_label(pl.col("kind"), lang).alias("kind_label"))
               .sort("month", "kind", descending=[True, False], nulls_last=True))
    problems = summary.filter((pl.col("rows_quarantined") > 0) | ~pl.col("_reconciles") | (pl.col("status") != "loaded"))
    problem_reasons = (reasons.group_by("source_file")
                       .agg(pl.col("reason_label").unique().sort().str.join("; ").alias("reasons")))
    problems = problems.join(problem_reasons, on="source_file", how="left").sort(
        ["rows_quarantined", "source_file"], descending=[True, False])
    files_part = [
        heading(label("per_kind_month", lang)),
        figure_html(F.fig_quarantine_by_kind(by_kind, lang), "datakwaliteit-soorten", label("no_data", lang)),
        table_html(by_kind, (C("kind_label", "kind"), C("month", "month", "month"), C("files", "files", "int"),
                             C("rows_received", "rows_received", "int"), C("rows_loaded", "rows_loaded", "int"),
                             C("rows_quarantined", "rows_quarantined", "int"), C("q_share", "share", "pct")), lang,
                   order_by="rows_quarantined")
        if not by_kind.is_empty() else none_html(_none(lang, "Geen bestanden ontvangen.", "No files received.")),
        note(_none(lang, "De maand komt uit de bestandsnaam (bijvoorbeeld _2026-03), anders de maand van ontvangst.",
                   "The month comes from the file name (for example _2026-03), else the month received.")),
        heading(label("files_with_problem", lang) + f" ({fmt_num(problems.height, lang)} {_none(lang, 'van', 'of')} {fmt_num(summary.height, lang)})"),
        table_html(problems, (C("source_file", "source_file"), C("kind_label", "kind"),
                              C("rows_received", "rows_received", "int"), C("rows_loaded", "rows_loaded", "int"),
                              C("rows_quarantined", "rows_quarantined", "int"), C("q_share", "share", "pct"),
                              C("reconciles", "reconciles"), C("reasons", "reason")), lang, order_by="rows_quarantined")
        if not problems.is_empty() else none_html(_none(lang, "Geen bestanden met een probleem: elk bestand is volledig geladen.",
                                                        "No files with a problem: every file loaded in full.")),
        heading(label('files_refused', lang)),
        (render("""<table class="plain"><thead><tr><th>{{ h_file }}</th><th>{{ h_reason }}</th></tr></thead><tbody>
{% for f, r, t in rows %}<tr><td>{{ f }}</td><td>{{ r }}<details><summary>{{ h_tech }}</summary><code>{{ t }}</code></details></td></tr>
{% endfor %}</tbody></table>""", h_file=label("source_file", lang), h_reason=label("reason", lang),
                h_tech=label("technical_detail", lang),
                rows=list(refused.select("source_file", "reason_label", pl.col("technical").fill_null("")).iter_rows()))
         + note(_none(lang, "Het bestand staat in data/refused/; herstel het en zet het terug in de inbox.",
                      "The file is in data/refused/; fix it and put it back in the inbox.")))
        if not refused.is_empty() else none_html(_none(lang, "Geen geweigerde bestanden.", "No refused files.")),
        heading(_none(lang, 'Quarantaine per reden', 'Quarantine by reason')),
        figure_html(F.fig_quarantine_reasons(reasons, lang), "datakwaliteit-redenen",
                    _none(lang, "Geen rijen in quarantaine.", "No quarantined rows.")),
        table_html(reasons, (C("source_file", "source_file"), C("reason_label", "reason_text"), C("rows", "rows", "int")),
                   lang, order_by="rows") if not reasons.is_empty() else "",
    ]
    by_code = (rejections.group_by("return_code", "return_code_name", "category")
               .agg(pl.col("lines").sum(), pl.col("amount_eur").sum())
               .sort(["amount_eur", "return_code"], descending=[True, False]))
    answers = (timeliness.group_by("provider_agb", "provider_agb_name", "municipality_code", "municipality_code_name")
               .agg(pl.col("lines").sum(), pl.col("late_answers").sum())
               .filter(pl.col("late_answers") > 0)
               .with_columns(pl.concat_str([
                   pl.col("late_answers").cast(pl.String),
                   pl.lit(" van " if lang == "nl" else " of "),
                   pl.col("lines").cast(pl.String),
                   pl.lit(" regels zonder tijdig antwoord" if lang == "nl" else " lines without a timely answer"),
               ]).alias("why"))
               .sort(["late_answers", "provider_agb", "municipality_code"], descending=[True, False, False]))
    once = _none(lang, "Elke afgewezen regel telt één keer, onder zijn eerste (primaire) retourcode.",
                 "Each rejected line counts once, under its first (primary) return code.") if ctx.primary_known else _none(
        lang, "Let op: een regel met meerdere retourcodes telt hier onder elke code (de primaire code is nog niet bekend).",
        "Note: a line with several return codes counts under each code here (the primary code is not known yet).")
    rejection_part = [
        figure_html(F.fig_rejections(rejections, lang), "datakwaliteit-afwijzingen",
                    _none(lang, "Geen afgewezen regels in de afgelopen twaalf maanden.",
                          "No rejected lines in the last twelve months.")),
        table_html(by_code, (C("return_code_name", "return_code"), C("category", "category"),
                             C("lines", "rejected_lines", "int"), C("amount_eur", "rejected_amount", "eur")), lang,
                   order_by="amount_eur", note_text=once)
        if not by_code.is_empty() else "",
    ]
    late_sheet = ctx.lists["late"]
    answer_part = [
        figure_html(F.fig_late_answers(timeliness, lang), "datakwaliteit-antwoorden",
                    _none(lang, "Geen late of ontbrekende antwoorden.", "No late or missing answers.")),
        table_html(answers, (C("provider_agb_name", "provider"), C("municipality_code_name", "municipality"),
                             C("lines", "lines", "int"), C("late_answers", "late_answers", "int"), C("why", "why")),
                   lang, order_by="late_answers",
                   note_text=_none(lang, f"Per aanbieder, gemeente en maand staan ze in {WORKBOOK}, tabblad "
                                         f"'{late_sheet.sheet}' ({fmt_num(late_sheet.frame.height, lang)} rijen, samen "
                                         "met de te laat gedeclareerde regels).",
                                   f"Per provider, municipality and month they are in {WORKBOOK}, sheet "
                                   f"'{late_sheet.sheet}' ({fmt_num(late_sheet.frame.height, lang)} rows, together "
                                   "with the lines declared late)."))
        if not answers.is_empty() else none_html(_none(lang, "Geen late of ontbrekende antwoorden.", "No late or missing answers.")),
    ]
    parts = [
        ("kerncijfers", label("headline", lang), [cards_html(cards)]),
        ("bestanden", _none(lang, "Ontvangen, geladen en quarantaine", "Received, loaded and quarantined"), files_part),
        ("afwijzingen", _none(lang, "Afgewezen declaratieregels", "Rejected declaration lines"), rejection_part),
        ("antwoorden", label("late_answers", lang), answer_part),
    ]
    sections = [section_html(t, *ps, section_id=i) for i, t, ps in parts]
    return page_html(label("dq_title", lang), _subtitle(ctx), sections, lang, toc=[(i, t) for i, t, _ in parts],
                     footer=_footer(ctx))


# ---------------------------------------------------------------------------------------- index

INDEX_TILES = """
<p class="note">{{ thresholds }}</p>
{% for group in groups %}
<h3>{{ group.title }}</h3>
<div class="grid">
{% for t in group.tiles %}
<div class="tile">
  <h3><span class="light {{ t.light }}" title="{{ t.light_text }}"></span><a href="{{ t.href }}">{{ t.name }}</a></h3>
  {% for line in t.lines %}<p>{{ line }}</p>{% endfor %}
  {% if t.change %}<p><strong>{{ t.change }}</strong></p>{% endif %}
</div>
{% endfor %}
</div>
{% endfor %}
"""

INDEX_CHANGES = """
{% if changes %}
<ol class="changes">{% for c in changes %}
<li><a href="{{ c.href }}">{{ c.scope }}</a>: {{ c.text }}</li>{% endfor %}
</ol>
{% endif %}
<p class="note">{{ explanation }}</p>
"""

INDEX_LINKS = """
{% for group, items in groups %}
<h3>{{ group }}</h3>
<ul>{% for href, title in items %}<li><a href="{{ href }}">{{ title }}</a></li>{% endfor %}</ul>
{% endfor %}
<h3>{{ workbook_title }}</h3>
<p><a href="{{ workbook }}">{{ workbook }}</a></p>
<ul>{% for sheet, n, meaning in lists %}<li><strong>{{ sheet }}</strong>: {{ n }}. {{ meaning }}</li>{% endfor %}</ul>
"""

INDEX_ARCHIVE = """
{% if months %}
<ul>{% for month, href in months %}<li><a href="{{ href }}">{{ month }}</a></li>{% endfor %}</ul>
{% else %}<p class="none">{{ empty }}</p>{% endif %}
"""


def _light(level: int) -> str:
    return {0: "green", 1: "amber", 2: "red"}.get(level, "grey")


def municipality_status(ctx: _Context, code: str) -> tuple[int, list[str]]:
    """Traffic light (0 green, 1 amber, 2 red, -1 unknown) and status lines of a municipality."""
    lang = ctx.lang
    headline = T.headline_by_law(_filter(ctx.data["budget_exhaustion"], "municipality_code", code), ctx.year)
    lines, level = [], -1
    for row in headline.iter_rows(named=True):
        e = row["exhaustion"]
        if e is None:
            lines.append(f"{row['law'].capitalize()}: {label('exhaustion', lang).lower()} {label('not_determinable', lang)}")
            continue
        level = max(level, 2 if e > 1 else 1 if e >= 0.9 else 0)
        lines.append(f"{row['law'].capitalize()}: {label('exhaustion', lang).lower()} {fmt_pct(e, lang, 0)} "
                     f"({label('forecast', lang).lower()} {fmt_eur(row['forecast_eur'], lang, 0)})")
    ceilings = ctx.ceilings.filter(pl.col("payer_code") == code, pl.col("alert").is_in(["reached", "projected_over"]))
    if ceilings.height:
        level = max(level, 2)
        lines.append(_none(lang, f"{ceilings.height} aanbieder(s) boven of op weg naar het gemeentelijk plafond",
                           f"{ceilings.height} provider(s) over or heading over the municipal ceiling"))
    real = ctx.lists["real_overshoots"].frame.filter(pl.col("municipality_code") == code).height
    if real:
        lines.append(_none(lang, f"{real} toewijzingen met een echte totaaloverschrijding",
                           f"{real} allocations with a real total overshoot"))
    return level, lines


def insurer_status(ctx: _Context, code: str) -> tuple[int, list[str]]:
    lang = ctx.lang
    table = ctx.ceilings.filter(pl.col("payer_code") == code)
    if table.is_empty():
        return -1, [_none(lang, "geen plafonds dit jaar", "no ceilings this year")]
    counts = dict(table.group_by("alert").len().iter_rows())
    red = counts.get("reached", 0) + counts.get("projected_over", 0)
    amber = counts.get("90", 0) + counts.get("70", 0)
    level = 2 if red else 1 if amber else 0
    lines = [_none(lang, f"{table.height} aanbieders; {red} boven of op weg naar het plafond, {amber} boven 70%",
                   f"{table.height} providers; {red} over or heading over the ceiling, {amber} above 70%")]
    above = table["above_ceiling_eur"].sum()
    if above:
        lines.append(f"{label('above_ceiling', lang)}: {fmt_eur(above, lang, 0)}")
    return level, lines


def index_page(ctx: _Context, entries: list[tuple[str, str, str]], *, archive: list[tuple[str, str]],
               prefix: str = "") -> str:
    """The landing page: status per municipality and insurer, the month's largest changes, links,
    the follow-up workbook and the archive of earlier months. ``prefix`` leads to the files from
    where the page lies (an archived copy sits two folders down)."""
    lang = ctx.lang
    files = {file: title for _, file, title in entries}
    changes = T.forecast_changes(ctx.data.forecast_history, ctx.as_of)
    tiles_m, tiles_i = [], []
    light_text = {2: _none(lang, "rood", "red"), 1: _none(lang, "oranje", "amber"), 0: _none(lang, "groen", "green"),
                  -1: _none(lang, "niet te bepalen", "not determinable")}
    for code in ctx.data.municipalities:
        level, lines = municipality_status(ctx, code)
        file = f"maandrapportage_{_slug(code)}.html"
        tiles_m.append({"name": ctx.names.label("municipality", code), "href": prefix + file, "light": _light(level),
                        "light_text": light_text[level], "lines": lines,
                        "change": T.change_line(changes, "budget", code, lang)})
    for code in ctx.data.insurers:
        level, lines = insurer_status(ctx, code)
        file = f"plafondmonitor_{_slug(code)}.html"
        tiles_i.append({"name": ctx.names.label("insurer", code), "href": prefix + file, "light": _light(level),
                        "light_text": light_text[level], "lines": lines,
                        "change": T.change_line(changes, "ceiling", code, lang)})
    thresholds = _none(
        lang,
        "Stoplicht. Gemeente: rood = prognose boven budget (uitputting > 100%) of een aanbieder boven of op weg "
        "naar het gemeentelijk plafond; oranje = uitputting 90–100%; groen = onder 90%. Verzekeraar: rood = een "
        "aanbieder heeft het plafond bereikt of gaat er volgens de prognose overheen; oranje = een aanbieder heeft "
        "70% of 90% gerealiseerd; groen = alle aanbieders daaronder. Grijs = niet te bepalen (geen budget of plafond).",
        "Traffic light. Municipality: red = forecast above budget (exhaustion > 100%) or a provider over or heading "
        "over the municipal ceiling; amber = exhaustion 90–100%; green = below 90%. Insurer: red = a provider "
        "reached its ceiling or is projected over it; amber = a provider realised 70% or 90%; green = all below. "
        "Grey = not determinable (no budget or ceiling).")
    groups = [g for g in (
        {"title": label("maand_title", lang) + " · " + _none(lang, "gemeenten", "municipalities"), "tiles": tiles_m},
        {"title": label("plafond_title", lang) + " · " + _none(lang, "zorgverzekeraars", "insurers"), "tiles": tiles_i},
    ) if g["tiles"]]
    status = render(INDEX_TILES, thresholds=thresholds, groups=groups)

    top = T.top_changes(changes, 3)
    change_items = []
    for row in top.iter_rows(named=True):
        if row["scope"] == "budget":
            file = f"maandrapportage_{_slug(row['municipality_code'])}.html#kerncijfers"
            scope = f"{ctx.names.label('municipality', row['municipality_code'])}, {_law(row['law'])}"
        else:
            file = f"plafondmonitor_{_slug(row['payer_code'])}.html#kerncijfers"
            scope = f"{ctx.names.label('insurer', row['payer_code'])}: {ctx.names.label('provider', row['provider_agb'])}"
        change_items.append({"href": prefix + file, "scope": scope, "text": T.change_text(row, lang)})
    if ctx.data.forecast_history is None:
        explanation = _none(
            lang, "Niet te bepalen: de prognosehistorie (marts.forecast_history) is nog niet berekend.",
            "Not determinable: the forecast history (marts.forecast_history) has not been computed yet.")
    elif not change_items:
        explanation = _none(lang, "Geen prognose van vorige maand om mee te vergelijken.",
                            "No forecast of last month to compare with.")
    else:
        explanation = _none(
            lang, "De drie prognoses (budget per gemeente en wet, plafond per aanbieder) die het meest veranderden "
                  "sinds de vorige maandeinde, in euro's. Klik door naar de kerncijfers.",
            "The three forecasts (budget per municipality and law, ceiling per provider) that moved most since "
            "the previous month end, in euros. Click through to the headline figures.")
    changes_part = render(INDEX_CHANGES, changes=change_items, explanation=explanation)

    groups_links: dict[str, list[tuple[str, str]]] = {}
    for group, file, title in entries:
        groups_links.setdefault(group, []).append((prefix + file, title))
    def count(item: FollowUpList) -> str:
        text = fmt_num(item.frame.height, lang) + " " + _none(lang, "rijen", "rows")
        if item.key == "ceiling_alerts" and item.frame.height:
            insurers = item.frame.filter(pl.col("payer_code").is_in(ctx.data.insurers)).height
            text += _none(lang, f" ({insurers} bij zorgverzekeraars, {item.frame.height - insurers} bij gemeentelijke "
                                "plafonds)", f" ({insurers} of insurers, {item.frame.height - insurers} of municipal "
                                "ceilings)")
        return text

    lists = [(item.sheet, count(item), LIST_MEANING[item.key][0 if lang == "nl" else 1]) for item in ctx.lists.values()]
    links_part = render(INDEX_LINKS, groups=list(groups_links.items()), workbook_title=label("workbook", lang),
                        workbook=prefix + WORKBOOK, lists=lists)
    archive_part = render(INDEX_ARCHIVE, months=archive,
                          empty=_none(lang, "Nog geen eerdere maanden.", "No earlier months yet."))
    sections = [
        section_html(label("status_overview", lang), status, section_id="status"),
        section_html(label("key_changes", lang), changes_part, section_id="veranderingen"),
        section_html(label("reports", lang), links_part, section_id="rapportages"),
        section_html(label("archive", lang), archive_part, section_id="archief"),
    ]
    toc = [("status", label("status_overview", lang)), ("veranderingen", label("key_changes", lang)),
           ("rapportages", label("reports", lang)), ("archief", label("archive", lang))]
    return page_html(label("index_title", lang), _subtitle(ctx), sections, lang, back_link=False,
                     with_plotly=False, toc=toc, footer=_footer(ctx))


# What each follow-up list holds (index and the workbook's cover sheet)
LIST_MEANING: dict[str, tuple[str, str]] = {
    "signal_after_stop": ("Goedgekeurde of lopende regels voor zorg na een definitieve stop van dezelfde toewijzing "
                          "(rechtmatigheid): navragen bij de aanbieder, eventueel terugvorderen.",
                          "Approved or pending lines for care after a final stop of the same allocation "
                          "(lawfulness): ask the provider, reclaim where due."),
    "signal_outside_allocation": ("Regels met een periode buiten de looptijd van hun toewijzing.",
                                  "Lines whose period lies outside their allocation's term."),
    "signal_no_allocation": ("Regels op een onbekende of verwijderde toewijzing.",
                             "Lines on an unknown or deleted allocation."),
    "signal_duplicate_period": ("Regels voor dezelfde toewijzing, hetzelfde product en dezelfde periode als een "
                                "andere regel die geen creditering of correctie ervan is.",
                                "Lines for the same allocation, product and period as another line that is not "
                                "its credit or correction."),
    "real_overshoots": ("Toewijzingen waarvan het gevraagde totaal boven het maximum over de hele looptijd ligt "
                        "(TR322) of boven het budget (TR369): echte overschrijdingen, te bespreken met de aanbieder.",
                        "Allocations whose requested total exceeds the maximum over their whole term (TR322) or "
                        "their budget (TR369): real overshoots to discuss with the provider."),
    "period_overshoots": ("Toewijzingsmaanden boven het maandmaximum (TR321), met of het jaartotaal ze opvangt "
                          "(gecompenseerde piek) of niet.",
                          "Allocation months above the monthly maximum (TR321), and whether the yearly total "
                          "absorbs them (compensated peak) or not."),
    "underused": ("Toewijzingen die over de volwassen maanden weinig of niet gebruikt worden, met de verplichting "
                  "die erop staat: kandidaten om te herindiceren of te beëindigen.",
                  "Allocations hardly or not used over the mature months, with the commitment on them: "
                  "candidates to reassess or end."),
    "budget_alerts": ("Budgetten (per wet of productcategorie) waarvan de prognose boven het budget ligt.",
                      "Budgets (per law or product category) whose forecast exceeds the budget."),
    "ceiling_alerts": ("Aanbieders die hun plafond (van een verzekeraar of gemeente) bereikt hebben, erop afkoersen "
                       "of 70%/90% gerealiseerd hebben.",
                       "Providers that reached their ceiling (of an insurer or municipality), are heading over it, "
                       "or realised 70%/90% of it."),
    "hours_agreement": ("Aanbieders boven de urenafspraak (gemiddelde uren per cliënt per maand), met de verwachte "
                        "terugvordering.",
                        "Providers above the hours agreement (average hours per client per month), with the "
                        "expected reclaim."),
    "late": ("Aanbieder × gemeente × maand met te laat gedeclareerde regels of late/ontbrekende antwoorden.",
             "Provider × municipality × month with lines declared late or answers late or missing."),
}


def _footer(ctx: _Context) -> str:
    return _none(ctx.lang, f"Peildatum {fmt_date(ctx.as_of, ctx.lang)}. Gemaakt door de zorgbudget-pipeline; "
                           "namen uit data/reference/organisations.csv of de openbare lijsten van CBS en iStandaarden.",
                 f"As of {fmt_date(ctx.as_of, ctx.lang)}. Made by the care budget pipeline; names from "
                 "data/reference/organisations.csv or the public lists of CBS and iStandaarden.")
