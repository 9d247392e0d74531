"""Load inbox files into the raw schema: read, cast, validate, pseudonymise, quarantine, manifest.

Every file is loaded in one transaction: its rows, its quarantine rows and its manifest entry are
written together or not at all. A file already loaded (same path, same SHA-256) is a no-op; the
same content under another name is recorded as a duplicate and loads nothing; a changed file
under the same path replaces its earlier rows. A file that cannot be read is refused as a whole,
reported in the quarantine and moved aside to ``<data>/refused/``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from pipeline.sql import fetch_one

from pipeline.ingest.tabular import FileRefused, Profile, cast, choose_profile, read_file
from pipeline.ingest.validate import ERROR_SCHEMA, validate
from pipeline.privacy import mask_bsn_expr, mask_bsns, pseudonymise
from pipeline.schemas import MODELS, dtypes

_DUCK_TYPES = {pl.String: "varchar", pl.Date: "date", pl.Datetime: "timestamp", pl.Float64: "double", pl.Int64: "bigint"}

MANIFEST_DDL = """
create table if not exists raw.manifest (
    source_file varchar primary key, kind varchar, sha256 varchar, size_bytes bigint,
    loaded_at timestamp, rows_received bigint, rows_loaded bigint, rows_quarantined bigint,
    status varchar, message varchar
)"""
QUARANTINE_DDL = """
create table if not exists raw.quarantine (
    source_file varchar, kind varchar, source_row bigint, reason_code varchar,
    reason_text varchar, record varchar, quarantined_at timestamp
)"""


def raw_columns(kind: str) -> dict[str, str]:
    """Columns of raw.<kind>: the canonical ones with client_id instead of client_bsn."""
    cols = {c: _DUCK_TYPES[t.base_type()] for c, t in dtypes(kind).items() if c != "client_bsn"}
    return {**cols, "source_file": "varchar", "source_row": "bigint", "route": "varchar"}


def ensure_raw_tables(conn: duckdb.DuckDBPyConnection, kind: str) -> None:
    """Create raw.manifest, raw.quarantine and raw.<kind> (for kinds with a model) if missing."""
    conn.execute("create schema if not exists raw")
    conn.execute(MANIFEST_DDL)
    conn.execute(QUARANTINE_DDL)
    if kind not in MODELS:
        return
    ddl = ", ".join(f"{c} {t}" for c, t in raw_columns(kind).items())
    conn.execute(f"create table if not exists raw.{kind} ({ddl})")


@dataclass
class FileResult:
    source_file: str
    status: str  # loaded | unchanged | duplicate | refused
    rows_received: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    message: str = ""


@dataclass
class _Pending:
    """A file read and waiting to be validated and committed."""

    path: Path
    source_file: str
    digest: str
    text: pl.DataFrame
    profile: Profile


@dataclass
class KindReport:
    kind: str
    files: list[FileResult] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files)

    @property
    def rows_quarantined(self) -> int:
        return sum(f.rows_quarantined for f in self.files)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _records(frame: pl.DataFrame) -> pl.DataFrame:
    """source_row and the row as JSON text, any BSN masked."""
    masked = frame
    if "client_bsn" in frame.columns:
        masked = frame.with_columns(
            pl.when(pl.col("client_bsn").is_not_null()).then(pl.lit("<masked>")).alias("client_bsn")
        )
    body = [c for c in masked.columns if c != "source_row"]
    return masked.select(
        "source_row", record=pl.struct(body).struct.json_encode()
    ).with_columns(mask_bsn_expr("record"))


# Referential rules that need the rows already loaded: (reason_code, reason_text, SQL condition
# over the candidate rows `c`, true where broken). `_new` holds this file's rows; `_prior` the
# rows already in raw.<kind> that share a key with one of them (see _PRIOR_SQL).
_DB_RULES: dict[str, list[tuple[str, str, str]]] = {
    "declarations": [
        ("duplicate_reference", "reference_number was already declared by this provider (another file or an earlier row)",
         """c.rn > 1 or exists (select 1 from _prior r where r.provider_agb = c.provider_agb
            and r.law = c.law and r.reference_number = c.reference_number)"""),
        ("credit_without_debit", "credit line whose previous_reference_number names no known debit line",
         """c.debit_credit = 'C' and not exists (select 1 from _prior r where r.provider_agb = c.provider_agb
            and r.law = c.law and r.reference_number = c.previous_reference_number and r.debit_credit = 'D')
            and not exists (select 1 from _new n where n.provider_agb = c.provider_agb and n.law = c.law
            and n.reference_number = c.previous_reference_number and n.debit_credit = 'D')"""),
    ],
    "zvw_declarations": [
        ("duplicate_reference", "reference_number was already submitted by this provider to this insurer",
         """c.rn > 1 or exists (select 1 from _prior r where r.insurer_code = c.insurer_code
            and r.provider_agb = c.provider_agb and r.reference_number = c.reference_number)"""),
        ("credit_without_debit", "credit line whose previous_reference_number names no known debit line",
         """c.debit_credit = 'C' and not exists (select 1 from _prior r where r.insurer_code = c.insurer_code
            and r.provider_agb = c.provider_agb and r.reference_number = c.previous_reference_number and r.debit_credit = 'D')
            and not exists (select 1 from _new n where n.insurer_code = c.insurer_code and n.provider_agb = c.provider_agb
            and n.reference_number = c.previous_reference_number and n.debit_credit = 'D')"""),
    ],
}
_DB_KEYS = {"declarations": "provider_agb, law, reference_number", "zvw_declarations": "insurer_code, provider_agb, reference_number"}
# The loaded rows the rules can match: those whose key equals a reference_number or a
# previous_reference_number of this file. A semi join on the small side, so a file's check costs
# one scan of raw.<kind> instead of a hash table over all of it per rule.
_PRIOR_SQL = """
create or replace temp table _prior as
select r.{a}, r.{b}, r.reference_number, r.debit_credit from raw.{kind} r semi join (
    select {a}, {b}, reference_number as ref from _new
    union select {a}, {b}, previous_reference_number from _new where previous_reference_number is not null
) k on r.{a} = k.{a} and r.{b} = k.{b} and r.reference_number = k.ref"""


class Loader:
    """Loads files of one kind into raw.<kind>; one transaction per file."""

    def __init__(self, conn: duckdb.DuckDBPyConnection, kind: str, key: bytes, today: dt.date, refused_dir: Path, log=None):
        self.conn, self.kind, self.key, self.today = conn, kind, key, today
        self.refused_dir = refused_dir
        self.log = log
        ensure_raw_tables(conn, kind)

    # -- public -------------------------------------------------------------------------------

    def load_tabular(self, path: Path, source_file: str, profiles: list[Profile]) -> FileResult:
        def read() -> tuple[pl.DataFrame, Profile]:
            profile = choose_profile(self.kind, path, profiles)
            return read_file(path, self.kind, profile), profile

        return self._load(path, source_file, read, route="tabular")

    def load_rows(self, path: Path, source_file: str, read, route: str) -> FileResult:
        """Load a file through any reader returning (text frame with source_row, profile)."""
        return self._load(path, source_file, read, route)

    def load_batch(self, items: list[tuple[Path, str, object]], route: str) -> list[FileResult]:
        """Load many small files (iWmo messages) with one validation and one pseudonymisation
        pass over all their rows; each file still gets its own transaction."""
        prepared = [self._prepare(path, source_file, read) for path, source_file, read in items]
        pending = [p for p in prepared if isinstance(p, _Pending)]
        done = iter(self._finish(pending, route))
        return [next(done) if isinstance(p, _Pending) else p for p in prepared]

    # -- internals ----------------------------------------------------------------------------

    def _load(self, path: Path, source_file: str, read, route: str) -> FileResult:
        prepared = self._prepare(path, source_file, read)
        if isinstance(prepared, FileResult):
            return prepared
        return self._finish([prepared], route)[0]

    def _prepare(self, path: Path, source_file: str, read) -> "FileResult | _Pending":
        """Skip unchanged and duplicate files, refuse unreadable ones, read the rest."""
        digest = sha256_of(path)
        prev = fetch_one(
            self.conn,
            "select sha256, status from raw.manifest where source_file = ?", [source_file]
        )
        if prev and prev[0] == digest:
            if prev[1] == "refused":
                # Recorded as refused, but still in the inbox: the run that refused it was
                # stopped between its commit and the move. Finish the move.
                self._move_aside(path, digest)
            return FileResult(source_file, "unchanged")
        twin = fetch_one(
            self.conn,
            "select source_file from raw.manifest where sha256 = ? and source_file <> ? and status = 'loaded' limit 1",
            [digest, source_file],
        )
        if twin:
            result = FileResult(source_file, "duplicate", message=f"identical to {twin[0]}; nothing loaded")
            self._commit(path, source_file, digest, result, None, None)
            return result
        try:
            text, profile = read()
        except FileRefused as exc:
            return self._refuse(path, source_file, digest, exc)
        except Exception as exc:  # an input no reader foresaw: refuse the file, never stop the run
            return self._refuse(path, source_file, digest, FileRefused(
                "unreadable", f"the file cannot be read: {type(exc).__name__}: {exc}"))
        return _Pending(path, source_file, digest, text, profile)

    def _finish(self, pending: list["_Pending"], route: str) -> list[FileResult]:
        """Cast, validate and pseudonymise the rows of all pending files at once (rows get a
        running id meanwhile), then commit file by file."""
        if not pending:
            return []
        texts = [
            p.text.with_columns(_file=pl.lit(i, dtype=pl.Int32), _row=pl.col("source_row"))
            for i, p in enumerate(pending)
        ]
        text = pl.concat(texts).with_columns(source_row=pl.int_range(1, pl.len() + 1, dtype=pl.Int64))
        origin = text.select("source_row", "_file", "_row")
        text = text.drop("_file", "_row")
        typed, cast_errors = cast(text, self.kind, pending[0].profile)
        good, errors = validate(typed, self.kind, self.today, cast_errors)
        good = self._pseudonymise(good)
        # JSON records only for the rows that failed, not for the whole file
        failed = text.filter(pl.col("source_row").is_in(errors["source_row"].implode()))
        quarantine = errors.join(_records(failed), on="source_row", how="left")

        def restore(frame: pl.DataFrame) -> pl.DataFrame:
            return frame.join(origin, on="source_row").with_columns(source_row=pl.col("_row")).drop("_row")

        good, quarantine = restore(good), restore(quarantine)
        results = []
        for i, p in enumerate(pending):
            result = FileResult(p.source_file, "loaded", rows_received=p.text.height)
            rows = good.filter(pl.col("_file") == i).drop("_file")
            self._commit(p.path, p.source_file, p.digest, result, rows.with_columns(
                source_file=pl.lit(p.source_file), route=pl.lit(route)),
                quarantine.filter(pl.col("_file") == i).drop("_file"))
            results.append(result)
        return results

    def _pseudonymise(self, good: pl.DataFrame) -> pl.DataFrame:
        if "client_bsn" not in good.columns:
            return good
        ids = pseudonymise(good, self.key, "client_bsn")
        return good.with_columns(client_id=pl.coalesce(ids, pl.col("client_id"))).drop("client_bsn")

    def _refuse(self, path: Path, source_file: str, digest: str, exc: FileRefused) -> FileResult:
        # Reader errors may quote the offending field (polars does), so the text is masked
        # before it reaches the manifest, the quarantine or the log.
        reason_text = mask_bsns(exc.reason_text)
        if exc.frame is not None and exc.frame.height:
            rows = exc.frame
            quarantine = _records(rows).with_columns(
                reason_code=pl.lit(exc.reason_code), reason_text=pl.lit(reason_text)
            )
            result = FileResult(source_file, "refused", rows.height, 0, rows.height, reason_text)
        else:
            quarantine = pl.DataFrame(
                {"source_row": [None], "reason_code": [exc.reason_code], "reason_text": [reason_text], "record": [None]},
                schema={**ERROR_SCHEMA, "record": pl.String},
            )
            result = FileResult(source_file, "refused", 0, 0, 0, reason_text)
        quarantine = quarantine.with_columns(mask_bsn_expr("reason_text"))
        self._commit(path, source_file, digest, result, None, quarantine)
        target = self._move_aside(path, digest)
        if self.log:
            self.log.warning(f"refused {source_file}: {exc.reason_code}: {result.message}; moved to {target}")
        return result

    def _move_aside(self, path: Path, digest: str) -> Path:
        """Move a refused file to refused/<kind>/; an earlier refused file of the same name and
        other content is kept (the new one gets the start of its SHA-256 in its name)."""
        target = self.refused_dir / self.kind / path.name
        if target.exists() and sha256_of(target) != digest:
            target = target.with_name(f"{path.stem}.{digest[:12]}{path.suffix}")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(path), target)
        return target

    def _commit(self, path, source_file, digest, result, good, quarantine) -> None:
        conn = self.conn
        conn.execute("begin transaction")
        try:
            # raw and quarantine rows exist only for files in the manifest (all are written in
            # this one transaction), so a new file skips the deletes (one scans the raw table)
            known = fetch_one(conn, "select count(*) from raw.manifest where source_file = ?", [source_file])[0]
            if known:
                if self.kind in MODELS:
                    conn.execute(f"delete from raw.{self.kind} where source_file = ?", [source_file])
                conn.execute("delete from raw.quarantine where source_file = ?", [source_file])
                conn.execute("delete from raw.manifest where source_file = ?", [source_file])
            if good is not None:
                self._insert_rows(good, result)
            if quarantine is not None and quarantine.height:
                conn.register("_quarantine", quarantine.select("source_row", "reason_code", "reason_text", "record"))
                conn.execute(
                    "insert into raw.quarantine select ?, ?, source_row, reason_code, reason_text, record, now() from _quarantine",
                    [source_file, self.kind],
                )
                conn.unregister("_quarantine")
            quarantined = fetch_one(
                conn,
                "select count(*) from raw.quarantine where source_file = ? and source_row is not null", [source_file]
            )[0]
            result.rows_quarantined = quarantined
            conn.execute(
                "insert into raw.manifest values (?, ?, ?, ?, now(), ?, ?, ?, ?, ?)",
                [source_file, self.kind, digest, path.stat().st_size, result.rows_received,
                 result.rows_loaded, result.rows_quarantined, result.status, result.message],
            )
            conn.execute("commit")
        except BaseException:
            conn.execute("rollback")
            raise

    def _insert_rows(self, good: pl.DataFrame, result: FileResult) -> None:
        conn = self.conn
        columns = list(raw_columns(self.kind))
        conn.register("_new", good.select(columns))
        rules = _DB_RULES.get(self.kind, [])
        if rules:
            cases = " ".join(f"when {cond} then '{code}'" for code, _, cond in rules)
            texts = " ".join(f"when '{code}' then '{text}'" for code, text, _ in rules)
            a, b, _ = (k.strip() for k in _DB_KEYS[self.kind].split(","))
            conn.execute(_PRIOR_SQL.format(a=a, b=b, kind=self.kind))
            conn.execute(f"""
                create or replace temp table _checked as
                with c as (select *, row_number() over (partition by {_DB_KEYS[self.kind]} order by source_row) as rn from _new)
                select c.* exclude (rn), case {cases} end as reason_code from c""")
            conn.execute(f"""
                insert into raw.quarantine
                select source_file, '{self.kind}', source_row, reason_code,
                       case reason_code {texts} end, to_json(t)::varchar, now()
                from (select * exclude (client_id) from _checked) t where reason_code is not null""")
            conn.execute(f"insert into raw.{self.kind} select {', '.join(columns)} from _checked where reason_code is null")
            result.rows_loaded = fetch_one(conn, "select count(*) from _checked where reason_code is null")[0]
            conn.execute("drop table _checked")
            conn.execute("drop table _prior")
        else:
            conn.execute(f"insert into raw.{self.kind} select {', '.join(columns)} from _new")
            result.rows_loaded = good.height
        conn.unregister("_new")
