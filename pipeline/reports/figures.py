"""Figure builders: pure functions, polars frame in, Plotly figure out.

A builder returns ``None`` when its frame has nothing to show; the page then prints a "geen"
message instead of an empty chart. Loops run over a few laws, providers or classes, never over
data rows.
"""

from __future__ import annotations

import datetime as dt
import math

import plotly.graph_objects as go
import plotly.io as pio
import polars as pl
from plotly.subplots import make_subplots

from .i18n import label, plotly_date_format, plotly_month_format, plotly_separators
from .tables import SHOWN_CEILING_PROVIDERS

PALETTE = ["#1f5f8b", "#e07b39", "#3a9d5d", "#c23b3b", "#7d5ba6", "#8c6d31", "#d4619e", "#5f6b73",
           "#b5a416", "#2aa3b5", "#9a3f1d", "#4c7a34"]
COMPONENT_COLOURS = {
    "approved": "#1f5f8b", "pending": "#6a9cc4", "expected_late": "#e0a339", "committed": "#b9c4cc",
}
BAND_COLOURS = {"below": "#c23b3b", "low": "#e0a339", "mid": "#3a9d5d", "high": "#1f5f8b", "above": "#7d5ba6"}
BAND_CLASSES = ["below", "low", "mid", "high", "above"]


# plotly_white's layout and its defaults for the trace types drawn here. The named template also
# carries defaults for some twenty other trace types, which Plotly copies into every figure and
# writes into every page: half of the time spent building the pages went there.
_WHITE = pio.templates["plotly_white"]
TEMPLATE = go.layout.Template(layout=_WHITE.layout, data={"bar": _WHITE.data.bar, "scatter": _WHITE.data.scatter})


def _style(fig: go.Figure, title: str, lang: str, height: int = 420) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0.01, "xanchor": "left", "font": {"size": 16}},
        template=TEMPLATE,
        separators=plotly_separators(lang),
        height=height,
        margin={"l": 70, "r": 30, "t": 60, "b": 60},
        legend={"orientation": "h", "yanchor": "top", "y": -0.12, "x": 0, "traceorder": "normal"},
        font={"family": "Segoe UI, Helvetica, Arial, sans-serif", "size": 12},
        hoverlabel={"namelength": -1},
    )
    return fig


def _eur_axis(lang: str) -> dict:
    return {"tickprefix": "€ ", "tickformat": ",.0f", "separatethousands": True}


def _count_axis(maximum: float | None) -> dict:
    """A y axis of whole numbers at round steps (1, 2, 5, 10, 20, 50, …): never 43, 86, 129."""
    top = float(maximum or 0)
    step = 1.0
    while top / step > 6:
        for factor in (2, 2.5, 2):  # 1 -> 2 -> 5 -> 10
            step *= factor
            if top / step <= 6:
                break
    return {"tickformat": ",d", "dtick": step, "rangemode": "tozero"}


def _name(frame: pl.DataFrame, column: str) -> str:
    """The column with names beside the codes when the frame has it (names.with_names)."""
    return f"{column}_name" if f"{column}_name" in frame.columns else column


LAW_NAMES = {"wmo": "Wmo", "jeugd": "Jeugd"}


def _names_map(frame: pl.DataFrame, column: str) -> dict[str, str]:
    """code -> shown name of ``column`` (the code itself when the frame has no names)."""
    named = _name(frame, column)
    if named == column:
        return {c: c for c in frame[column].to_list()}
    return dict(frame.select(column, named).unique(column, keep="first").iter_rows())


def _mark_immature(fig: go.Figure, start: dt.date, end: dt.date, text: str, col: int | None = None) -> None:
    """Shade the months that are still filling up (or cannot be judged yet), with the reason."""
    if start > end:
        return
    suffix = "" if col in (None, 1) else str(col)
    fig.add_shape(type="rect", x0=start, x1=end, y0=0, y1=1, xref=f"x{suffix}", yref=f"y{suffix} domain",
                  fillcolor="#b9c4cc", opacity=0.3, line_width=0, layer="below")
    fig.add_annotation(x=start, y=0.02, xref=f"x{suffix}", yref=f"y{suffix} domain", text=text, showarrow=False,
                       xanchor="right", yanchor="bottom", align="right", bgcolor="rgba(255,255,255,0.8)",
                       font={"size": 11, "color": "#5f6b73"})


# monthly values (dated on the first of the month) drawn in the middle of their month
MID_MONTH = {"xperiod": "M1", "xperiodalignment": "middle"}


def _month_axis(lang: str, dtick: str = "M1") -> dict:
    """A monthly date axis whose labels sit in the middle of each month."""
    return {"tickformat": plotly_month_format(lang), "dtick": dtick, "ticklabelmode": "period"}


def _colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


# ------------------------------------------------------------------ Maandrapportage


