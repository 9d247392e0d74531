"""The follow-up workbook: a cover sheet, then one sheet per flagged list as an Excel table.

- The cover sheet ("Toelichting") says the reporting date and what each list means.
- Every list is an Excel table (filter buttons, banded rows, a name per table), frozen below its
  header, with names beside codes and the empty columns ``status``, ``owner`` and ``note`` for
  the follow-up itself.
- Number formats that Dutch Excel shows right: whole numbers as ``#,##0`` (never "304,"),
  fractional volumes as ``#,##0.0#``, euros as ``€ #,##0.00``, dates as ``dd-mm-yyyy``.
- Text is always written as a text cell, so a value such as ``=SUM(A1)`` or ``+31…`` stays a
  string and can never run as a formula (tested).

The sheets are written by rust_xlsxwriter (through rustpy-xlsxwriter) straight from the Arrow
columns: at national scale (about 300 thousand rows) xlsxwriter, a cell at a time in Python, took
25 s. rustpy-xlsxwriter has no Excel tables, so the table parts (a few lines of SpreadsheetML per
sheet) are added to the package afterwards, replacing the sheet's plain autofilter. The cell
contents are reproducible; only the creation time in the file's properties changes per run.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator
from xml.sax.saxutils import escape

import polars as pl
import rustpy_xlsxwriter as rxw

from .i18n import fmt_date, label
from .tables import FollowUpList

WORKBOOK = "opvolglijsten.xlsx"
FOLLOW_UP = ("status", "owner", "note")

EXCEL_FORMATS = {
    "nl": {"eur": "€ #,##0.00", "pct": "0.0%", "num": "#,##0.0#", "num2": "#,##0.00", "int": "#,##0",
           "whole": "#,##0", "date": "dd-mm-yyyy", "month": "mmm yyyy"},
    "en": {"eur": "€ #,##0.00", "pct": "0.0%", "num": "#,##0.0#", "num2": "#,##0.00", "int": "#,##0",
           "whole": "#,##0", "date": "yyyy-mm-dd", "month": "mmm yyyy"},
}

COVER = {"nl": "Toelichting", "en": "About"}
# the status column's drop-down (free text stays possible in owner and note)
STATUS_VALUES = {"nl": ["open", "in behandeling", "besproken met aanbieder", "afgehandeld", "geen actie nodig"],
                 "en": ["open", "in progress", "discussed with provider", "done", "no action needed"]}
TABLE_STYLE = "TableStyleMedium2"


def _code_label(lang: str) -> str:
    return "code"


def sheet_frame(item: FollowUpList, lang: str) -> pl.DataFrame:
    """The columns of a list, in order, with the reader's headers: a named code column gives a
    code column and a name column; the follow-up columns come last, empty."""
    exprs, seen = [], set()
    for c in item.columns:
        if c.name not in item.frame.columns:
            continue
        head = label(c.label, lang)
        if c.name.endswith("_name") and c.name[: -len("_name")] in item.frame.columns:
            code = c.name[: -len("_name")]
            exprs.append(pl.col(code).cast(pl.String).alias(f"{head} ({_code_label(lang)})"))
            exprs.append(pl.col(c.name).str.replace(r" \([^()]*\)$", "").alias(head))
        else:
            exprs.append(pl.col(c.name).alias(head))
        seen.add(head)
    frame = item.frame.select(exprs) if exprs else pl.DataFrame()
    return frame.with_columns(pl.lit(None, dtype=pl.String).alias(label(k, lang)) for k in FOLLOW_UP)


def _kinds(item: FollowUpList, frame: pl.DataFrame, lang: str) -> dict[str, str]:
    """Header -> format kind; volumes that are all whole numbers get the whole-number format."""
    kinds = {}
    for c in item.columns:
        if c.name not in item.frame.columns or c.name.endswith("_name"):
            continue
        head = label(c.label, lang)
        kind = c.kind
        if kind in ("num", "num2") and head in frame.columns:
            values = frame[head].drop_nulls()
            if values.len() and (values.cast(pl.Float64).round(0) == values.cast(pl.Float64)).all():
                kind = "whole"
        kinds[head] = kind
    return kinds


def cover_frame(lists: list[FollowUpList], as_of: dt.date | None, lang: str) -> pl.DataFrame:
    from .writer import LIST_MEANING

    nl = lang == "nl"
    rows = [
        ("Peildatum" if nl else "As of", fmt_date(as_of, lang) if as_of else ""),
        ("Wat dit is" if nl else "What this is",
         "Opvolglijsten bij de rapportages: per tabblad een lijst met wat aandacht vraagt. Elk tabblad is een "
         "Excel-tabel: filter en sorteer met de knoppen in de kopregel." if nl else
         "Follow-up lists with the reports: one sheet per list of what needs attention. Every sheet is an Excel "
         "table: filter and sort with the buttons in the header row."),
        ("Opvolging" if nl else "Follow-up",
         "De kolommen Status, Eigenaar en Notitie zijn leeg: vul ze in voor uw eigen opvolging (Status kiest u uit "
         "een lijst: " + ", ".join(STATUS_VALUES["nl"]) + ")." if nl else
         "The columns Status, Owner and Note are empty: fill them in for your own follow-up (Status from a list: "
         + ", ".join(STATUS_VALUES["en"]) + ")."),
    ]
    for item in lists:
        meaning = LIST_MEANING.get(item.key, ("", ""))[0 if nl else 1]
        rows.append((item.sheet, f"{item.frame.height} {'rijen' if nl else 'rows'}. {meaning}"))
    return pl.DataFrame(rows, schema=["Onderdeel" if nl else "Item", "Toelichting" if nl else "Explanation"],
                        orient="row")


def write_workbook(path: Path, lists: list[FollowUpList], *, lang: str, as_of: dt.date | None = None) -> Path:
    """The cover sheet and one sheet per list, each an Excel table; see the module docstring."""
    formats = {kind: rxw.Format().set_num_format(code) for kind, code in EXCEL_FORMATS[lang].items()}
    cover = COVER[lang]
    sheets = [(cover, cover_frame(lists, as_of, lang))]
    column_formats, widths = {}, {cover: {sheets[0][1].columns[0]: 34, sheets[0][1].columns[1]: 120}}
    tables = []
    for item in lists:
        frame = sheet_frame(item, lang)
        sheets.append((item.sheet, frame))
        kinds = _kinds(item, frame, lang)
        column_formats[item.sheet] = {h: formats[k] for h, k in kinds.items() if k in formats}
        widths[item.sheet] = {
            h: 60 if h == label("why", lang) else 30 if h == label("note", lang) else max(12, min(30, len(h) + 4))
            for h in frame.columns
        }
        tables.append((item.sheet, frame.columns, frame.height))
    tmp = path.with_suffix(".tmp.xlsx")
    rxw.write_worksheets(
        sheets,
        str(tmp),
        freeze_panes={name: {"row": 1, "col": 0} for name, _ in sheets[1:]},
        float_format=EXCEL_FORMATS[lang]["num2"],
        bold_headers=True,
        column_widths=widths,
        column_formats=column_formats,
        autofilter={sheet: True for sheet, _ in sheets[1:]},
        data_validations={sheet: {label("status", lang): {"type": "list", "values": STATUS_VALUES[lang]}}
                          for sheet, _ in sheets[1:]},
    )
    add_tables(tmp, path, tables, first_sheet=2)
    tmp.unlink()
    return path


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _table_xml(number: int, name: str, headers: list[str], rows: int) -> str:
    ref = f"A1:{_column_letter(len(headers) - 1)}{max(rows, 1) + 1}"
    columns = "".join(f'<tableColumn id="{i + 1}" name="{escape(h, {chr(34): "&quot;"})}"/>'
                      for i, h in enumerate(headers))
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<table xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" id="{number}" '
        f'name="{name}" displayName="{name}" ref="{ref}" totalsRowShown="0">'
        f'<autoFilter ref="{ref}"/><tableColumns count="{len(headers)}">{columns}</tableColumns>'
        f'<tableStyleInfo name="{TABLE_STYLE}" showFirstColumn="0" showLastColumn="0" showRowStripes="1" '
        'showColumnStripes="0"/></table>'
    )


def add_tables(source: Path, target: Path, tables: list[tuple[str, list[str], int]], *, first_sheet: int) -> None:
    """Copy the package ``source`` to ``target`` with an Excel table over each listed sheet
    (``sheet{first_sheet + i}.xml`` in order), replacing the sheet's own autofilter."""
    parts: dict[str, bytes] = {}
    with zipfile.ZipFile(source) as z:
        infos = z.infolist()
        for info in infos:
            parts[info.filename] = z.read(info.filename)
    types = parts["[Content_Types].xml"].decode("utf-8")
    for i, (sheet, headers, rows) in enumerate(tables):
        number = i + 1
        sheet_part = f"xl/worksheets/sheet{first_sheet + i}.xml"
        rels_part = f"xl/worksheets/_rels/sheet{first_sheet + i}.xml.rels"
        xml = parts[sheet_part].decode("utf-8")
        xml = re.sub(r"<autoFilter [^>]*/>", "", xml)
        rel_id = "rIdTable1"
        xml = xml.replace("</worksheet>", f'<tableParts count="1"><tablePart r:id="{rel_id}"/></tableParts></worksheet>')
        if 'xmlns:r="' not in xml[:600]:
            xml = xml.replace("<worksheet ", '<worksheet xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" ', 1)
        parts[sheet_part] = xml.encode("utf-8")
        relationship = (f'<Relationship Id="{rel_id}" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                        f'relationships/table" Target="../tables/table{number}.xml"/>')
        if rels_part in parts:
            rels = parts[rels_part].decode("utf-8").replace("</Relationships>", relationship + "</Relationships>")
        else:
            rels = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="http://schemas.'
                    f'openxmlformats.org/package/2006/relationships">{relationship}</Relationships>')
        parts[rels_part] = rels.encode("utf-8")
        name = "Lijst_" + re.sub(r"[^A-Za-z0-9_]", "_", sheet)[:200]
        parts[f"xl/tables/table{number}.xml"] = _table_xml(number, name, headers, rows).encode("utf-8")
        types = types.replace("</Types>", f'<Override PartName="/xl/tables/table{number}.xml" ContentType="application/'
                                          'vnd.openxmlformats-officedocument.spreadsheetml.table+xml"/></Types>')
    parts["[Content_Types].xml"] = types.encode("utf-8")
    with tempfile.NamedTemporaryFile(dir=target.parent, suffix=".xlsx", delete=False) as handle:
        tmp = Path(handle.name)
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
        order = [info.filename for info in infos] + [n for n in parts if n not in {i.filename for i in infos}]
        for name in order:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, parts[name])
    shutil.move(tmp, target)


@contextmanager
def workbook_in_background(path: Path, lists: list[FollowUpList], *, lang: str,
                           as_of: dt.date | None = None) -> Iterator[Callable[[], Path]]:
    """Write the workbook in a thread while the caller renders the pages; the yielded function
    waits for it, raises what the writer raised, and returns ``path``. rust_xlsxwriter assembles
    and compresses the sheets without Python's lock, so this uses the machine's second core."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="workbook") as pool:
        future = pool.submit(write_workbook, path, lists, lang=lang, as_of=as_of)
        yield future.result
