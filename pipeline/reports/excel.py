"""The follow-up workbook: one sheet per flagged list, filterable and formula-safe.

Text is always written as a text cell, so a value such as ``=SUM(A1)`` or ``+31…`` stays a
string and can never run as a formula (tested). The cell contents are reproducible; only the
creation time in the file's properties changes from run to run.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import polars as pl
import rustpy_xlsxwriter as rxw

from .i18n import label
from .tables import FollowUpList

WORKBOOK = "opvolglijsten.xlsx"

EXCEL_FORMATS = {
    "nl": {"eur": "€ #,##0.00", "pct": "0.0%", "num": "#,##0.##", "num2": "#,##0.00", "int": "#,##0",
           "date": "dd-mm-yyyy", "month": "mm-yyyy"},
    "en": {"eur": "€ #,##0.00", "pct": "0.0%", "num": "#,##0.##", "num2": "#,##0.00", "int": "#,##0",
           "date": "yyyy-mm-dd", "month": "yyyy-mm"},
}


def sheet_frame(item: FollowUpList, lang: str) -> pl.DataFrame:
    """The columns of a list, in order, with the reader's headers."""
    return item.frame.select(pl.col(c.name).alias(label(c.label, lang)) for c in item.columns)


def write_workbook(path: Path, lists: list[FollowUpList], *, lang: str) -> Path:
    """One sheet per list: bold header row, frozen, filterable, a number format and width per column.

    Written by rust_xlsxwriter (through rustpy-xlsxwriter) straight from the Arrow columns: at
    national scale (about 300 thousand rows) xlsxwriter, a cell at a time in Python, took 25 s.
    Text cells are always text, never formulas.
    """
    formats = {kind: rxw.Format().set_num_format(code) for kind, code in EXCEL_FORMATS[lang].items()}
    sheets, column_formats, widths = [], {}, {}
    for item in lists:
        headers = [label(c.label, lang) for c in item.columns]
        sheets.append((item.sheet, sheet_frame(item, lang)))
        column_formats[item.sheet] = {h: formats[c.kind] for h, c in zip(headers, item.columns) if c.kind in formats}
        widths[item.sheet] = {
            h: 60 if c.name == "why" else max(12, min(28, len(h) + 4)) for h, c in zip(headers, item.columns)
        }
    rxw.write_worksheets(
        sheets,
        str(path),
        freeze_panes={"general": {"row": 1, "col": 0}},
        float_format=EXCEL_FORMATS[lang]["num2"],
        bold_headers=True,
        column_widths=widths,
        column_formats=column_formats,
        autofilter={sheet: True for sheet, _ in sheets},
    )
    return path


@contextmanager
def workbook_in_background(path: Path, lists: list[FollowUpList], *, lang: str) -> Iterator[Callable[[], Path]]:
    """Write the workbook in a thread while the caller renders the pages; the yielded function
    waits for it, raises what the writer raised, and returns ``path``. rust_xlsxwriter assembles
    and compresses the sheets without Python's lock, so this uses the machine's second core."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="workbook") as pool:
        future = pool.submit(write_workbook, path, lists, lang=lang)
        yield future.result