def fig_cumulative_spend(cumulative: pl.DataFrame, headline: pl.DataFrame, as_of: dt.date, lang: str,
                         immature_from: dt.date | None = None) -> go.Figure | None:
    """Cumulative approved euros through the year against the budget line, with the forecast to
    year end: a panel per law (the legend then names one thing: approved, budget, forecast). Months
    from ``immature_from`` on are still filling up with late declarations and are shaded.

    ``cumulative``: law, month, cumulative_eur. ``headline``: law, budget_eur, forecast_eur.
    """
    if cumulative.is_empty() and headline.is_empty():
        return None
    year_start, year_end = dt.date(as_of.year, 1, 1), dt.date(as_of.year, 12, 31)
    laws = sorted(set(cumulative["law"].to_list()) | set(headline["law"].to_list()))
    fig = make_subplots(rows=1, cols=len(laws), subplot_titles=[LAW_NAMES.get(w, w) for w in laws],
                        horizontal_spacing=0.08, shared_yaxes=False)
    points = cumulative.with_columns(pl.col("month").dt.month_end().alias("month_end"))
    colours = {"approved": "#1f5f8b", "budget": "#5f6b73", "forecast": "#e07b39"}
    for i, law in enumerate(laws, start=1):
        mine = points.filter(pl.col("law") == law)
        x = [year_start, *mine["month_end"].to_list()]
        y = [0.0, *mine["cumulative_eur"].to_list()]
        law_name = LAW_NAMES.get(law, law)
        fig.add_trace(go.Scatter(
            x=x, y=y, mode="lines+markers", name=label("cumulative_approved", lang), legendgroup="approved",
            showlegend=i == 1, line={"color": colours["approved"], "width": 3},
            hovertemplate="%{x|" + plotly_date_format(lang) + "}<br>€ %{y:,.0f}<extra>" + law_name + "</extra>",
        ), row=1, col=i)
        row = headline.filter(pl.col("law") == law)
        if not row.is_empty():
            budget, forecast = row["budget_eur"][0], row["forecast_eur"][0]
            if budget is not None:
                fig.add_trace(go.Scatter(
                    x=[year_start, year_end], y=[budget, budget], mode="lines", name=label("budget_line", lang),
                    legendgroup="budget", showlegend=i == 1,
                    line={"color": colours["budget"], "dash": "dash", "width": 1.5},
                    hovertemplate="€ %{y:,.0f}<extra>" + law_name + " budget</extra>",
                ), row=1, col=i)
            if forecast is not None:
                fig.add_trace(go.Scatter(
                    x=[x[-1], year_end], y=[y[-1], forecast], mode="lines+markers", name=label("forecast_line", lang),
                    legendgroup="forecast", showlegend=i == 1,
                    line={"color": colours["forecast"], "dash": "dot", "width": 2}, marker={"symbol": "diamond"},
                    hovertemplate="%{x|" + plotly_date_format(lang) + "}<br>€ %{y:,.0f}<extra>" + law_name + "</extra>",
                ), row=1, col=i)
        if immature_from is not None:
            _mark_immature(fig, immature_from, _month_end(as_of), label("immature_months", lang), col=i)
    fig.update_yaxes(**_eur_axis(lang), rangemode="tozero")
    fig.update_xaxes(**_month_axis(lang, "M2"), range=[year_start, year_end])
    return _style(fig, f"{label('cumulative_approved', lang)} {as_of.year}", lang, height=440)


def _month_end(d: dt.date) -> dt.date:
    nxt = dt.date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    return nxt - dt.timedelta(days=1)


def fig_category_spend(by_category: pl.DataFrame, lang: str) -> go.Figure | None:
    """Stacked approved / pending / expected late / committed per product category, budget markers."""
    if by_category.is_empty():
        return None
    category = _name(by_category, "product_category")
    names = by_category.select(pl.concat_str([
        pl.col("law").replace_strict(LAW_NAMES, default=pl.col("law")), pl.lit(" · "), category]).alias("n"))["n"].to_list()
    fig = go.Figure()
    for key in ("approved", "pending", "expected_late", "committed"):
        fig.add_trace(go.Bar(
            y=names, x=by_category[f"{key}_eur"].to_list(), orientation="h", name=label(key, lang),
            marker_color=COMPONENT_COLOURS[key], hovertemplate="%{y}: € %{x:,.0f}<extra>" + label(key, lang) + "</extra>",
        ))
    fig.add_trace(go.Scatter(
        y=names, x=by_category["budget_eur"].to_list(), mode="markers", name=label("budget", lang),
        marker={"symbol": "line-ns-open", "size": 26, "color": "#222", "line": {"width": 3}},
        hovertemplate="%{y}: € %{x:,.0f}<extra>" + label("budget", lang) + "</extra>",
    ))
    fig.update_layout(barmode="stack")
    fig.update_xaxes(**_eur_axis(lang))
    fig.update_yaxes(autorange="reversed", automargin=True)
    title = "Besteding en prognose per productcategorie" if lang == "nl" else "Spend and forecast per product category"
    fig.update_layout(bargap=0.35)
    return _style(fig, title, lang, height=max(230, 150 + 44 * len(names)))


def fig_top_providers(by_spend: pl.DataFrame, by_overshoot: pl.DataFrame, by_lateness: pl.DataFrame, lang: str) -> go.Figure | None:
    """Panels of the ten providers with the most approved spend, overshoot euros and late euros;
    a panel with nothing in it is left out (the page says which and why)."""
    panels = [
        (frame, column, title) for frame, column, title in (
            (by_spend, "approved_amount_eur", label("spend", lang)),
            (by_overshoot, "excess_eur", label("overshoot_eur", lang)),
            (by_lateness, "late_amount_eur", label("late_amount", lang)),
        ) if not frame.is_empty()
    ]
    if not panels:
        return None
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[t for _, _, t in panels], horizontal_spacing=0.22)
    for i, (frame, column, title) in enumerate(panels, start=1):
        names = frame[_name(frame, "provider_agb")].to_list()
        fig.add_trace(go.Bar(
            y=names, x=frame[column].to_list(), orientation="h", name=title,
            marker_color=_colour(i - 1), showlegend=False,
            hovertemplate="%{y}: € %{x:,.0f}<extra></extra>",
        ), row=1, col=i)
        fig.update_yaxes(autorange="reversed", type="category", automargin=True, row=1, col=i)
        fig.update_xaxes(**_eur_axis(lang), nticks=4, row=1, col=i)
    title = "Aanbieders: top 10" if lang == "nl" else "Providers: top 10"
    return _style(fig, title, lang, height=440)


