"""HTML page assembly: headline cards and tables, figure blocks, follow-up tables.

Plotly.js is not embedded: every page loads ``plotly.min.js`` from its own folder (the file that
``write_html(include_plotlyjs="directory")`` writes), so the reports open offline and stay small.
Table cells are formatted and escaped with polars expressions over whole columns.
"""

from __future__ import annotations

import html
from pathlib import Path

import plotly.graph_objects as go
import polars as pl
from plotly.offline import get_plotlyjs

from .i18n import label, pl_fmt_date, pl_fmt_eur, pl_fmt_month, pl_fmt_num, pl_fmt_pct
from .tables import Column

PLOTLY_JS = "plotly.min.js"
TOP_N = 15

CSS = """
:root { --ink: #1d2a33; --muted: #5f6b73; --line: #d9dee2; --accent: #1f5f8b; --warn: #c23b3b; }
* { box-sizing: border-box; }
body { font-family: "Segoe UI", Helvetica, Arial, sans-serif; color: var(--ink); margin: 0; background: #f5f7f8; }
header { background: var(--accent); color: #fff; padding: 18px 32px 14px; }
header h1 { margin: 0 0 4px; font-size: 24px; font-weight: 600; }
header p { margin: 2px 0; font-size: 13px; opacity: .92; }
header a { color: #fff; }
main { padding: 8px 32px 40px; max-width: 1480px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 14px 20px 18px; margin: 18px 0; }
h2 { font-size: 19px; margin: 4px 0 12px; color: var(--accent); }
h3 { font-size: 15px; margin: 18px 0 8px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin-bottom: 14px; }
.card { border: 1px solid var(--line); border-left: 5px solid var(--accent); border-radius: 4px; padding: 10px 14px; min-width: 190px; background: #fbfcfc; }
.card.warn { border-left-color: var(--warn); }
.card .k { font-size: 12px; color: var(--muted); text-transform: uppercase; letter-spacing: .03em; }
.card .v { font-size: 24px; font-weight: 600; margin-top: 2px; }
.card .s { font-size: 12px; color: var(--muted); margin-top: 2px; }
table { border-collapse: collapse; width: 100%; font-size: 12.5px; margin: 6px 0; }
th { text-align: left; background: #eef2f4; font-weight: 600; padding: 6px 6px; border-bottom: 2px solid var(--line); }
td { padding: 5px 6px; border-bottom: 1px solid var(--line); vertical-align: top; }
td.num, th.num { text-align: right; white-space: nowrap; }
td.nw { white-space: nowrap; }
td.why { min-width: 220px; }
tr:hover td { background: #f7fafb; }
.why { color: var(--warn); }
.note { font-size: 12px; color: var(--muted); margin: 4px 0 0; }
.none { font-style: italic; color: var(--muted); padding: 10px 0; }
.figure { margin: 8px 0 18px; }
nav ul { padding-left: 18px; margin: 4px 0 8px; }
nav li { margin: 4px 0; }
.scroll { overflow-x: auto; }
"""

NUMERIC_KINDS = {"eur", "pct", "num", "int", "num2"}


def ensure_plotly_js(out_dir: Path) -> Path:
    """Write plotly.min.js next to the reports (as include_plotlyjs="directory" does), once."""
    path = out_dir / PLOTLY_JS
    content = get_plotlyjs().encode("utf-8")
    if not path.exists() or path.read_bytes() != content:
        path.write_bytes(content)
    return path


def _escape(expr: pl.Expr) -> pl.Expr:
    return (
        expr.str.replace_all("&", "&amp;", literal=True)
        .str.replace_all("<", "&lt;", literal=True)
        .str.replace_all(">", "&gt;", literal=True)
        .str.replace_all('"', "&quot;", literal=True)
        .str.replace_all("€ ", "€&nbsp;", literal=True)
    )


def format_column(column: Column, lang: str) -> pl.Expr:
    """The display text of one column, as a polars expression."""
    c = pl.col(column.name)
    match column.kind:
        case "eur":
            text = pl_fmt_eur(c, lang)
        case "pct":
            text = pl_fmt_pct(c, lang)
        case "num":
            text = pl_fmt_num(c, lang, 1).str.replace(r"[,.]0$", "")
        case "num2":
            text = pl_fmt_num(c, lang, 2)
        case "int":
            text = pl_fmt_num(c, lang, 0)
        case "date":
            text = pl_fmt_date(c, lang)
        case "month":
            text = pl_fmt_month(c, lang)
        case _:
            text = c.cast(pl.String)
    return text.fill_null("")


