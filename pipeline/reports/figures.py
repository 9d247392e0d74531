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
    """A y axis of whole numbers: no 0,2 steps when the counts are small."""
    top = float(maximum or 0)
    return {"tickformat": ",d", "dtick": max(1, math.ceil(top / 6)), "rangemode": "tozero"}


# monthly values (dated on the first of the month) drawn in the middle of their month
MID_MONTH = {"xperiod": "M1", "xperiodalignment": "middle"}


def _month_axis(lang: str, dtick: str = "M1") -> dict:
    """A monthly date axis whose labels sit in the middle of each month."""
    return {"tickformat": plotly_month_format(lang), "dtick": dtick, "ticklabelmode": "period"}


def _colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


# ------------------------------------------------------------------ Maandrapportage


def fig_cumulative_spend(cumulative: pl.DataFrame, headline: pl.DataFrame, as_of: dt.date, lang: str) -> go.Figure | None:
    """Cumulative approved euros per law through the year, the budget line and the forecast.

    ``cumulative``: law, month, cumulative_eur. ``headline``: law, budget_eur, forecast_eur.
    """
    if cumulative.is_empty() and headline.is_empty():
        return None
    fig = go.Figure()
    year_start, year_end = dt.date(as_of.year, 1, 1), dt.date(as_of.year, 12, 31)
    laws = sorted(set(cumulative["law"].to_list()) | set(headline["law"].to_list()))
    points = cumulative.with_columns(pl.col("month").dt.month_end().alias("month_end"))
    for i, law in enumerate(laws):
        colour = _colour(i)
        mine = points.filter(pl.col("law") == law)
        x = [year_start, *mine["month_end"].to_list()]
        y = [0.0, *mine["cumulative_eur"].to_list()]
        fig.add_trace(go.Scatter(
            x=x, y=y, mode="lines+markers", name=f"{law}: {label('cumulative_approved', lang)}",
            line={"color": colour, "width": 3},
            hovertemplate="%{x|" + plotly_date_format(lang) + "}<br>€ %{y:,.0f}<extra>" + law + "</extra>",
        ))
        row = headline.filter(pl.col("law") == law)
        if row.is_empty():
            continue
        budget, forecast = row["budget_eur"][0], row["forecast_eur"][0]
        if budget is not None:
            fig.add_trace(go.Scatter(
                x=[year_start, year_end], y=[budget, budget], mode="lines",
                name=f"{law}: {label('budget_line', lang)}", line={"color": colour, "dash": "dash", "width": 1.5},
                hovertemplate="€ %{y:,.0f}<extra>" + law + " budget</extra>",
            ))
        if forecast is not None:
            fig.add_trace(go.Scatter(
                x=[x[-1], year_end], y=[y[-1], forecast], mode="lines+markers",
                name=f"{law}: {label('forecast_line', lang)}", line={"color": colour, "dash": "dot", "width": 2},
                marker={"symbol": "diamond"},
                hovertemplate="%{x|" + plotly_date_format(lang) + "}<br>€ %{y:,.0f}<extra>" + law + "</extra>",
            ))
    fig.update_yaxes(**_eur_axis(lang), rangemode="tozero")
    fig.update_xaxes(**_month_axis(lang), range=[year_start, year_end])
    return _style(fig, f"{label('cumulative_approved', lang)} {as_of.year}", lang)


def fig_category_spend(by_category: pl.DataFrame, lang: str) -> go.Figure | None:
    """Stacked approved / pending / expected late / committed per product category, budget markers."""
    if by_category.is_empty():
        return None
    names = by_category.select(pl.concat_str(["law", pl.lit(" "), "product_category"]).alias("n"))["n"].to_list()
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
    fig.update_yaxes(autorange="reversed", title=label("product_category", lang))
    return _style(fig, f"{label('spend', lang)} {label('forecast', lang).lower()} · {label('product_category', lang).lower()}",
                  lang, height=max(320, 110 + 40 * len(names)))


def fig_top_providers(by_spend: pl.DataFrame, by_overshoot: pl.DataFrame, by_lateness: pl.DataFrame, lang: str) -> go.Figure | None:
    """Three panels: top providers by approved spend, by overshoot euros and by late euros."""
    panels = [
        (by_spend, "approved_amount_eur", label("spend", lang)),
        (by_overshoot, "excess_eur", label("overshoot_eur", lang)),
        (by_lateness, "late_amount_eur", label("late_amount", lang)),
    ]
    if all(frame.is_empty() for frame, _, _ in panels):
        return None
    fig = make_subplots(rows=1, cols=3, subplot_titles=[t for _, _, t in panels], horizontal_spacing=0.12)
    for i, (frame, column, title) in enumerate(panels, start=1):
        fig.add_trace(go.Bar(
            y=frame["provider_agb"].to_list(), x=frame[column].to_list(), orientation="h", name=title,
            marker_color=_colour(i - 1), showlegend=False,
            hovertemplate="%{y}: € %{x:,.0f}<extra></extra>",
        ), row=1, col=i)
        fig.update_yaxes(autorange="reversed", type="category", row=1, col=i)
        fig.update_xaxes(**_eur_axis(lang), row=1, col=i)
        if frame.is_empty():
            fig.add_annotation(text=label("none", lang), showarrow=False, row=1, col=i,
                               xref=f"x{i if i > 1 else ''} domain", yref=f"y{i if i > 1 else ''} domain", x=0.5, y=0.5)
    return _style(fig, label("providers_total", lang) + " · top 10", lang, height=440)