def fig_overshoots(summary: pl.DataFrame, lang: str) -> go.Figure | None:
    """Period overshoots, compensated peaks and real overshoots in euros, one axis in one unit;
    each bar says how many allocation months or allocations it holds (those are different units,
    so they are not drawn on one axis)."""
    if summary.is_empty() or summary["count"].sum() == 0:
        return None
    colours = ["#e0a339", "#3a9d5d", "#c23b3b"]
    classes = summary["class"].to_list()
    counts = [f"{n:,} {unit}".replace(",", "." if lang == "nl" else ",")
              for n, unit in zip(summary["count"].to_list(), summary["unit"].to_list())]
    fig = go.Figure(go.Bar(
        y=classes, x=summary["eur"].to_list(), orientation="h", marker_color=colours, showlegend=False,
        text=counts, textposition="auto", customdata=counts,
        hovertemplate="%{y}: € %{x:,.0f} (%{customdata})<extra></extra>"))
    fig.update_xaxes(**_eur_axis(lang), rangemode="tozero")
    fig.update_yaxes(autorange="reversed", automargin=True)
    title = ("Overschrijdingen in euro's boven het maximum" if lang == "nl"
             else "Overshoots in euros above the maximum")
    return _style(fig, title, lang, height=300)


def fig_underuse(by_reason: pl.DataFrame, lang: str) -> go.Figure | None:
    """Under-used allocations per reason: count (left), committed euros on them (right)."""
    if by_reason.is_empty():
        return None
    fig = make_subplots(rows=1, cols=2, subplot_titles=[label("allocations", lang), label("committed_eur", lang)])
    reasons = by_reason["reason_label"].to_list()
    fig.add_trace(go.Bar(x=reasons, y=by_reason["count"].to_list(), marker_color="#7d5ba6", showlegend=False,
                         hovertemplate="%{x}: %{y:,.0f}<extra></extra>"), row=1, col=1)
    fig.add_trace(go.Bar(x=reasons, y=by_reason["committed_eur"].to_list(), marker_color="#b9c4cc", showlegend=False,
                         hovertemplate="%{x}: € %{y:,.0f}<extra></extra>"), row=1, col=2)
    fig.update_yaxes(**_count_axis(by_reason["count"].max()), row=1, col=1)
    fig.update_yaxes(**_eur_axis(lang), row=1, col=2)
    return _style(fig, label("underuse_reason", lang), lang, height=380)


def _top_n_other(frame: pl.DataFrame, group: str, value: str, n: int, lang: str) -> pl.DataFrame:
    """Keep the ``n`` largest groups by ``value``, fold the rest into 'overig'."""
    top = (
        frame.group_by(group).agg(pl.col(value).sum())
        .sort([value, group], descending=[True, False]).head(n)[group]
    )
    return frame.with_columns(
        pl.when(pl.col(group).is_in(top.implode())).then(pl.col(group)).otherwise(pl.lit(label("other", lang))).alias(group)
    )


MAX_SERIES = 8  # series per chart; the rest go into 'overig'


def fig_late_lines(timeliness: pl.DataFrame, lang: str, judged_until: dt.date | None = None) -> go.Figure | None:
    """Late lines per month for the providers with the most (the rest as 'overig'). Months after
    ``judged_until`` cannot be judged yet (a line is late only three months after its period) and
    are shaded, so an empty end of the chart does not read as an improvement."""
    if timeliness.is_empty() or timeliness["lines"].sum() == 0:
        return None
    column = _name(timeliness, "provider_agb")
    late = _top_n_other(timeliness, column, "late_lines", MAX_SERIES - 1, lang)
    late = late.group_by(column, "month").agg(pl.col("late_lines").sum()).sort(column, "month")
    totals = late.group_by(column).agg(pl.col("late_lines").sum())
    order = totals.sort(["late_lines", column], descending=[True, False])[column].to_list()
    other = label("other", lang)
    order = [p for p in order if p != other] + ([other] if other in order else [])
    fig = go.Figure()
    for i, provider in enumerate(order):
        mine = late.filter(pl.col(column) == provider)
        fig.add_trace(go.Bar(x=mine["month"].to_list(), y=mine["late_lines"].to_list(), name=provider,
                             marker_color="#b9c4cc" if provider == other else _colour(i), **MID_MONTH,
                             hovertemplate="%{x|" + plotly_month_format(lang) + "}: %{y:,.0f}<extra>" + provider + "</extra>"))
    months = timeliness["month"]
    if judged_until is not None and months.max() is not None and months.max() > judged_until:
        _mark_immature(fig, judged_until + dt.timedelta(days=1), _month_end(months.max()), label("not_judged_yet", lang))
    fig.update_layout(barmode="stack", legend_title_text=label("provider", lang))
    fig.update_xaxes(**_month_axis(lang, "M2"))
    fig.update_yaxes(**_count_axis(late.group_by("month").agg(pl.col("late_lines").sum())["late_lines"].max()))
    title = "Te laat gedeclareerde regels per maand, per aanbieder" if lang == "nl" else "Lines declared late per month, by provider"
    return _style(fig, title, lang, height=440)


def fig_rejected_amounts(rejections: pl.DataFrame, lang: str) -> go.Figure | None:
    """Rejected euros per month by category of return code (each line counted once)."""
    if rejections.is_empty():
        return None
    rej = rejections.group_by("category", "month").agg(pl.col("amount_eur").sum()).sort("category", "month")
    order = (rej.group_by("category").agg(pl.col("amount_eur").sum())
             .sort(["amount_eur", "category"], descending=[True, False])["category"].to_list())
    fig = go.Figure()
    for i, category in enumerate(order):
        mine = rej.filter(pl.col("category") == category)
        fig.add_trace(go.Bar(x=mine["month"].to_list(), y=mine["amount_eur"].to_list(), name=category or "?",
                             marker_color=_colour(i), **MID_MONTH,
                             hovertemplate="%{x|" + plotly_month_format(lang) + "}: € %{y:,.0f}<extra>" + (category or "?") + "</extra>"))
    fig.update_layout(barmode="stack", legend_title_text=label("category", lang))
    fig.update_xaxes(**_month_axis(lang, "M2"))
    fig.update_yaxes(**_eur_axis(lang))
    title = "Afgewezen bedrag per maand, per soort afwijzing" if lang == "nl" else "Rejected amount per month, by kind of rejection"
    return _style(fig, title, lang, height=420)