def table_html(frame: pl.DataFrame, columns: list[Column] | tuple[Column, ...], lang: str,
               limit: int | None = None) -> str:
    """An HTML table of ``columns`` of ``frame`` (the first ``limit`` rows)."""
    shown = frame.head(limit) if limit is not None else frame
    heads = "".join(
        f'<th class="{"num" if c.kind in NUMERIC_KINDS else ""}">{html.escape(label(c.label, lang))}</th>'
        for c in columns
    )
    if shown.is_empty():
        return f"<table><thead><tr>{heads}</tr></thead><tbody></tbody></table>"
    cells = []
    for c in columns:
        css = ("num" if c.kind in NUMERIC_KINDS else "why" if c.name == "why"
               else "nw" if c.kind in ("date", "month") else "")
        cells += [pl.lit(f'<td class="{css}">'), _escape(format_column(c, lang)), pl.lit("</td>")]
    rows = shown.select(pl.concat_str([pl.lit("<tr>"), *cells, pl.lit("</tr>")]).alias("row"))["row"]
    return f'<div class="scroll"><table><thead><tr>{heads}</tr></thead><tbody>{"".join(rows.to_list())}</tbody></table></div>'


def none_html(text: str) -> str:
    return f'<p class="none">{html.escape(text)}</p>'


def followup_html(frame: pl.DataFrame, columns, lang: str, *, empty_text: str, sheet: str,
                  workbook: str, limit: int = TOP_N) -> str:
    """A follow-up table: the top rows, and where the full list is; a 'geen' line when empty."""
    if frame.is_empty():
        return none_html(empty_text)
    total = frame.height
    if total > limit:
        note = label("full_list_note", lang).format(n=limit, total=total, file=workbook, sheet=sheet)
    else:
        note = label("full_list_in", lang).format(file=workbook, sheet=sheet)
    return table_html(frame, columns, lang, limit) + f'<p class="note">{html.escape(note)}</p>'


def figure_html(fig: go.Figure | None, div_id: str, empty_text: str) -> str:
    """A figure block with a stable div id, or a 'geen' message when there is nothing to plot."""
    if fig is None:
        return none_html(empty_text)
    height = fig.layout.height or 420
    body = fig.to_html(
        full_html=False,
        include_plotlyjs=False,
        div_id=div_id,
        default_width="100%",
        default_height=f"{height}px",
        config={"displaylogo": False, "responsive": True},
    )
    return f'<div class="figure">{body}</div>'


def cards_html(cards: list[tuple[str, str, str, bool]]) -> str:
    """Headline cards: (key, value, subtitle, warn)."""
    items = "".join(
        f'<div class="card{" warn" if warn else ""}"><div class="k">{html.escape(k)}</div>'
        f'<div class="v">{html.escape(v)}</div><div class="s">{html.escape(s)}</div></div>'
        for k, v, s, warn in cards
    )
    return f'<div class="cards">{items}</div>'


def section_html(title: str, *parts: str, section_id: str | None = None) -> str:
    ident = f' id="{section_id}"' if section_id else ""
    return f"<section{ident}><h2>{html.escape(title)}</h2>{''.join(parts)}</section>"


def page_html(title: str, subtitle_lines: list[str], sections: list[str], lang: str, *,
              back_link: bool = True, with_plotly: bool = True) -> str:
    head_script = f'<script src="{PLOTLY_JS}" charset="utf-8"></script>' if with_plotly else ""
    back = f'<p><a href="index.html">← {html.escape(label("back_to_index", lang))}</a></p>' if back_link else ""
    subtitle = "".join(f"<p>{html.escape(line)}</p>" for line in subtitle_lines)
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{CSS}</style>\n{head_script}\n</head>\n<body>\n"
        f"<header><h1>{html.escape(title)}</h1>{subtitle}{back}</header>\n"
        f"<main>\n{''.join(sections)}\n</main>\n</body>\n</html>\n"
    )


def write_page(path: Path, content: str) -> Path:
    path.write_text(content, encoding="utf-8", newline="\n")
    return path
