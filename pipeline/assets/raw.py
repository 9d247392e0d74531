"""Raw assets: load the inbox and the reference folder into raw.<kind>, one asset per kind.

Tabular files come from their kind's folder; iWmo/iJw XML messages from ``inbox/iwmo/`` are
routed to the kind their message code says (301 allocations, 305/307 care events, 323
declarations, 325 answers). Messages that are no 301/305/307/323/325 are refused by
``raw/unrecognised_messages``.
"""


import datetime as dt
import re
from functools import cache
from pathlib import Path

import dagster as dg
import polars as pl

from pipeline.ingest.load import Item, KindReport, Loader
from pipeline.ingest.tabular import FileRefused, load_profiles
from pipeline.checks import check_specs, run_checks
from pipeline.privacy import load_key
from pipeline.resources import DataFolders, Warehouse
from pipeline.schemas import INBOX_KINDS, REFERENCE_KINDS, dtypes
from pipeline.sql import fetch_one

_MESSAGE_KIND = {"301": "allocations", "305": "care_events", "307": "care_events", "323": "declarations", "325": "answers"}
_NAMESPACE = re.compile(rb"istandaarden\.nl/(?:iwmo|ijw)/3_2/(?:wmo|jw)(\d{3})/schema")


def message_kind(path: Path) -> str:
    """The raw kind of an XML message, from its root element's namespace; 'unrecognised'
    otherwise. A quick look at the first 4 kB finds the namespace of almost every message; when it
    does not (a long comment or processing instructions first) the root element is found by a
    streaming parse, however far it is."""
    with path.open("rb") as handle:
        head = handle.read(4096)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 with a byte order mark
        head = head.decode("utf-16", errors="ignore").encode("utf-8")
    match = _NAMESPACE.search(head)
    if match and head.lstrip().startswith((b"<?xml", b"<")) and b"<!--" not in head[:match.start()]:
        return _MESSAGE_KIND.get(match.group(1).decode(), "unrecognised")
    from pipeline.ingest.iwmo import message_code

    return _MESSAGE_KIND.get(message_code(path) or "", "unrecognised")


def _files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))


@cache
def _canonical_profile():
    return next(p for p in load_profiles() if p.is_canonical)


def _xml_reader(path: Path, kind: str):
    from pipeline.ingest.iwmo import MessageRefused, read_message

    canonical = _canonical_profile()

    def read():
        try:
            message = read_message(path)
        except MessageRefused as exc:
            raise FileRefused(exc.reason_code, exc.reason_text) from None
        if message.kind != kind:
            raise FileRefused("xml_unknown_message", f"message {message.message_code} is not a {kind} message")
        rows = message.rows
        expected = dtypes(kind)
        frame = rows.with_columns(
            pl.lit(None, dtype=pl.String).alias(c) for c in expected if c not in rows.columns
        ).select(pl.col("source_row").cast(pl.Int64), *[pl.col(c).cast(pl.String) for c in expected])
        return frame, canonical

    return read


def _refuse(code: str, text: str):
    def read():
        raise FileRefused(code, text)

    return read


def load_kind(conn, kind: str, folders: DataFolders, today: dt.date, log=None) -> KindReport:
    """Load every file of one kind (tabular and XML); plain function, used by the asset and tests."""
    needs_key = kind in INBOX_KINDS  # reference tables and unrecognised messages carry no BSN
    loader = Loader(conn, kind, load_key() if needs_key else b"", today, folders.refused, log)
    report = KindReport(kind)
    if kind in REFERENCE_KINDS:
        tabular = [p for p in _files(folders.reference) if p.stem.split(".")[0] == kind]
        base = folders.reference.parent
    else:
        tabular = _files(folders.inbox / kind) if kind != "unrecognised" else []
        base = folders.inbox.parent
    profiles = load_profiles()
    items = [loader.tabular_item(path, path.relative_to(base).as_posix(), profiles) for path in tabular]
    if kind == "unrecognised":  # files no kind would ever read: refused with the reason, never ignored
        items += [Item(p, p.relative_to(folders.reference.parent).as_posix(),
                       _refuse("unknown_reference_file", f"{p.name} names no reference table"), "tabular")
                  for p in _files(folders.reference) if p.stem.split(".")[0] not in REFERENCE_KINDS]
        items += [Item(p, p.relative_to(base).as_posix(),
                       _refuse("unknown_inbox_folder", f"inbox/{p.relative_to(folders.inbox).parts[0]} is no kind"),
                       "tabular")
                  for p in _files(folders.inbox)
                  if len(p.relative_to(folders.inbox).parts) < 2
                  or p.relative_to(folders.inbox).parts[0] not in (*INBOX_KINDS, "iwmo")]
    if kind not in REFERENCE_KINDS:
        items += [Item(p, p.relative_to(base).as_posix(), _xml_reader(p, kind), "xml")
                  for p in _files(folders.inbox / "iwmo") if message_kind(p) == kind]
    report.files.extend(loader.load_files(items))
    return report