# ------------------------------------------------------------------ Plafondmonitor


def fig_cumulative_realisation(cumulative: pl.DataFrame, table: pl.DataFrame, year: int, lang: str,
                               max_providers: int = SHOWN_CEILING_PROVIDERS) -> go.Figure | None:
    """Small multiples: cumulative approved euros by submission date against each provider's ceiling.

    ``table`` is the urgency-sorted ceiling table; the first ``max_providers`` providers are shown.
    """
    providers = table["provider_agb"].head(max_providers).to_list()
    if not providers:
        return None
    cols = min(3, len(providers))
    rows = math.ceil(len(providers) / cols)
    titles = _names_map(table, "provider_agb")
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[titles.get(p, p) for p in providers],
                        vertical_spacing=0.25 / rows + 0.04, horizontal_spacing=0.08)
    year_start, year_end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    for i, provider in enumerate(providers):
        r, c = i // cols + 1, i % cols + 1
        mine = cumulative.filter(pl.col("provider_agb") == provider)
        ceiling = table.filter(pl.col("provider_agb") == provider)["ceiling_eur"][0]
        fig.add_trace(go.Scatter(
            x=[year_start, *mine["submitted_on"].to_list()], y=[0.0, *mine["cumulative_eur"].to_list()],
            mode="lines", line={"shape": "hv", "color": "#1f5f8b", "width": 2}, name=label("realised", lang),
            legendgroup="realised", showlegend=i == 0,
            hovertemplate="%{x|" + plotly_date_format(lang) + "}: € %{y:,.0f}<extra>" + provider + "</extra>",
        ), row=r, col=c)
        if ceiling is not None:
            fig.add_trace(go.Scatter(
                x=[year_start, year_end], y=[ceiling, ceiling], mode="lines", name=label("ceiling", lang),
                line={"color": "#c23b3b", "dash": "dash", "width": 1.5}, legendgroup="ceiling", showlegend=i == 0,
                hovertemplate="€ %{y:,.0f}<extra>" + label("ceiling", lang) + "</extra>",
            ), row=r, col=c)
        projected = table.filter(pl.col("provider_agb") == provider)["projected_year_end_eur"]
        if len(mine) and len(projected) and projected[0] is not None:
            # where the projection lands at year end, from the last submission (metrics.md §7)
            fig.add_trace(go.Scatter(
                x=[mine["submitted_on"][-1], year_end], y=[mine["cumulative_eur"][-1], projected[0]],
                mode="lines+markers", name=label("projected_year_end", lang), legendgroup="projected",
                showlegend=i == 0, line={"color": "#e07b39", "dash": "dot", "width": 1.5},
                marker={"symbol": "diamond", "size": 6},
                hovertemplate="%{x|" + plotly_date_format(lang) + "}: € %{y:,.0f}<extra>"
                + label("projected_year_end", lang) + "</extra>",
            ), row=r, col=c)
    fig.update_xaxes(range=[year_start, year_end], **_month_axis(lang, "M3"))
    fig.update_yaxes(**_eur_axis(lang), rangemode="tozero")
    return _style(fig, f"{label('realised', lang)} · {label('ceiling', lang).lower()} {year}", lang,
                  height=140 + 240 * rows)


def fig_hours_per_client(monthly: pl.DataFrame, agreement: pl.DataFrame, lang: str,
                         max_providers: int = MAX_SERIES, immature_from: dt.date | None = None) -> go.Figure | None:
    """Hours per client per month against the urenafspraak: small multiples for the providers
    with the highest average relative to their agreement (at most ``max_providers``); the table
    under the chart has them all."""
    if monthly.is_empty():
        return None
    column = _name(monthly, "provider_agb")
    ranked = (agreement.with_columns(
        (pl.col("avg_hours_per_client_month") / pl.col("max_hours_per_client_month")).alias("_ratio"))
        .sort(["_ratio", "avg_hours_per_client_month", "provider_agb"], descending=[True, True, False], nulls_last=True))
    providers = [p for p in ranked["provider_agb"].to_list() if p in set(monthly["provider_agb"].to_list())]
    providers += sorted(set(monthly["provider_agb"].to_list()) - set(providers))
    providers = providers[:max_providers]
    names = _names_map(monthly, "provider_agb")
    cols = min(4, len(providers))
    rows = math.ceil(len(providers) / cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[names.get(p, p) for p in providers],
                        vertical_spacing=0.3 / rows + 0.05, horizontal_spacing=0.06, shared_yaxes=True)
    for i, provider in enumerate(providers):
        r, c = i // cols + 1, i % cols + 1
        mine = monthly.filter(pl.col("provider_agb") == provider).sort("month")
        mature = mine if immature_from is None else mine.filter(pl.col("month") < immature_from)
        fig.add_trace(go.Scatter(
            x=mature["month"].to_list(), y=mature["hours_per_client"].to_list(), mode="lines+markers",
            name=label("hours_per_client", lang), legendgroup="hours", showlegend=i == 0,
            line={"color": "#1f5f8b"}, **MID_MONTH,
            hovertemplate="%{x|" + plotly_month_format(lang) + "}: %{y:,.2f}<extra>" + names.get(provider, provider) + "</extra>",
        ), row=r, col=c)
        if immature_from is not None:
            # the months still filling up: dotted and grey, joined to the last mature month
            young = mine.filter(pl.col("month") >= immature_from)
            joined = pl.concat([mature.tail(1), young]) if young.height else young
            if young.height:
                fig.add_trace(go.Scatter(
                    x=joined["month"].to_list(), y=joined["hours_per_client"].to_list(), mode="lines+markers",
                    name=label("immature_short", lang), legendgroup="young", showlegend=i == 0,
                    line={"color": "#9aa5ad", "dash": "dot"}, marker={"symbol": "circle-open"}, **MID_MONTH,
                    hovertemplate="%{x|" + plotly_month_format(lang) + "}: %{y:,.2f}<extra>" + label("immature_short", lang) + "</extra>",
                ), row=r, col=c)
        limit = agreement.filter(pl.col("provider_agb") == provider)["max_hours_per_client_month"]
        if len(limit) and limit[0] is not None and len(mine):
            fig.add_trace(go.Scatter(
                x=[mine["month"][0], mine["month"][-1]], y=[limit[0], limit[0]], mode="lines",
                name=label("urenafspraak", lang), legendgroup="limit", showlegend=i == 0,
                line={"color": "#c23b3b", "dash": "dash", "width": 1.5},
                hovertemplate="%{y:,.2f}<extra>" + label("urenafspraak", lang) + "</extra>", **MID_MONTH,
            ), row=r, col=c)
    fig.update_xaxes(**_month_axis(lang, "M3"))
    fig.update_yaxes(rangemode="tozero")
    title = label("hours_per_client", lang) + (
        f" · de {len(providers)} aanbieders het dichtst bij of boven hun afspraak" if lang == "nl"
        else f" · the {len(providers)} providers closest to or above their agreement")
    for annotation in fig.layout.annotations:
        annotation.font = {"size": 11}
    return _style(fig, title, lang, height=120 + 230 * rows)