def fig_overshoots(summary: pl.DataFrame, lang: str) -> go.Figure | None:
    """Period overshoots, compensated peaks and real overshoots: counts (left) and euros (right)."""
    if summary.is_empty() or summary["count"].sum() == 0:
        return None
    fig = make_subplots(rows=1, cols=2, subplot_titles=[label("count", lang), label("euros", lang)])
    colours = ["#e0a339", "#3a9d5d", "#c23b3b"]
    classes = summary["class"].to_list()
    fig.add_trace(go.Bar(x=classes, y=summary["count"].to_list(), marker_color=colours, showlegend=False,
                         text=summary["count"].to_list(), textposition="outside",
                         hovertemplate="%{x}: %{y:,.0f}<extra></extra>"), row=1, col=1)
    fig.add_trace(go.Bar(x=classes, y=summary["eur"].to_list(), marker_color=colours, showlegend=False,
                         hovertemplate="%{x}: € %{y:,.0f}<extra></extra>"), row=1, col=2)
    fig.update_yaxes(**_count_axis(summary["count"].max()), row=1, col=1)
    fig.update_yaxes(**_eur_axis(lang), rangemode="tozero", row=1, col=2)
    return _style(fig, f"{label('period_overshoots', lang)} · {label('compensated_peaks', lang).lower()} · "
                       f"{label('real_overshoots', lang).lower()}", lang, height=400)


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


def fig_timeliness(timeliness: pl.DataFrame, rejections: pl.DataFrame, lang: str) -> go.Figure | None:
    """Late lines per month by provider (left) and rejected euros per month by category (right)."""
    if timeliness.is_empty() and rejections.is_empty():
        return None
    fig = make_subplots(rows=1, cols=2, subplot_titles=[
        f"{label('late_lines', lang)} · {label('provider', lang).lower()}",
        f"{label('rejected_amount', lang)} · {label('category', lang).lower()}",
    ], horizontal_spacing=0.1)
    late = _top_n_other(timeliness, "provider_agb", "late_lines", 5, lang)
    late = late.group_by("provider_agb", "month").agg(pl.col("late_lines").sum()).sort("provider_agb", "month")
    for i, provider in enumerate(sorted(late["provider_agb"].unique().to_list())):
        mine = late.filter(pl.col("provider_agb") == provider)
        fig.add_trace(go.Bar(x=mine["month"].to_list(), y=mine["late_lines"].to_list(), name=provider,
                             marker_color=_colour(i), legendgroup="late", legendgrouptitle_text=label("provider", lang), **MID_MONTH,
                             hovertemplate="%{x|" + plotly_month_format(lang) + "}: %{y:,.0f}<extra>" + provider + "</extra>"),
                      row=1, col=1)
    rej = rejections.group_by("category", "month").agg(pl.col("amount_eur").sum()).sort("category", "month")
    for i, category in enumerate(sorted(rej["category"].unique().to_list())):
        mine = rej.filter(pl.col("category") == category)
        fig.add_trace(go.Bar(x=mine["month"].to_list(), y=mine["amount_eur"].to_list(), name=category,
                             marker_color=_colour(i + 6), legendgroup="rej", legendgrouptitle_text=label("category", lang), **MID_MONTH,
                             hovertemplate="%{x|" + plotly_month_format(lang) + "}: € %{y:,.0f}<extra>" + category + "</extra>"),
                      row=1, col=2)
    fig.update_layout(barmode="stack")
    fig.update_xaxes(**_month_axis(lang, "M2"))
    fig.update_yaxes(**_count_axis(late.group_by("month").agg(pl.col("late_lines").sum())["late_lines"].max()), row=1, col=1)
    fig.update_yaxes(**_eur_axis(lang), row=1, col=2)
    return _style(fig, f"{label('late_lines', lang)} · {label('rejected_amount', lang).lower()}", lang, height=480)


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
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=providers, vertical_spacing=0.25 / rows + 0.04,
                        horizontal_spacing=0.08)
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
    fig.update_xaxes(range=[year_start, year_end], **_month_axis(lang, "M3"))
    fig.update_yaxes(**_eur_axis(lang), rangemode="tozero")
    return _style(fig, f"{label('realised', lang)} · {label('ceiling', lang).lower()} {year}", lang,
                  height=140 + 240 * rows)


