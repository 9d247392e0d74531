"""Labels and number/date formatting for the reports: Dutch by default, English as a setting.

Dutch: € 1.234,56, € -1.234,56, 31-10-2026, 12,3%. English: € 1,234.56, € -1,234.56, 2026-10-31,
12.3%.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import ROUND_HALF_UP, Decimal

import polars as pl

LANGUAGES = ("nl", "en")

# key -> (Dutch, English)
LABELS: dict[str, tuple[str, str]] = {
    # report titles
    "index_title": ("Rapportages zorgbudgetten en plafonds", "Care budget and ceiling reports"),
    "maand_title": ("Maandrapportage", "Monthly report"),
    "region": ("regio", "region"),
    "region_title": ("hele regio", "whole region"),
    "municipality": ("Gemeente", "Municipality"),
    "plafond_title": ("Plafondmonitor", "Ceiling monitor"),
    "insurer": ("Zorgverzekeraar", "Insurer"),
    "rekenfactor_title": ("Rekenfactor en bandbreedte", "Rekenfactor and bandwidth"),
    "dq_title": ("Datakwaliteit", "Data quality"),
    "as_of": ("Peildatum", "As of"),
    "freshness": ("Actualiteit van de data", "Data freshness"),
    "latest_declaration": ("laatste declaratie", "latest declaration"),
    "latest_submission": ("laatste indiening wijkverpleging", "latest district-nursing submission"),
    "latest_answer": ("laatste antwoord", "latest answer"),
    "back_to_index": ("Terug naar het overzicht", "Back to the index"),
    "headline": ("Kerncijfers", "Headline figures"),
    "pictures": ("Grafieken", "Charts"),
    "followup": ("Opvolging", "Follow-up"),
    "reports": ("Rapportages", "Reports"),
    "workbook": ("Opvolglijsten (Excel)", "Follow-up lists (Excel)"),
    "full_list_note": (
        "Getoond: de eerste {n} van {total} regels. De volledige lijst staat in {file}, tabblad '{sheet}'.",
        "Shown: the first {n} of {total} rows. The full list is in {file}, sheet '{sheet}'.",
    ),
    "full_list_in": (
        "Ook in {file}, tabblad '{sheet}'.",
        "Also in {file}, sheet '{sheet}'.",
    ),
    "none": ("Geen", "None"),
    "no_data": ("Geen gegevens voor deze periode.", "No data for this period."),
    "unknown": ("onbekend", "unknown"),
    "yes": ("ja", "yes"),
    "no": ("nee", "no"),
    # measures
    "law": ("Wet", "Law"),
    "year": ("Jaar", "Year"),
    "month": ("Maand", "Month"),
    "budget": ("Budget", "Budget"),
    "approved": ("Goedgekeurd", "Approved"),
    "pending": ("In behandeling", "Pending"),
    "expected_late": ("Nog te verwachten", "Expected late"),
    "committed": ("Verplichtingen", "Committed"),
    "forecast": ("Prognose", "Forecast"),
    "exhaustion": ("Uitputting", "Exhaustion"),
    "cumulative_approved": ("Cumulatief goedgekeurd", "Cumulative approved"),
    "budget_line": ("Budget", "Budget"),
    "forecast_line": ("Prognose tot jaareinde", "Forecast to year end"),
    "product_category": ("Productcategorie", "Product category"),
    "product_code": ("Product", "Product"),
    "provider": ("Aanbieder (AGB)", "Provider (AGB)"),
    "allocation_number": ("Toewijzing", "Allocation"),
    "amount_eur": ("Bedrag", "Amount"),
    "count": ("Aantal", "Count"),
    "euros": ("Euro", "Euros"),
    "reason": ("Reden", "Reason"),
    "why": ("Waarom gesignaleerd", "Why flagged"),
    "total_max_volume": ("Max. volume totaal", "Total max volume"),
    "delivered_volume": ("Geleverd volume", "Delivered volume"),
    "excess_volume": ("Overschrijding volume", "Excess volume"),
    "excess_eur": ("Overschrijding (€)", "Excess (€)"),
    "utilisation": ("Benutting", "Utilisation"),
    "underuse_reason": ("Reden onderbenutting", "Under-use reason"),
    "suggested_product_code": ("Voorgesteld product", "Suggested product"),
    "committed_eur": ("Verplichting (€)", "Committed (€)"),
    "spend": ("Besteding", "Spend"),
    "overshoot_eur": ("Overschrijding (€)", "Overshoot (€)"),
    "late_amount": ("Laat gedeclareerd (€)", "Declared late (€)"),
    "late_lines": ("Late regels", "Late lines"),
    "lines": ("Regels", "Lines"),
    "late_share": ("Aandeel laat", "Late share"),
    "median_lag_days": ("Mediane vertraging (dagen)", "Median lag (days)"),
    "late_answers": ("Late of ontbrekende antwoorden", "Late or missing answers"),
    "rejected_amount": ("Afgewezen bedrag", "Rejected amount"),
    "rejected_lines": ("Afgewezen regels", "Rejected lines"),
    "return_code": ("Retourcode", "Return code"),
    "category": ("Categorie", "Category"),
    "other": ("overig", "other"),
    # overshoot classes
    "period_overshoots": ("Periode-overschrijdingen", "Period overshoots"),
    "compensated_peaks": ("Gecompenseerde pieken", "Compensated peaks"),
    "real_overshoots": ("Echte totaaloverschrijdingen", "Real total overshoots"),
    "count_unit": ("Eenheid", "Unit"),
    "unit_months": ("toewijzingsmaanden", "allocation months"),
    "unit_allocations": ("toewijzingen", "allocations"),
    "whole_law": ("hele wet", "whole law"),
    "not_compensated": ("Niet gecompenseerd", "Not compensated"),
    # ceilings
    "payer": ("Financier", "Payer"),
    "ceiling": ("Plafond", "Ceiling"),
    "realised": ("Gerealiseerd", "Realised"),
    "share": ("Aandeel", "Share"),
    "projected_year_end": ("Prognose jaareinde", "Projected year end"),
    "run_out_date": ("Verwachte datum plafond bereikt", "Projected run-out date"),
    "above_ceiling": ("Boven plafond", "Above ceiling"),
    "above_kind": ("Boven plafond: gevolg", "Above ceiling: consequence"),
    "above_unpaid": ("onbetaald", "unpaid"),
    "above_reclaim": ("terug te vorderen", "to reclaim"),
    "alert": ("Signaal", "Alert"),
    "request_by": ("Ophoging aanvragen vóór", "Request increase by"),
    "reached_on": ("Plafond bereikt op", "Ceiling reached on"),
    "providers_total": ("Aanbieders", "Providers"),
    "providers_alert": ("Aanbieders met signaal", "Providers with an alert"),
    "hours_per_client": ("Uren per cliënt per maand", "Hours per client per month"),
    "urenafspraak": ("Urenafspraak", "Hours agreement"),
    "avg_hours": ("Gem. uren per cliëntmaand", "Avg hours per client-month"),
    "avg_hours_full": ("Idem, zonder eerste/laatste maand", "Same, without first/last month"),
    "client_months": ("Cliëntmaanden", "Client-months"),
    "excess_hours": ("Uren boven afspraak", "Hours above agreement"),
    "expected_reclaim": ("Verwachte terugvordering", "Expected reclaim"),
    "hourly_tariff": ("Gem. uurtarief", "Avg hourly tariff"),
    # band / rekenfactor
    "band_position": ("Positie in de band", "Band position"),
    "band_class": ("Bandklasse", "Band class"),
    "band_below": ("onder band", "below band"),
    "band_low": ("laag", "low"),
    "band_mid": ("midden", "mid"),
    "band_high": ("hoog", "high"),
    "band_above": ("boven band", "above band"),
    "allocations": ("Toewijzingen", "Allocations"),
    "implied_rf": ("Impliciete rekenfactor", "Implied rekenfactor"),
    "contract_rf": ("Contract-rekenfactor", "Contract rekenfactor"),
    "unused_share": ("Ongebruikt deel", "Unused share"),
    "budget_effect": ("Budgeteffect", "Budget effect"),
    "indicated_hours": ("Geïndiceerde uren", "Indicated hours"),
    "realised_hours": ("Gerealiseerde uren", "Realised hours"),
    "try_rf": ("Probeer rekenfactor", "Try rekenfactor"),
    "peak_months": ("Piekmaanden", "Peak months"),
    # data quality
    "source_file": ("Bestand", "File"),
    "kind": ("Soort", "Kind"),
    "rows_received": ("Ontvangen", "Received"),
    "rows_loaded": ("Geladen", "Loaded"),
    "rows_quarantined": ("In quarantaine", "Quarantined"),
    "reconciles": ("Sluit aan", "Reconciles"),
    "reason_code": ("Redencode", "Reason code"),
    "reason_text": ("Omschrijving", "Description"),
    "rows": ("Rijen", "Rows"),
    "files": ("Bestanden", "Files"),
    "files_refused": ("Geweigerde bestanden", "Refused files"),
}

# values of coded columns, shown in the reader's language
VALUE_LABELS: dict[str, tuple[str, str]] = {
    "no_declarations": ("geen declaraties", "no declarations"),
    "low_utilisation": ("lage benutting", "low utilisation"),
    "below_band": ("onder de band", "below band"),
    "reached": ("plafond bereikt", "ceiling reached"),
    "projected_over": ("prognose boven plafond", "projected over ceiling"),
    "90": ("90% bereikt", "90% reached"),
    "70": ("70% bereikt", "70% reached"),
    "ok": ("ok", "ok"),
    "stop_payment": ("betaalstop", "stop payment"),
    "settle": ("verrekenen", "settle"),
    # rejection categories (metrics.md §12)
    "volume exceeds allocation": ("volume boven toewijzing", "volume exceeds allocation"),
    "period outside allocation": ("periode buiten toewijzing", "period outside allocation"),
    "tariff or amount": ("tarief of bedrag", "tariff or amount"),
    "no valid allocation": ("geen geldige toewijzing", "no valid allocation"),
    "product or unit": ("product of eenheid", "product or unit"),
    "duplicate or credit": ("dubbel of credit", "duplicate or credit"),
    "whole declaration": ("hele declaratie", "whole declaration"),
}


def label(key: str, lang: str = "nl") -> str:
    """The label for ``key`` in ``lang`` (nl or en)."""
    _check(lang)
    nl, en = LABELS[key]
    return nl if lang == "nl" else en


def value_label(value: str | None, lang: str = "nl") -> str:
    """A coded value (under-use reason, alert, policy) in the reader's language."""
    if value is None:
        return ""
    pair = VALUE_LABELS.get(value)
    if pair is None:
        return value
    return pair[0] if lang == "nl" else pair[1]