# ------------------------------------------------------------------ Rekenfactor en bandbreedte


# Up to this many allocations a product's box shows every allocation as a point; above it the box
# is drawn from its statistics alone, so the page stays small and quick at national scale (a
# region has hundreds of thousands of allocations with a band).
BOX_POINTS_MAX = 500


def box_statistics(band: pl.DataFrame) -> pl.DataFrame:
    """Per product: allocations, quartiles (linear, as Plotly), mean and Tukey fences (the most
    extreme positions within 1.5 × IQR of the quartiles), as Plotly draws them."""
    pos = pl.col("band_position")
    known = band.filter(pos.is_not_null())
    stats = known.group_by("product_code").agg(
        n=pl.len(), q1=pos.quantile(0.25, "linear"), median=pos.median(), q3=pos.quantile(0.75, "linear"),
        mean=pos.mean(),
    )
    iqr = pl.col("q3") - pl.col("q1")
    fences = (
        known.join(stats, on="product_code")
        .filter(pos.is_between(pl.col("q1") - 1.5 * iqr, pl.col("q3") + 1.5 * iqr))
        .group_by("product_code").agg(lowerfence=pos.min(), upperfence=pos.max())
    )
    return stats.join(fences, on="product_code", how="left").sort("product_code")


def fig_band_positions(band: pl.DataFrame, lang: str) -> go.Figure | None:
    """Box plot of band positions per product; the band itself is the shaded 0–1 strip. Products
    with more than BOX_POINTS_MAX allocations get a box from its statistics, without points."""
    if band.is_empty():
        return None
    fig = go.Figure()
    stats = {row["product_code"]: row for row in box_statistics(band).to_dicts()}  # a row per product
    for i, product in enumerate(sorted(band["product_code"].unique().to_list())):
        mine = band.filter(pl.col("product_code") == product).sort("band_position")  # same bytes per rerun
        summary = stats.get(product)
        if summary is not None and summary["n"] > BOX_POINTS_MAX:
            fig.add_trace(go.Box(
                x=[product], q1=[summary["q1"]], median=[summary["median"]], q3=[summary["q3"]],
                mean=[summary["mean"]], lowerfence=[summary["lowerfence"]], upperfence=[summary["upperfence"]],
                name=product, marker_color=_colour(i), showlegend=False,
                hovertemplate=product + f" ({summary['n']:,} allocations)<extra></extra>"))
            continue
        fig.add_trace(go.Box(y=mine["band_position"].to_list(), name=product, marker_color=_colour(i),
                             boxpoints="all", jitter=0.4, pointpos=0, showlegend=False,
                             hovertemplate=product + ": %{y:,.2f}<extra></extra>"))
    fig.add_hrect(y0=0, y1=1, fillcolor="#3a9d5d", opacity=0.08, line_width=0)
    for y in (0, 1 / 3, 2 / 3, 1):
        fig.add_hline(y=y, line={"color": "#888", "width": 1, "dash": "dot"})
    fig.update_yaxes(title=label("band_position", lang) + " (0 = min, 1 = max)")
    fig.update_xaxes(title=label("product_code", lang), type="category")
    return _style(fig, label("band_position", lang), lang)


def band_shares(band: pl.DataFrame) -> pl.DataFrame:
    """Share of allocations per product and band class."""
    return (
        band.group_by("product_code", "band_class").agg(pl.len().alias("n"))
        .with_columns((pl.col("n") / pl.col("n").sum().over("product_code")).alias("share"))
        .sort("product_code", "band_class")
    )


def fig_band_classes(shares: pl.DataFrame, lang: str) -> go.Figure | None:
    if shares.is_empty():
        return None
    fig = go.Figure()
    products = sorted(shares["product_code"].unique().to_list())
    for cls in BAND_CLASSES:
        mine = shares.filter(pl.col("band_class") == cls)
        fig.add_trace(go.Bar(x=mine["product_code"].to_list(), y=mine["share"].to_list(), name=label(f"band_{cls}", lang),
                             marker_color=BAND_COLOURS[cls], customdata=mine["n"].to_list(),
                             hovertemplate="%{x}: %{y:.1%} (%{customdata})<extra>" + label(f"band_{cls}", lang) + "</extra>"))
    fig.update_layout(barmode="stack")
    fig.update_yaxes(tickformat=".0%", range=[0, 1])
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=products, title=label("product_code", lang))
    return _style(fig, label("band_class", lang), lang)