def _metadata(report: KindReport, conn, kind: str) -> dict:
    total = fetch_one(conn, f"select count(*) from raw.{kind}")[0]
    refused = [f"{f.source_file}: {f.message}" for f in report.files if f.status == "refused"]
    return {
        "table": f"raw.{kind}",
        "rows_total": dg.MetadataValue.int(total),
        "files_loaded": report.count("loaded"),
        "files_unchanged": report.count("unchanged"),
        "files_duplicate": report.count("duplicate"),
        "files_refused": report.count("refused"),
        "rows_loaded_this_run": report.rows_loaded,
        "rows_quarantined_this_run": report.rows_quarantined,
        "refused_files": dg.MetadataValue.md("\n".join(f"- {r}" for r in refused) or "none"),
    }


def _raw_asset(kind: str) -> dg.AssetsDefinition:
    where = "data/reference" if kind in REFERENCE_KINDS else f"data/inbox/{kind} and inbox/iwmo"
    key = dg.AssetKey(["raw", kind])

    # one asset and its checks (pipeline/checks.py) in one step; the checks run on its connection
    @dg.multi_asset(
        name=f"raw__{kind}",
        specs=[dg.AssetSpec(
            key, group_name="raw", kinds={"duckdb"},
            description=f"raw.{kind}: rows of {where}, validated and pseudonymised; bad rows quarantined.",
        )],
        check_specs=check_specs(("raw", kind)),
        can_subset=True,  # the checks can run without loading
    )
    def _asset(context: dg.AssetExecutionContext, warehouse: Warehouse, folders: DataFolders):
        with warehouse.connect() as conn:
            if key in context.selected_asset_keys:
                report = load_kind(conn, kind, folders, dt.date.today(), context.log)
                metadata = _metadata(report, conn, kind)
                context.log.info(
                    f"{kind}: {report.count('loaded')} files loaded, {report.count('unchanged')} unchanged, "
                    f"{report.count('refused')} refused; {report.rows_loaded} rows loaded, "
                    f"{report.rows_quarantined} quarantined"
                )
                yield dg.MaterializeResult(asset_key=key, metadata=metadata)
            yield from run_checks(context, conn, ("raw", kind))

    return _asset


@dg.asset(
    key=["raw", "unrecognised_messages"],
    group_name="raw",
    description="Files no kind reads, refused with the reason: XML in inbox/iwmo that is no iWmo/iJw 3.2 "
    "301, 305, 307, 323 or 325, files in data/reference named after no reference table, files in an inbox "
    "folder that is no kind.",
    kinds={"duckdb"},
)
def unrecognised_messages(context: dg.AssetExecutionContext, warehouse: Warehouse, folders: DataFolders) -> dg.MaterializeResult:
    with warehouse.connect() as conn:
        report = load_kind(conn, "unrecognised", folders, dt.date.today(), context.log)
    return dg.MaterializeResult(metadata={"files_refused": report.count("refused")})


raw_assets = [_raw_asset(kind) for kind in (*INBOX_KINDS, *REFERENCE_KINDS)] + [unrecognised_messages]