def _check(lang: str) -> None:
    if lang not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}, got {lang!r}")


def _missing(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def fmt_num(x: float | int | None, lang: str = "nl", decimals: int = 0) -> str:
    """1234.5 -> '1.234,5' (nl) or '1,234.5' (en); None -> ''."""
    _check(lang)
    if _missing(x):
        return ""
    # commercial rounding (half away from zero), as the column version does
    rounded = Decimal(repr(float(x))).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    if rounded == 0:
        rounded = abs(rounded)
    text = f"{rounded:,.{decimals}f}"
    if lang == "nl":
        text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return text


def fmt_eur(x: float | int | None, lang: str = "nl", decimals: int = 2) -> str:
    """1234.56 -> '€ 1.234,56'; -1234.56 -> '€ -1.234,56' (nl); '€ 1,234.56' (en)."""
    if _missing(x):
        return ""
    return f"€ {fmt_num(x, lang, decimals)}"


def fmt_pct(x: float | None, lang: str = "nl", decimals: int = 1) -> str:
    """A share (0.123) as '12,3%' (nl) or '12.3%' (en)."""
    if _missing(x):
        return ""
    return f"{fmt_num(100 * float(x), lang, decimals)}%"


def fmt_date(d: dt.date | dt.datetime | None, lang: str = "nl") -> str:
    """31-10-2026 (nl) or 2026-10-31 (en)."""
    _check(lang)
    if d is None:
        return ""
    if isinstance(d, dt.datetime):
        d = d.date()
    return d.strftime("%d-%m-%Y") if lang == "nl" else d.isoformat()


def fmt_month(d: dt.date | None, lang: str = "nl") -> str:
    """A month: 10-2026 (nl) or 2026-10 (en)."""
    _check(lang)
    if d is None:
        return ""
    return d.strftime("%m-%Y") if lang == "nl" else d.strftime("%Y-%m")


def plotly_separators(lang: str) -> str:
    """Plotly's ``layout.separators``: decimal mark then thousands mark."""
    _check(lang)
    return ",." if lang == "nl" else ".,"


def plotly_date_format(lang: str) -> str:
    """d3 date format for axes and hovers."""
    _check(lang)
    return "%d-%m-%Y" if lang == "nl" else "%Y-%m-%d"


def plotly_month_format(lang: str) -> str:
    _check(lang)
    return "%m-%Y" if lang == "nl" else "%Y-%m"


# ---- the same formats as polars expressions, for whole columns (no Python loop over rows) ----


def pl_fmt_num(expr: pl.Expr, lang: str = "nl", decimals: int = 0) -> pl.Expr:
    """Column version of :func:`fmt_num` (up to 10^15); null stays null."""
    _check(lang)
    thousands, point = (".", ",") if lang == "nl" else (",", ".")
    scale = 10**decimals
    scaled = (expr.cast(pl.Float64).abs() * scale).round(0, mode="half_away_from_zero").cast(pl.Int64)
    whole = scaled // scale
    frac = (scaled % scale).cast(pl.String).str.zfill(decimals) if decimals else None

    def group(n: int) -> pl.Expr:
        return ((whole // 10 ** (3 * n)) % 1000).cast(pl.String)

    def padded(n: int) -> pl.Expr:
        return group(n).str.zfill(3)

    text = (
        pl.when(whole >= 10**12)
        .then(pl.concat_str([(whole // 10**12).cast(pl.String), padded(3), padded(2), padded(1), padded(0)], separator=thousands))
        .when(whole >= 10**9)
        .then(pl.concat_str([group(3), padded(2), padded(1), padded(0)], separator=thousands))
        .when(whole >= 10**6)
        .then(pl.concat_str([group(2), padded(1), padded(0)], separator=thousands))
        .when(whole >= 10**3)
        .then(pl.concat_str([group(1), padded(0)], separator=thousands))
        .otherwise(group(0))
    )
    if frac is not None:
        text = pl.concat_str([text, frac], separator=point)
    sign = pl.when(scaled > 0).then(pl.when(expr < 0).then(pl.lit("-")).otherwise(pl.lit(""))).otherwise(pl.lit(""))
    return pl.concat_str([sign, text])


def pl_fmt_eur(expr: pl.Expr, lang: str = "nl", decimals: int = 2) -> pl.Expr:
    return pl.concat_str([pl.lit("€ "), pl_fmt_num(expr, lang, decimals)])


def pl_fmt_pct(expr: pl.Expr, lang: str = "nl", decimals: int = 1) -> pl.Expr:
    return pl.concat_str([pl_fmt_num(expr * 100, lang, decimals), pl.lit("%")])


def pl_fmt_date(expr: pl.Expr, lang: str = "nl") -> pl.Expr:
    _check(lang)
    return expr.dt.strftime("%d-%m-%Y" if lang == "nl" else "%Y-%m-%d")


def pl_fmt_month(expr: pl.Expr, lang: str = "nl") -> pl.Expr:
    _check(lang)
    return expr.dt.strftime("%m-%Y" if lang == "nl" else "%Y-%m")


def pl_value_label(expr: pl.Expr, lang: str = "nl") -> pl.Expr:
    """Column version of :func:`value_label`."""
    _check(lang)
    mapping = {k: (v[0] if lang == "nl" else v[1]) for k, v in VALUE_LABELS.items()}
    return expr.replace(mapping)