RF_STEPS = [round(0.5 + 0.05 * k, 2) for k in range(15)]  # 0.50 … 1.20


def rekenfactor_effects(rf: pl.DataFrame) -> pl.DataFrame:
    """Product-grain rekenfactor rows with the approved euros behind the budget effect."""
    ratio = pl.col("implied_rekenfactor") / pl.col("contract_rekenfactor") - 1
    return (
        rf.filter(pl.col("grain") == "product")
        .with_columns(
            pl.coalesce(
                "approved_amount_eur",
                pl.when(ratio.abs() > 1e-9).then(pl.col("budget_effect_eur") / ratio),
            ).alias("approved_amount_eur")
        )
        .sort("product_code")
    )


RF_TOTAL_ID = "rekenfactor-effect-total"  # the budget-effect card's value, which the slider updates


def fig_rekenfactor(effects: pl.DataFrame, lang: str) -> go.Figure | None:
    """Implied vs contract rekenfactor per product (left) and the budget effect (right).

    A slider recomputes the budget effect for a tried rekenfactor r: approved × (r ÷ contract − 1).
    """
    if effects.is_empty():
        return None
    products = effects["product_code"].to_list()
    fig = make_subplots(rows=1, cols=2, subplot_titles=[
        f"{label('implied_rf', lang)} / {label('contract_rf', lang).lower()}", label("budget_effect", lang)])
    fig.add_trace(go.Bar(x=products, y=effects["contract_rekenfactor"].to_list(), name=label("contract_rf", lang),
                         marker_color="#b9c4cc", hovertemplate="%{x}: %{y:,.2f}<extra></extra>"), row=1, col=1)
    fig.add_trace(go.Bar(x=products, y=effects["implied_rekenfactor"].to_list(), name=label("implied_rf", lang),
                         marker_color="#1f5f8b", hovertemplate="%{x}: %{y:,.2f}<extra></extra>"), row=1, col=1)
    implied_effect = effects["budget_effect_eur"].to_list()
    fig.add_trace(go.Bar(x=products, y=implied_effect, name=label("budget_effect", lang), marker_color="#e07b39",
                         hovertemplate="%{x}: € %{y:,.0f}<extra></extra>"), row=1, col=2)
    effect_index = len(fig.data) - 1
    approved = effects["approved_amount_eur"].fill_null(0.0)
    contract = effects["contract_rekenfactor"]
    steps = [{"label": "impliciet" if lang == "nl" else "implied", "method": "restyle",
              "args": [{"y": [implied_effect]}, [effect_index]]}]
    for r in RF_STEPS:
        tried = (approved * (r / contract - 1)).fill_null(0.0).round(2).to_list()
        steps.append({"label": f"{r:.2f}".replace(".", "," if lang == "nl" else "."), "method": "restyle",
                      "args": [{"y": [tried]}, [effect_index]]})
    fig.update_layout(
        barmode="group",
        # the page's script writes the effect trace's total into the budget-effect card on every step
        meta={"sum_into": RF_TOTAL_ID, "trace": effect_index},
        sliders=[{"active": 0, "steps": steps, "pad": {"t": 60},
                  "currentvalue": {"prefix": label("try_rf", lang) + ": "}}],
    )
    fig.update_yaxes(**_eur_axis(lang), row=1, col=2)
    fig.update_xaxes(type="category")
    return _style(fig, f"{label('implied_rf', lang)} · {label('budget_effect', lang).lower()}", lang, height=520)


def peaks_by_category(totals: pl.DataFrame) -> pl.DataFrame:
    """Peak months and their euros per product category: compensated and not compensated.

    The reports read this from DuckDB (``data.PEAKS_SQL``); this is its reference, kept equal by tests.
    """
    share = pl.col("compensated_peak_months") / pl.col("peak_months")
    return (
        totals.filter(pl.col("peak_months") > 0)
        .group_by("product_category")
        .agg(
            pl.col("compensated_peak_months").sum().alias("compensated_months"),
            (pl.col("peak_months") - pl.col("compensated_peak_months")).sum().alias("not_compensated_months"),
            (pl.col("period_excess_eur").fill_null(0) * share).sum().alias("compensated_eur"),
            (pl.col("period_excess_eur").fill_null(0) * (1 - share)).sum().alias("not_compensated_eur"),
        )
        .sort("product_category")
    )


def fig_peaks(peaks: pl.DataFrame, lang: str) -> go.Figure | None:
    if peaks.is_empty():
        return None
    categories = peaks["product_category"].to_list()
    fig = make_subplots(rows=1, cols=2, subplot_titles=[label("peak_months", lang), label("euros", lang)])
    for key, colour, months_col, eur_col in (
        ("compensated_peaks", "#3a9d5d", "compensated_months", "compensated_eur"),
        ("not_compensated", "#c23b3b", "not_compensated_months", "not_compensated_eur"),
    ):
        fig.add_trace(go.Bar(x=categories, y=peaks[months_col].to_list(), name=label(key, lang), marker_color=colour,
                             legendgroup=key, hovertemplate="%{x}: %{y:,.0f}<extra>" + label(key, lang) + "</extra>"),
                      row=1, col=1)
        fig.add_trace(go.Bar(x=categories, y=peaks[eur_col].to_list(), name=label(key, lang), marker_color=colour,
                             legendgroup=key, showlegend=False,
                             hovertemplate="%{x}: € %{y:,.0f}<extra>" + label(key, lang) + "</extra>"), row=1, col=2)
    fig.update_layout(barmode="stack")
    fig.update_xaxes(type="category", title=label("product_category", lang))
    fig.update_yaxes(**_count_axis((peaks["compensated_months"] + peaks["not_compensated_months"]).max()), row=1, col=1)
    fig.update_yaxes(**_eur_axis(lang), row=1, col=2)
    return _style(fig, "Disharmonisch factureren" if lang == "nl" else "Uneven invoicing (disharmonisch factureren)", lang)


