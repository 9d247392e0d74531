"""The follow-up workbook: one sheet per flagged list, filterable, formula-safe, reproducible.

Text is always written as text: the workbook is opened with ``strings_to_formulas``,
``strings_to_numbers`` and ``strings_to_urls`` off, so a value such as ``=SUM(A1)`` or
``+31…`` stays a string and can never run as a formula.
"""

from __future__ import annotations

import datetime as dt
import os
import pickle
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import polars as pl
import xlsxwriter

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


def write_workbook(path: Path, lists: list[FollowUpList], *, as_of: dt.date, lang: str) -> Path:
    workbook = xlsxwriter.Workbook(
        str(path),
        {"strings_to_formulas": False, "strings_to_numbers": False, "strings_to_urls": False},
    )
    created = dt.datetime(as_of.year, as_of.month, as_of.day)
    workbook.set_properties({
        "title": label("workbook", lang),
        "created": created,
        "author": "zorgbudget-pipeline",
    })
    formats = EXCEL_FORMATS[lang]
    for item in lists:
        frame = sheet_frame(item, lang)
        column_formats = {
            label(c.label, lang): formats[c.kind] for c in item.columns if c.kind in formats
        }
        widths = {
            label(c.label, lang): (60 if c.name == "why" else max(12, min(28, len(label(c.label, lang)) + 4)))
            for c in item.columns
        }
        if frame.is_empty():
            sheet = workbook.add_worksheet(item.sheet)
            bold = workbook.add_format({"bold": True})
            for j, name in enumerate(frame.columns):
                sheet.write_string(0, j, name, bold)
                sheet.set_column(j, j, widths[name])
            sheet.freeze_panes(1, 0)
            continue
        frame.write_excel(
            workbook=workbook,
            worksheet=item.sheet,
            table_style="Table Style Light 9",
            column_formats=column_formats,
            column_widths=widths,
            autofilter=True,
            freeze_panes=(1, 0),
            float_precision=2,
        )
    workbook.close()
    return path


@contextmanager
def workbook_in_background(path: Path, lists: list[FollowUpList], *, as_of: dt.date,
                           lang: str) -> Iterator[Callable[[], Path]]:
    """Write the workbook in a child process; the yielded function waits for it and returns
    ``path``. The lists travel in a temporary pickle next to the workbook, removed afterwards."""
    fd, job = tempfile.mkstemp(prefix=".workbook-", suffix=".pickle", dir=path.parent)
    with os.fdopen(fd, "wb") as handle:
        pickle.dump((path, lists, as_of, lang), handle)
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; from pipeline.reports.excel import _write_job; _write_job(sys.argv[1])", job])

    def wait() -> Path:
        if child.wait() != 0:
            raise RuntimeError(f"writing {path.name} failed in a child process (exit code {child.returncode})")
        return path

    try:
        yield wait
    finally:
        if child.poll() is None:  # the pages failed: do not leave the child behind
            child.kill()
            child.wait()
        os.unlink(job)


def _write_job(job: str) -> None:
    with open(job, "rb") as handle:
        path, lists, as_of, lang = pickle.load(handle)
    write_workbook(path, lists, as_of=as_of, lang=lang)