def fig_hours_per_client(monthly: pl.DataFrame, agreement: pl.DataFrame, lang: str) -> go.Figure | None:
    """Hours per client per month by provider, with each provider's urenafspraak as a dashed line."""
    if monthly.is_empty():
        return None
    fig = go.Figure()
    for i, provider in enumerate(sorted(monthly["provider_agb"].unique().to_list())):
        mine = monthly.filter(pl.col("provider_agb") == provider).sort("month")
        colour = _colour(i)
        fig.add_trace(go.Scatter(
            x=mine["month"].to_list(), y=mine["hours_per_client"].to_list(), mode="lines+markers", name=provider,
            line={"color": colour}, legendgroup=provider, **MID_MONTH,
            hovertemplate="%{x|" + plotly_month_format(lang) + "}: %{y:,.2f}<extra>" + provider + "</extra>",
        ))
        limit = agreement.filter(pl.col("provider_agb") == provider)["max_hours_per_client_month"]
        if len(limit) and limit[0] is not None and len(mine):
            fig.add_trace(go.Scatter(
                x=[mine["month"][0], mine["month"][-1]], y=[limit[0], limit[0]], mode="lines",
                name=f"{provider}: {label('urenafspraak', lang)}", line={"color": colour, "dash": "dash", "width": 1},
                legendgroup=provider, hovertemplate="%{y:,.2f}<extra>" + label("urenafspraak", lang) + "</extra>", **MID_MONTH,
            ))
    fig.update_xaxes(**_month_axis(lang))
    fig.update_yaxes(title=label("hours_per_client", lang), rangemode="tozero")
    return _style(fig, label("hours_per_client", lang), lang, height=440)


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
        mine = band.filter(pl.col("product_code") == product)
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


def fig_quarantine_files(summary: pl.DataFrame, lang: str) -> go.Figure | None:
    if summary.is_empty():
        return None
    files = summary["source_file"].to_list()
    fig = go.Figure()
    for key, colour in (("rows_loaded", "#3a9d5d"), ("rows_quarantined", "#c23b3b")):
        fig.add_trace(go.Bar(y=files, x=summary[key].to_list(), orientation="h", name=label(key, lang),
                             marker_color=colour, hovertemplate="%{y}: %{x:,.0f}<extra>" + label(key, lang) + "</extra>"))
    fig.update_layout(barmode="stack")
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(title=label("rows", lang), tickformat=",d")
    return _style(fig, f"{label('rows_loaded', lang)} · {label('rows_quarantined', lang).lower()}", lang,
                  height=max(300, 130 + 28 * len(files)))


def fig_quarantine_reasons(reasons: pl.DataFrame, lang: str) -> go.Figure | None:
    if reasons.is_empty():
        return None
    by_reason = (
        reasons.group_by("reason_code").agg(pl.col("rows").sum(), pl.col("reason_text").first())
        .sort(["rows", "reason_code"], descending=[True, False])
    )
    fig = go.Figure(go.Bar(x=by_reason["reason_code"].to_list(), y=by_reason["rows"].to_list(),
                           customdata=by_reason["reason_text"].to_list(), marker_color="#c23b3b",
                           hovertemplate="%{x}: %{y:,.0f}<br>%{customdata}<extra></extra>"))
    fig.update_xaxes(type="category", title=label("reason_code", lang))
    fig.update_yaxes(title=label("rows", lang), **_count_axis(by_reason["rows"].max()))
    return _style(fig, label("rows_quarantined", lang) + " · " + label("reason", lang).lower(), lang, height=380)


def fig_rejections(rejections: pl.DataFrame, lang: str) -> go.Figure | None:
    """Rejected euros per category (left) and rejected lines per return code (right)."""
    if rejections.is_empty():
        return None
    by_cat = rejections.group_by("category").agg(pl.col("amount_eur").sum()).sort(["amount_eur", "category"], descending=[True, False])
    by_code = (rejections.group_by("return_code").agg(pl.col("lines").sum(), pl.col("category").first())
               .sort(["lines", "return_code"], descending=[True, False]))
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
    late = _top_n_other(timeliness, "provider_agb", "late_answers", 5, lang)
    late = late.group_by("provider_agb", "month").agg(pl.col("late_answers").sum()).sort("provider_agb", "month")
    fig = go.Figure()
    for i, provider in enumerate(sorted(late["provider_agb"].unique().to_list())):
        mine = late.filter(pl.col("provider_agb") == provider)
        fig.add_trace(go.Bar(x=mine["month"].to_list(), y=mine["late_answers"].to_list(), name=provider,
                             marker_color=_colour(i), **MID_MONTH,
                             hovertemplate="%{x|" + plotly_month_format(lang) + "}: %{y:,.0f}<extra>" + provider + "</extra>"))
    fig.update_layout(barmode="stack")
    fig.update_xaxes(**_month_axis(lang))
    fig.update_yaxes(**_count_axis(late.group_by("month").agg(pl.col("late_answers").sum())["late_answers"].max()))
    return _style(fig, label("late_answers", lang), lang, height=400)