# ------------------------------------------------------------------ Datakwaliteit


def fig_quarantine_by_kind(by_kind: pl.DataFrame, lang: str) -> go.Figure | None:
    """Rows quarantined per month, a bar per kind of input (the received rows are in the table)."""
    if by_kind.is_empty():
        return None
    column = "kind_label" if "kind_label" in by_kind.columns else "kind"
    frame = by_kind.filter(pl.col("month").is_not_null())
    quarantined = frame.group_by(column).agg(pl.col("rows_quarantined").sum()).filter(pl.col("rows_quarantined") > 0)
    frame = frame.filter(pl.col(column).is_in(quarantined[column].implode()))
    if frame.is_empty():
        return None
    fig = go.Figure()
    kinds = sorted(frame[column].unique().to_list())
    for i, kind in enumerate(kinds):
        mine = frame.filter(pl.col(column) == kind).sort("month")
        fig.add_trace(go.Bar(x=mine["month"].to_list(), y=mine["rows_quarantined"].to_list(), name=kind,
                             marker_color=_colour(i), customdata=mine["rows_received"].to_list(), **MID_MONTH,
                             hovertemplate="%{x|" + plotly_month_format(lang) + "}: %{y:,.0f} / %{customdata:,.0f}<extra>" + kind + "</extra>"))
    fig.update_layout(barmode="stack", legend_title_text=label("kind", lang))
    fig.update_xaxes(**_month_axis(lang, "M2"))
    top = frame.group_by("month").agg(pl.col("rows_quarantined").sum())["rows_quarantined"].max()
    fig.update_yaxes(**_count_axis(top), title=label("rows_quarantined", lang))
    title = "Rijen in quarantaine per maand en soort" if lang == "nl" else "Quarantined rows per month and kind"
    return _style(fig, title, lang, height=360)


def fig_quarantine_reasons(reasons: pl.DataFrame, lang: str) -> go.Figure | None:
    if reasons.is_empty():
        return None
    column = "reason_label" if "reason_label" in reasons.columns else "reason_code"
    by_reason = (
        reasons.group_by(column).agg(pl.col("rows").sum())
        .sort(["rows", column], descending=[True, False])
    )
    fig = go.Figure(go.Bar(y=by_reason[column].to_list(), x=by_reason["rows"].to_list(), orientation="h",
                           marker_color="#c23b3b", hovertemplate="%{y}: %{x:,.0f}<extra></extra>"))
    fig.update_yaxes(type="category", autorange="reversed", automargin=True)
    fig.update_xaxes(title=label("rows", lang), **_count_axis(by_reason["rows"].max()))
    fig.update_layout(height=max(260, 110 + 30 * by_reason.height))
    return _style(fig, label("rows_quarantined", lang) + " · " + label("reason", lang).lower(), lang,
                  height=max(260, 110 + 30 * by_reason.height))



def fig_rejections(rejections: pl.DataFrame, lang: str) -> go.Figure | None:
    """Rejected euros per category (left) and rejected lines per return code (right)."""
    if rejections.is_empty():
        return None
    by_cat = rejections.group_by("category").agg(pl.col("amount_eur").sum()).sort(["amount_eur", "category"], descending=[True, False])
    by_code = (rejections.group_by("return_code").agg(pl.col("lines").sum(), pl.col("category").first())
               .sort(["lines", "return_code"], descending=[True, False]).head(MAX_SERIES * 2))
    fig = make_subplots(rows=1, cols=2, subplot_titles=[
        f"{label('rejected_amount', lang)} · {label('category', lang).lower()}",
        f"{label('rejected_lines', lang)} · {label('return_code', lang).lower()}"])
    fig.add_trace(go.Bar(x=by_cat["category"].to_list(), y=by_cat["amount_eur"].to_list(), marker_color="#e07b39",
                         showlegend=False, hovertemplate="%{x}: € %{y:,.0f}<extra></extra>"), row=1, col=1)
    fig.add_trace(go.Bar(x=by_code["return_code"].to_list(), y=by_code["lines"].to_list(), marker_color="#1f5f8b",
                         customdata=by_code["category"].to_list(), showlegend=False,
                         hovertemplate="%{x} (%{customdata}): %{y:,.0f}<extra></extra>"), row=1, col=2)
    fig.update_xaxes(type="category")
    fig.update_yaxes(**_eur_axis(lang), row=1, col=1)
    fig.update_yaxes(**_count_axis(by_code["lines"].max()), row=1, col=2)
    return _style(fig, label("rejected_lines", lang), lang, height=440)


def fig_late_answers(timeliness: pl.DataFrame, lang: str) -> go.Figure | None:
    """Late or missing answers per month, for the five providers with the most."""
    if timeliness.is_empty() or timeliness["late_answers"].sum() == 0:
        return None
    column = _name(timeliness, "provider_agb")
    late = _top_n_other(timeliness, column, "late_answers", 5, lang)
    late = late.group_by(column, "month").agg(pl.col("late_answers").sum()).sort(column, "month")
    fig = go.Figure()
    for i, provider in enumerate(sorted(late[column].unique().to_list())):
        mine = late.filter(pl.col(column) == provider)
        fig.add_trace(go.Bar(x=mine["month"].to_list(), y=mine["late_answers"].to_list(), name=provider,
                             marker_color=_colour(i), **MID_MONTH,
                             hovertemplate="%{x|" + plotly_month_format(lang) + "}: %{y:,.0f}<extra>" + provider + "</extra>"))
    fig.update_layout(barmode="stack")
    fig.update_xaxes(**_month_axis(lang))
    fig.update_yaxes(**_count_axis(late.group_by("month").agg(pl.col("late_answers").sum())["late_answers"].max()))
    return _style(fig, label("late_answers", lang), lang, height=400)


