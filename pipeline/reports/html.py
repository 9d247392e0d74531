"""HTML page assembly with Jinja2 templates (autoescaped): headline cards, tables, figures, pages.

Every page carries its libraries (``libs``): it opens alone, offline, from a mail or an archive.
Tables become sortable, searchable, paginated DataTables in the page; figures are Plotly JSON
drawn by the page's loader with a toolbar in the reader's language whose buttons all stay on the
machine (zoom, pan, reset, download as PNG). Table cells are formatted with polars expressions over
whole columns; the template escapes them.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import jinja2
import plotly.graph_objects as go
import plotly.io as pio
import polars as pl
from markupsafe import Markup

from . import libs
from .i18n import (DATATABLES_LANGUAGE, PLOTLY_LOCALES, help_text, label, pl_fmt_date, pl_fmt_eur, pl_fmt_month,
                   pl_fmt_num, pl_fmt_pct)
from .tables import Column

TOP_N = 15  # rows of a follow-up list shown before "the full list is in the workbook"
PAGE_ROWS = 500  # at most this many rows of a list go into a page; the workbook has them all

# the Plotly toolbar: only buttons that act on the chart in the page, and a PNG download
MODEBAR_BUTTONS = ["toImage", "zoom2d", "pan2d", "zoomIn2d", "zoomOut2d", "autoScale2d", "resetScale2d"]

CSS = """
:root { --ink: #1d2a33; --muted: #5f6b73; --line: #d9dee2; --accent: #1f5f8b; --warn: #b42318; --ok: #2e7d4f; --amber: #b26a00; }
* { box-sizing: border-box; }
body { font-family: "Segoe UI", Helvetica, Arial, sans-serif; color: var(--ink); margin: 0; background: #f5f7f8; }
header { background: var(--accent); color: #fff; padding: 16px 32px 12px; }
header h1 { margin: 0 0 4px; font-size: 24px; font-weight: 600; }
header p { margin: 2px 0; font-size: 13px; opacity: .95; }
header a { color: #fff; }
nav.toc { margin-top: 8px; display: flex; flex-wrap: wrap; gap: 6px 16px; font-size: 13px; }
nav.toc a { color: #fff; text-decoration: none; border-bottom: 1px dotted #fff; }
main { padding: 8px 32px 24px; max-width: 1480px; }
footer { padding: 0 32px 24px; font-size: 12px; color: var(--muted); }
section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 14px 20px 18px; margin: 18px 0; }
h2 { font-size: 19px; margin: 4px 0 12px; color: var(--accent); }
h3 { font-size: 15px; margin: 20px 0 8px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin-bottom: 14px; }
.card { border: 1px solid var(--line); border-left: 5px solid var(--accent); border-radius: 4px; padding: 10px 14px; width: 232px; background: #fbfcfc; }
.card.warn { border-left-color: var(--warn); }
.card.amber { border-left-color: var(--amber); }
.card.good { border-left-color: var(--ok); }
.card .k { font-size: 12px; color: var(--muted); text-transform: uppercase; letter-spacing: .03em; }
.card .v { font-size: 23px; font-weight: 600; margin-top: 2px; }
.card .s { font-size: 12px; color: var(--muted); margin-top: 2px; }
.card .d { font-size: 12px; margin-top: 4px; font-weight: 600; }
.card .d.up { color: var(--warn); } .card .d.down { color: var(--ok); } .card .d.flat { color: var(--muted); }
.card .def { font-size: 11px; color: var(--muted); margin-top: 6px; border-top: 1px dotted var(--line); padding-top: 4px; }
.help { display: inline-block; width: 13px; height: 13px; line-height: 12px; border-radius: 50%; border: 1px solid var(--accent);
        color: var(--accent); font-size: 9px; font-weight: 700; text-align: center; cursor: help; margin-left: 3px;
        vertical-align: 1px; text-transform: none; letter-spacing: 0; }
th[title] { cursor: help; }
table { border-collapse: collapse; width: 100%; font-size: 12.5px; margin: 6px 0; }
th { text-align: left; background: #eef2f4; font-weight: 600; padding: 6px 6px; border-bottom: 2px solid var(--line); vertical-align: bottom; }
td { padding: 5px 6px; border-bottom: 1px solid var(--line); vertical-align: top; }
td.num { text-align: right; white-space: nowrap; }
th.num { text-align: right; }
td.nw { white-space: nowrap; }
td.why { min-width: 170px; }
td.flag { color: var(--warn); }
td.ok { color: var(--ok); }
.note { font-size: 12px; color: var(--muted); margin: 4px 0 0; }
.none { font-style: italic; color: var(--muted); padding: 10px 0; }
.loading { color: var(--muted); font-style: italic; }
.figure { margin: 8px 0 18px; }
.table-wrap { overflow-x: auto; margin-bottom: 8px; }
details.legend { font-size: 12px; color: var(--muted); margin: 4px 0; }
details.legend dt { font-weight: 600; color: var(--ink); margin-top: 4px; }
details.legend dd { margin-left: 12px; }
.light { display: inline-block; width: 12px; height: 12px; border-radius: 50%; vertical-align: -1px; margin-right: 6px; }
.light.red { background: var(--warn); } .light.amber { background: #e0a339; } .light.green { background: var(--ok); } .light.grey { background: #b9c4cc; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr)); gap: 12px; }
.tile { border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px; background: #fbfcfc; }
.tile h3 { margin: 0 0 6px; font-size: 15px; }
.tile p { margin: 3px 0; font-size: 13px; }
ol.changes li { margin: 6px 0; }
table.dt td, table.dt th { font-size: 12.5px; }
td { overflow-wrap: break-word; }
td.num, td.nw { overflow-wrap: normal; }
td.brk { overflow-wrap: anywhere; }
@media (max-width: 1280px) {
  main { padding: 8px 16px 24px; }
  section { padding: 12px 12px 14px; }
  table, table.dt td, table.dt th { font-size: 11.5px; }
  td, th { padding: 4px 4px; }
  table.dataTable thead > tr > th.dt-orderable-asc, table.dataTable thead > tr > th.dt-orderable-desc { padding-right: 18px; }
  td.why { min-width: 140px; }
  td { overflow-wrap: anywhere; }
  .opt { display: none; }
}
@page { size: A4 landscape; margin: 10mm; }
@media print {
  body { background: #fff; }
  header { background: #fff; color: var(--ink); padding: 0 0 8px; border-bottom: 2px solid var(--accent); }
  header a, nav.toc { display: none; }
  main { padding: 0; max-width: none; }
  section { border: none; padding: 0; margin: 10px 0; break-inside: auto; }
  .card { break-inside: avoid; width: 230px; }
  .figure { break-inside: avoid; }
  table { font-size: 9px; }
  table.dt td, table.dt th { font-size: 9px; padding: 2px 3px; }
  td.why { min-width: 0; }
  td, th { overflow-wrap: anywhere; }
  td.num, th.num { overflow-wrap: normal; }
  tr { break-inside: avoid; }
  thead { display: table-header-group; }
  .table-wrap { overflow: visible; }
  .dt-search, .dt-length, .dt-paging, .dt-info { display: none !important; }
  details.legend { display: none; }
}
"""

NUMERIC_KINDS = {"eur", "pct", "num", "int", "num2"}

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("pipeline.reports", "templates"),
    autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
    trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
)
_PARTS = _ENV.get_template("parts.html")


def _macro(name: str, *args) -> Markup:
    return Markup(getattr(_PARTS.module, name)(*args))


def text(tag: str, content: str, css: str | None = None) -> Markup:
    """A small element with escaped text: heading(), note() and paragraph helpers build on it."""
    template = _ENV.from_string("<{{ tag }}{% if css %} class=\"{{ css }}\"{% endif %}>{{ content }}</{{ tag }}>")
    return Markup(template.render(tag=tag, content=content, css=css))


def heading(content: str) -> Markup:
    return text("h3", content)


def note(content: str) -> Markup:
    return text("p", content, "note")


def none_html(content: str) -> Markup:
    return text("p", content, "none")


def link(href: str, content: str) -> Markup:
    return Markup(_ENV.from_string('<a href="{{ href }}">{{ content }}</a>').render(href=href, content=content))


def render(template: str, **context) -> Markup:
    """Render a template string with autoescaping (for the index's own blocks)."""
    return Markup(_ENV.from_string(template).render(**context))


# ------------------------------------------------------------------------------------ cells


def _escape_free(expr: pl.Expr) -> pl.Expr:
    return expr.str.replace_all("€ ", "€\u00a0", literal=True)


def format_column(column: Column, lang: str) -> pl.Expr:
    """The display text of one column, as a polars expression."""
    c = pl.col(column.name)
    match column.kind:
        case "eur":
            shown = pl_fmt_eur(c, lang, 0 if column.decimals is None else column.decimals)
        case "pct":
            shown = pl_fmt_pct(c, lang)
        case "num":
            shown = pl_fmt_num(c, lang, 1).str.replace(r"[,.]0$", "")
        case "num2":
            shown = pl_fmt_num(c, lang, 2)
        case "int":
            shown = pl_fmt_num(c, lang, 0)
        case "date":
            shown = pl_fmt_date(c, lang)
        case "month":
            shown = pl_fmt_month(c, lang)
        case _:
            shown = c.cast(pl.String)
            if column.name == "law":
                shown = shown.replace({"wmo": "Wmo", "jeugd": "Jeugd"})
    blank = column.blank if column.blank is not None else ""
    return _escape_free(shown).fill_null(blank)


def _order_value(column: Column) -> pl.Expr | None:
    c = pl.col(column.name)
    if column.kind in NUMERIC_KINDS:
        return c.cast(pl.Float64).round(4).cast(pl.String).fill_null("")
    if column.kind in ("date", "month"):
        return c.cast(pl.Date).dt.strftime("%Y-%m-%d").fill_null("")
    return None


def _css(column: Column) -> str:
    css = ("num" if column.kind in NUMERIC_KINDS else "why" if column.name == "why"
           else "nw" if column.kind in ("date", "month")
           else "brk" if column.name in ("allocation_number", "source_file", "reference_number") else "")
    return f"{css} opt".strip() if column.optional else css


@dataclasses.dataclass(frozen=True)
class _Head:
    head: str
    help: str
    css: str


def table_html(frame: pl.DataFrame, columns: list[Column] | tuple[Column, ...], lang: str,
               limit: int | None = None, *, order_by: str | bool | None = None, note_text: str | None = None,
               interactive: bool = True, ascending: bool = False) -> Markup:
    """A table of ``columns`` of ``frame`` (the first ``limit`` rows, at most PAGE_ROWS): sortable,
    searchable and paginated in the page, first sorted by ``order_by`` (a column name, descending;
    default: the first euro column), every header with its definition on hover."""
    columns = [c for c in columns if c.name in frame.columns]
    limit = min(limit or PAGE_ROWS, PAGE_ROWS)
    shown = frame.head(limit)
    exprs = []
    for i, c in enumerate(columns):
        exprs.append(format_column(c, lang).alias(f"t{i}"))
        order = _order_value(c)
        if order is not None:
            exprs.append(order.alias(f"o{i}"))
    cells = shown.select(exprs) if exprs and shown.height else pl.DataFrame()
    css = [_css(c) for c in columns]
    orders = [f"o{i}" in cells.columns for i in range(len(columns))]
    rows = []
    if shown.height:
        texts = [cells[f"t{i}"].to_list() for i in range(len(columns))]
        order_values = [cells[f"o{i}"].to_list() if orders[i] else None for i in range(len(columns))]
        for r in range(shown.height):
            rows.append([(texts[i][r], order_values[i][r] if order_values[i] is not None else None, css[i])
                         for i in range(len(columns))])
    order_col = None
    if order_by is False:  # keep the frame's own order (e.g. urgency)
        order_col = None
    elif order_by is not None:
        order_col = next((i for i, c in enumerate(columns) if c.name == order_by), None)
    if order_col is None and order_by is not False:
        order_col = next((i for i, c in enumerate(columns) if c.kind == "eur"), None)
    order = json.dumps([[order_col, "asc" if ascending else "desc"]] if order_col is not None else [])
    heads = [_Head(label(c.label, lang), help_text(c.label, lang), css[i]) for i, c in enumerate(columns)]
    t = {
        "interactive": interactive, "order": order, "page_length": 10, "columns": heads, "rows": rows,
        "note": note_text, "legend": [], "legend_title": "",
    }
    return _macro("table", t)


def followup_html(frame: pl.DataFrame, columns, lang: str, *, empty_text: str, sheet: str,
                  workbook: str, limit: int = PAGE_ROWS, order_by: str | None = None) -> Markup:
    """A follow-up table (sortable, searchable, paginated) and where the full list is; a 'geen'
    line when empty."""
    if frame.is_empty():
        return none_html(empty_text)
    total = frame.height
    if total > limit:
        text_ = label("full_list_note", lang).format(n=limit, total=total, file=workbook, sheet=sheet)
    else:
        text_ = label("full_list_in", lang).format(total=total, file=workbook, sheet=sheet)
    return table_html(frame, columns, lang, limit, order_by=order_by, note_text=text_)


# ---------------------------------------------------------------------------------- figures


ROUNDED = ("x", "y", "q1", "median", "q3", "lowerfence", "upperfence", "mean", "base")


def _rounded(values):
    """Floats to 4 decimals: sums of doubles added in another order (polars aggregates on several
    threads) differ in their last bits, and a rerun must write the same bytes."""
    if values is None or isinstance(values, str):
        return values
    try:
        items = list(values)
    except TypeError:
        return round(values, 4) if isinstance(values, float) else values
    return [round(v, 4) if isinstance(v, float) else v for v in items]


def figure_json(fig: go.Figure) -> str:
    """The figure as JSON that may sit inside a <script> element."""
    for trace in fig.data:
        for name in ROUNDED:
            if name in trace and trace[name] is not None and not isinstance(trace[name], str):
                trace[name] = _rounded(trace[name])
    data = pio.to_json(fig, validate=False, pretty=False, engine="json")
    return data.replace("</", "<\\/").replace("<!--", "<\\!--")


def figure_html(fig: go.Figure | None, div_id: str, empty_text: str) -> Markup:
    """A figure block with a stable div id, or a 'geen' message that says why there is nothing."""
    if fig is None:
        return none_html(empty_text)
    height = fig.layout.height or 420
    return _macro("figure", div_id, int(height), Markup(figure_json(fig)))


# ----------------------------------------------------------------------------- cards, pages


@dataclasses.dataclass(frozen=True)
class Card:
    key: str
    value: str
    sub: str = ""
    tone: str = ""  # "", "warn", "amber", "good"
    help: str = ""
    change: str = ""
    change_tone: str = "flat"  # up (worse), down (better), flat
    value_id: str = ""  # an id on the value, for a chart that updates it (the rekenfactor slider)


def cards_html(cards: list) -> Markup:
    """Headline cards: Card objects, or (key, value, subtitle, warn) tuples."""
    items = [c if isinstance(c, Card) else Card(c[0], c[1], c[2], "warn" if c[3] else "") for c in cards]
    return _macro("cards", items)


def section_html(title: str, *parts: str, section_id: str | None = None) -> Markup:
    return _macro("section", title, [Markup(p) for p in parts], section_id)


def page_config(lang: str) -> str:
    config = {
        "plotly": {"displaylogo": False, "responsive": True, "locale": lang, "showLink": False,
                   "showSendToCloud": False, "showEditInChartStudio": False, "showTips": False,
                   "modeBarButtons": [MODEBAR_BUTTONS]},
        "plotly_locale": PLOTLY_LOCALES[lang],
        "datatables": DATATABLES_LANGUAGE[lang],
        "failed": label("page_failed", lang),
    }
    return json.dumps(config, ensure_ascii=False, sort_keys=True).replace("</", "<\\/")


def page_html(title: str, subtitle_lines: list[str], sections: list[str], lang: str, *,
              back_link: bool = True, with_plotly: bool = True, toc: list[tuple[str, str]] | None = None,
              footer: str = "") -> str:
    """A whole page. ``with_plotly`` False leaves the libraries out (a page without figures or
    tables, such as an empty archive)."""
    template = _ENV.get_template("page.html")
    return template.render(
        lang=lang, title=title, subtitle=subtitle_lines, back_link=back_link,
        back_text=label("back_to_index", lang), toc=toc or [], css=Markup(CSS),
        sections=[Markup(s) for s in sections], interactive=with_plotly,
        libs=libs.packed() if with_plotly else {}, config=Markup(page_config(lang)),
        loader=Markup(libs.loader()), noscript=label("noscript", lang), loading=label("loading", lang),
        footer=footer,
    )


def write_page(path: Path, content: str) -> Path:
    path.write_text(content, encoding="utf-8", newline="\n")
    return path