# ------------------------------------------------------------------ Forecast history (§14)


def fig_forecast_history(history: pl.DataFrame, table: pl.DataFrame, year: int, lang: str,
                         max_providers: int = MAX_SERIES) -> go.Figure | None:
    """How each provider's projected year end moved month by month this year, against its ceiling:
    small multiples for the most urgent providers (the order of the ceiling table)."""
    mine = history.filter(pl.col("year") == year)
    if mine.is_empty():
        return None
    providers = [p for p in table["provider_agb"].to_list() if p in set(mine["provider_agb"].to_list())][:max_providers]
    if not providers:
        return None
    names = _names_map(table, "provider_agb")
    cols = min(4, len(providers))
    rows = math.ceil(len(providers) / cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[names.get(p, p) for p in providers],
                        vertical_spacing=0.3 / rows + 0.05, horizontal_spacing=0.07)
    for i, provider in enumerate(providers):
        r, c = i // cols + 1, i % cols + 1
        series = mine.filter(pl.col("provider_agb") == provider).sort("forecast_as_of").with_columns(
            pl.col("forecast_as_of").dt.truncate("1mo").alias("_month"))  # the month that ended
        fig.add_trace(go.Scatter(
            x=series["_month"].to_list(), y=series["projected_eur"].to_list(), mode="lines+markers",
            name=label("projected_year_end", lang), legendgroup="projected", showlegend=i == 0,
            line={"color": "#1f5f8b"}, **MID_MONTH,
            hovertemplate=("eind %{x|%b %Y}" if lang == "nl" else "end of %{x|%b %Y}")
            + ": € %{y:,.0f}<extra>" + names.get(provider, provider) + "</extra>",
        ), row=r, col=c)
        limit = series["limit_eur"].drop_nulls()
        if len(limit):
            fig.add_trace(go.Scatter(
                x=[series["_month"].min(), series["_month"].max()], y=[limit[-1], limit[-1]], **MID_MONTH,
                mode="lines", name=label("ceiling", lang), legendgroup="ceiling", showlegend=i == 0,
                line={"color": "#c23b3b", "dash": "dash", "width": 1.5},
                hovertemplate="€ %{y:,.0f}<extra>" + label("ceiling", lang) + "</extra>",
            ), row=r, col=c)
    fig.update_xaxes(**_month_axis(lang, "M2"))
    fig.update_yaxes(**_eur_axis(lang))
    for annotation in fig.layout.annotations:
        annotation.font = {"size": 11}
    fig.update_xaxes(tickangle=0, dtick="M3")
    title = ("Prognose jaareinde aan het eind van elke maand, tegen het plafond" if lang == "nl"
             else "Projected year end at the end of each month, against the ceiling")
    return _style(fig, title, lang, height=120 + 230 * rows)


# ------------------------------------------------------------------ Indication practice per municipality


def indication_practice(band: pl.DataFrame) -> pl.DataFrame:
    """Per product and municipality: allocations, quartiles of the band position and of the hours
    a week, and the share below the band (metrics.md §5)."""
    known = band.filter(pl.col("band_position").is_not_null(), pl.col("municipality_code").is_not_null())
    pos, hours = pl.col("band_position"), pl.col("hours_per_week")
    return (known.group_by("product_code", "municipality_code")
            .agg(pl.len().alias("allocations"), pos.quantile(0.25, "linear").alias("q1"), pos.median().alias("median"),
                 pos.quantile(0.75, "linear").alias("q3"), pos.min().alias("lowest"), pos.max().alias("highest"),
                 hours.median().alias("median_hours"), (pl.col("band_class") == "below").mean().alias("below_share"))
            .sort("product_code", "municipality_code"))


def fig_indication_practice(practice: pl.DataFrame, lang: str, names: dict[str, str] | None = None) -> go.Figure | None:
    """Band positions per product, a box per municipality side by side (drawn from their
    quartiles, so the page stays small however many allocations there are)."""
    if practice.is_empty():
        return None
    names = names or {}
    fig = go.Figure()
    municipalities = sorted(practice["municipality_code"].unique().to_list())[:MAX_SERIES]
    for i, municipality in enumerate(municipalities):
        mine = practice.filter(pl.col("municipality_code") == municipality)
        name = names.get(municipality, municipality)
        fig.add_trace(go.Box(
            x=mine["product_code"].to_list(), q1=mine["q1"].to_list(), median=mine["median"].to_list(),
            q3=mine["q3"].to_list(), lowerfence=mine["lowest"].to_list(), upperfence=mine["highest"].to_list(),
            name=name, marker_color=_colour(i), customdata=mine["allocations"].to_list(),
            hovertemplate="%{x}: " + name + "<extra></extra>"))
    fig.add_hrect(y0=0, y1=1, fillcolor="#3a9d5d", opacity=0.08, line_width=0)
    fig.update_layout(boxmode="group", legend_title_text=label("municipality", lang))
    fig.update_yaxes(title=label("band_position", lang) + " (0 = min, 1 = max)")
    fig.update_xaxes(title=label("product_code", lang), type="category")
    title = ("Indicatiepraktijk: positie in de band per product, per gemeente" if lang == "nl"
             else "Indication practice: band position per product, per municipality")
    return _style(fig, title, lang, height=460)
