"""Load inbox files into the raw schema: read, cast, validate, pseudonymise, quarantine, manifest.

Files are loaded in batches of about a million rows (ZORG_INGEST_BATCH_ROWS): a batch's rows,
quarantine rows and manifest entries are written in one transaction, together or not at all, so
a file is never half loaded. A file already loaded (same path and SHA-256; a file of unchanged
size and modification time is not hashed again) is a no-op; the same content under another name
is recorded as a duplicate and loads nothing; a changed file under the same path replaces its
earlier rows. A file that cannot be read is refused as a whole, reported in the quarantine and
moved aside to ``<data>/refused/``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from pipeline.ingest import referential
from pipeline.ingest.bounds import MAX_FIELD, bounded, bounded_expr
from pipeline.ingest.reasons import reason_text
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
    # the file's modification time, for the quick unchanged test (warehouses of older versions lack it)
    conn.execute("alter table raw.manifest add column if not exists mtime_ns bigint")
    # ctime and inode: a file replaced by another of the same size and modification time (a copy
    # that keeps the time, an editor's save with the time restored) has another ctime or inode,
    # which cannot be set back, so it is hashed again
    conn.execute("alter table raw.manifest add column if not exists ctime_ns bigint")
    conn.execute("alter table raw.manifest add column if not exists inode bigint")
    # when a file of this name was first loaded: it decides which of two rows keeps a reference
    conn.execute("alter table raw.manifest add column if not exists first_loaded_at timestamp")
    conn.execute(QUARANTINE_DDL)
    if kind not in MODELS:
        return
    ddl = ", ".join(f"{c} {t}" for c, t in raw_columns(kind).items())
    conn.execute(f"create table if not exists raw.{kind} ({ddl})")
    if kind in referential.RULES:
        referential.ensure_held(conn, kind, raw_columns(kind))
    # a warehouse of an older version lacks columns added since (care_events.sent_on): add them
    # (rows are inserted by name, so their place at the end does not matter)
    for column, duck_type in raw_columns(kind).items():
        conn.execute(f"alter table raw.{kind} add column if not exists {column} {duck_type}")


@dataclass
class FileResult:
    source_file: str
    status: str  # loaded | unchanged | duplicate | refused
    rows_received: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    message: str = ""


@dataclass
class Item:
    """One file to load: where it is, its name in the manifest, how to read it."""

    path: Path
    source_file: str
    read: Callable[[], tuple[pl.DataFrame, Profile]]
    route: str  # tabular | xml


@dataclass
class _Entry:
    """A file of a batch: read rows (``text``) or, for a duplicate or refusal, none."""

    item: Item
    digest: str
    result: FileResult
    replaces: bool  # the manifest knows this file (other content): its old rows go
    text: pl.DataFrame | None = None
    profile: Profile | None = None
    quarantine: pl.DataFrame | None = None  # of a refused file


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


def batch_rows() -> int:
    """Rows validated and committed together (ZORG_INGEST_BATCH_ROWS); bounds ingest memory."""
    return max(1, int(os.environ.get("ZORG_INGEST_BATCH_ROWS", "1000000")))


def _records(frame: pl.DataFrame) -> pl.DataFrame:
    """source_row and the row as JSON text, any BSN masked."""
    masked = frame
    if "client_bsn" in frame.columns:
        masked = frame.with_columns(
            pl.when(pl.col("client_bsn").is_not_null()).then(pl.lit("<masked>")).alias("client_bsn")
        )
    body = [c for c in masked.columns if c != "source_row"]
    # each field bounded before encoding, so a 50 MB cell costs 200 characters and the record
    # stays valid JSON
    fields = [bounded_expr(c, MAX_FIELD).alias(c) if masked.schema[c] == pl.String else pl.col(c) for c in body]
    return masked.select(
        "source_row", record=pl.struct(fields).struct.json_encode()
    ).with_columns(mask_bsn_expr("record"))


_QUARANTINE_SCHEMA = {"_file": pl.Int32, **ERROR_SCHEMA, "record": pl.String}


class Loader:
    """Loads files of one kind into raw.<kind>.

    Files are committed in batches of about ``batch_rows()`` rows: the batch's rows, quarantine
    rows and manifest entries in one transaction. Validation, pseudonymisation and the
    referential rules run once per batch, so many small files cost about what one large one does.
    """

    def __init__(self, conn: duckdb.DuckDBPyConnection, kind: str, key: bytes, today: dt.date, refused_dir: Path, log=None):
        self.conn, self.kind, self.key, self.today = conn, kind, key, today
        self.refused_dir = refused_dir
        self.log = log
        ensure_raw_tables(conn, kind)

    # -- public -------------------------------------------------------------------------------

    def tabular_item(self, path: Path, source_file: str, profiles: list[Profile]) -> Item:
        def read() -> tuple[pl.DataFrame, Profile]:
            profile = choose_profile(self.kind, path, profiles)
            return read_file(path, self.kind, profile), profile

        return Item(path, source_file, read, "tabular")

    def load_tabular(self, path: Path, source_file: str, profiles: list[Profile]) -> FileResult:
        return self.load_files([self.tabular_item(path, source_file, profiles)])[0]

    def load_rows(self, path: Path, source_file: str, read, route: str) -> FileResult:
        """Load a file through any reader returning (text frame with source_row, profile)."""
        return self.load_files([Item(path, source_file, read, route)])[0]

    def load_files(self, items: list[Item]) -> list[FileResult]:
        """Load files in the given order; one result per item.

        A file already loaded (same path and SHA-256, or same size and modification time) is
        skipped; the same content under another name is recorded as a duplicate and loads
        nothing; a changed file replaces its earlier rows; a file that cannot be read is refused
        and moved to ``refused/<kind>/``.
        """
        digests = self._digests(items)
        unchanged_hashed: list[Item] = []
        results: list[FileResult] = []
        read_here: dict[str, str] = {}  # digest -> the file of this run read with it
        batch: list[_Entry] = []
        rows, limit = 0, batch_rows()
        for item, digest, (prev_digest, prev_status, twin) in zip(items, digests, self._manifest(items, digests)):
            if prev_digest == digest:
                if prev_status == "refused":
                    # Recorded as refused, but still in the inbox: the run that refused it was
                    # stopped between its commit and the move. Finish the move.
                    self._move_aside(item.path, digest)
                elif item.source_file in self._hashed:
                    unchanged_hashed.append(item)
                results.append(FileResult(item.source_file, "unchanged"))
                continue
            twin = twin or read_here.get(digest)
            if twin:
                entry = _Entry(item, digest, FileResult(item.source_file, "duplicate",
                                                        message=f"identical to {twin}; nothing loaded"), prev_digest is not None)
            else:
                entry = self._read(item, digest, prev_digest is not None)
                if entry.text is not None:
                    read_here[digest] = item.source_file
                    rows += entry.text.height
            batch.append(entry)
            results.append(entry.result)
            if rows >= limit:
                self._commit(batch)
                batch, rows = [], 0
        if batch:
            self._commit(batch)
        self._refresh_fingerprints(unchanged_hashed)
        return results

    # -- internals ----------------------------------------------------------------------------

    def _digests(self, items: list[Item]) -> list[str]:
        """SHA-256 of every file. A file whose size and modification time equal those of its
        manifest entry is taken as unchanged without reading it (the quick check of rsync and
        make): hashing a national archive every run costs more than loading a new month."""
        self._hashed: set[str] = set()
        if not items:
            return []
        stats = [item.path.stat() for item in items]
        self.conn.register("_files", pl.DataFrame(
            {"pos": range(len(items)), "source_file": [i.source_file for i in items],
             "size_bytes": [st.st_size for st in stats], "mtime_ns": [st.st_mtime_ns for st in stats],
             "ctime_ns": [st.st_ctime_ns for st in stats], "inode": [st.st_ino for st in stats]},
            schema={"pos": pl.Int64, "source_file": pl.String, "size_bytes": pl.Int64, "mtime_ns": pl.Int64,
                    "ctime_ns": pl.Int64, "inode": pl.Int64}))
        try:
            # size and modification time can be kept by a replacement; ctime and inode cannot
            known = self.conn.execute("""
                select m.sha256 from _files f left join raw.manifest m on m.source_file = f.source_file
                    and m.size_bytes = f.size_bytes and m.mtime_ns = f.mtime_ns
                    and m.ctime_ns = f.ctime_ns and m.inode = f.inode
                order by f.pos""").fetchall()
        finally:
            self.conn.unregister("_files")
        self._hashed = {item.source_file for row, item in zip(known, items) if not row[0]}
        return [row[0] or sha256_of(item.path) for row, item in zip(known, items)]

    def _refresh_fingerprints(self, items: list[Item]) -> None:
        """Record the size, times and inode of files hashed again but found unchanged (touched,
        copied back, or listed by an older version without ctime and inode), so the next run
        takes the quick path again instead of hashing them every run."""
        if not items:
            return
        stats = [item.path.stat() for item in items]
        self.conn.register("_seen", pl.DataFrame(
            {"source_file": [i.source_file for i in items], "size_bytes": [st.st_size for st in stats],
             "mtime_ns": [st.st_mtime_ns for st in stats], "ctime_ns": [st.st_ctime_ns for st in stats],
             "inode": [st.st_ino for st in stats]},
            schema={"source_file": pl.String, "size_bytes": pl.Int64, "mtime_ns": pl.Int64, "ctime_ns": pl.Int64,
                    "inode": pl.Int64}))
        try:
            self.conn.execute("""
                update raw.manifest m set size_bytes = s.size_bytes, mtime_ns = s.mtime_ns,
                    ctime_ns = s.ctime_ns, inode = s.inode
                from _seen s where m.source_file = s.source_file""")
        finally:
            self.conn.unregister("_seen")

    def _manifest(self, items: list[Item], digests: list[str]) -> list[tuple]:
        """Per item, in one query: the SHA-256 and status of its manifest entry, and a loaded
        file with the same content under another name."""
        if not items:
            return []
        self.conn.register("_files", pl.DataFrame(
            {"pos": range(len(items)), "source_file": [i.source_file for i in items], "digest": digests},
            schema={"pos": pl.Int64, "source_file": pl.String, "digest": pl.String}))
        try:
            rows = self.conn.execute("""
                select m.sha256, m.status,
                       case when m.sha256 is distinct from f.digest then
                           (select min(t.source_file) from raw.manifest t
                            where t.sha256 = f.digest and t.source_file <> f.source_file and t.status = 'loaded')
                       end
                from _files f left join raw.manifest m on m.source_file = f.source_file
                order by f.pos""").fetchall()
        finally:
            self.conn.unregister("_files")
        return rows

    def _read(self, item: Item, digest: str, replaces: bool) -> _Entry:
        try:
            text, profile = item.read()
        except FileRefused as exc:
            return self._refusal(item, digest, replaces, exc)
        except Exception as exc:  # an input no reader foresaw: refuse the file, never stop the run
            return self._refusal(item, digest, replaces, FileRefused(
                "unreadable", f"the file cannot be read: {type(exc).__name__}: {exc}"))
        return _Entry(item, digest, FileResult(item.source_file, "loaded", rows_received=text.height), replaces,
                      text=text, profile=profile)

    def _refusal(self, item: Item, digest: str, replaces: bool, exc: FileRefused) -> _Entry:
        # Reader errors may quote the offending field (polars does), so the text is masked
        # before it reaches the manifest, the quarantine or the log.
        reason_text = bounded(mask_bsns(exc.reason_text))
        if exc.frame is not None and exc.frame.height:
            rows = exc.frame
            quarantine = _records(rows).with_columns(reason_code=pl.lit(exc.reason_code), reason_text=pl.lit(reason_text))
            result = FileResult(item.source_file, "refused", rows.height, 0, rows.height, reason_text)
        else:
            quarantine = pl.DataFrame({"source_row": [None], "reason_code": [exc.reason_code],
                                       "reason_text": [reason_text], "record": [None]})
            result = FileResult(item.source_file, "refused", 0, 0, 0, reason_text)
        return _Entry(item, digest, result, replaces, quarantine=quarantine.with_columns(
            bounded_expr(mask_bsn_expr("reason_text")).alias("reason_text")))

    def _validate(self, batch: list[_Entry]) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Cast, validate and pseudonymise the rows of every read file of a batch at once.

        Returns the good rows and the quarantine rows, each with ``_file`` (the file's position
        in the batch) and the file's own ``source_row``."""
        read = [(i, e) for i, e in enumerate(batch) if e.text is not None]
        if not read:
            return pl.DataFrame(), pl.DataFrame(schema=_QUARANTINE_SCHEMA)
        # While validated together the rows get a running id as source_row (1, 2, ... over the
        # files in batch order); the file's position and its own row number are read back from
        # two columns by that id (a gather, no join).
        texts, offsets, offset = {}, [], 0
        for i, e in read:
            texts[i] = e.text.with_columns(
                source_row=pl.int_range(offset + 1, offset + e.text.height + 1, dtype=pl.Int64))
            offsets.append(offset)
            offset += e.text.height
        origin_row = pl.concat([e.text["source_row"] for _, e in read])
        origin_file = pl.concat([pl.repeat(i, e.text.height, dtype=pl.Int32, eager=True) for i, e in read])
        typed, cast_errors = [], []
        for name in dict.fromkeys(e.profile.name for _, e in read):  # cast per mapping profile
            group = pl.concat([texts[i] for i, e in read if e.profile.name == name])
            frame, errors = cast(group, self.kind, next(e.profile for _, e in read if e.profile.name == name))
            typed.append(frame)
            cast_errors.append(errors)
        good, errors = validate(pl.concat(typed), self.kind, self.today, pl.concat(cast_errors))
        good = self._pseudonymise(good)
        # JSON records only for the rows that failed, read from the files that hold them
        failed_ids = errors["source_row"]
        holders = sorted({read[k][0] for k in (pl.Series(offsets).search_sorted(failed_ids, side="left") - 1).to_list()})
        failed = pl.concat([texts[i].filter(pl.col("source_row").is_in(failed_ids.implode())) for i in holders]
                           ) if holders else texts[read[0][0]].clear()
        quarantine = errors.join(_records(failed), on="source_row", how="left")

        def restore(frame: pl.DataFrame) -> pl.DataFrame:
            index = frame["source_row"] - 1
            return frame.with_columns(source_row=origin_row.gather(index), _file=origin_file.gather(index))

        return restore(good), restore(quarantine)

    def _pseudonymise(self, good: pl.DataFrame) -> pl.DataFrame:
        """client_bsn -> client_id; the HMAC runs once per distinct BSN (clients have many lines)."""
        if "client_bsn" not in good.columns:
            return good
        bsns = good.select(pl.col("client_bsn").drop_nulls().unique())
        ids = pseudonymise(bsns, self.key, "client_bsn")
        client_id = pl.col("client_bsn").replace_strict(bsns["client_bsn"], ids, default=None)
        return good.with_columns(client_id=pl.coalesce(client_id, pl.col("client_id"))).drop("client_bsn")

    def _move_aside(self, path: Path, digest: str) -> Path:
        """Move a refused file to refused/<kind>/; an earlier refused file of the same name and
        other content is kept (the new one gets the start of its SHA-256 in its name)."""
        target = self.refused_dir / self.kind / path.name
        if target.exists() and sha256_of(target) != digest:
            target = target.with_name(f"{path.stem}.{digest[:12]}{path.suffix}")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(path), target)
        return target

    def _commit(self, batch: list[_Entry]) -> None:
        """Write a batch in one transaction, then move its refused files aside."""
        good, quarantine = self._validate(batch)
        refused = [(i, e) for i, e in enumerate(batch) if e.quarantine is not None]
        quarantine = pl.concat(
            [quarantine.select(list(_QUARANTINE_SCHEMA)).cast(_QUARANTINE_SCHEMA)]
            + [e.quarantine.with_columns(_file=pl.lit(i)).select(list(_QUARANTINE_SCHEMA)).cast(_QUARANTINE_SCHEMA)
               for i, e in refused])
        files = pl.DataFrame({
            "_file": range(len(batch)), "source_file": [e.item.source_file for e in batch],
            "route": [e.item.route for e in batch],
        }, schema={"_file": pl.Int32, "source_file": pl.String, "route": pl.String})
        # no row without a reason text: an empty detail gets the code's own text
        texts = {code: reason_text(code) for code in quarantine["reason_code"].drop_nulls().unique()}
        quarantine = quarantine.with_columns(reason_text=pl.when(
            pl.col("reason_text").is_null() | (pl.col("reason_text").str.strip_chars() == ""))
            .then(pl.col("reason_code").replace_strict(texts, default=None, return_dtype=pl.String))
            .otherwise(pl.col("reason_text")))
        conn = self.conn
        rules = self.kind in referential.RULES
        conn.execute("begin transaction")
        try:
            conn.register("_batch_files", files)
            replaced = [e.item.source_file for e in batch if e.replaces]
            first_loaded: dict[str, object] = {}
            if replaced:  # a new file has no rows yet: skip the deletes (one scans the raw table)
                conn.execute("create or replace temp table _replaced as select unnest(?::varchar[]) as source_file", [replaced])
                first_loaded = dict(conn.execute(
                    "select source_file, coalesce(first_loaded_at, loaded_at) from raw.manifest "
                    "where source_file in (select source_file from _replaced)").fetchall())
                if rules:  # the rows that go: their keys are decided again
                    held = referential.held_table(self.kind)
                    for table in (f"raw.{self.kind}", held):
                        referential.note_touched(conn, self.kind, f"select * from {table} where source_file in "
                                                 "(select source_file from _replaced)")
                    conn.execute(f"delete from {held} where source_file in (select source_file from _replaced)")
                if self.kind in MODELS:
                    conn.execute(f"delete from raw.{self.kind} where source_file in (select source_file from _replaced)")
                for table in ("quarantine", "manifest"):
                    conn.execute(f"delete from raw.{table} where source_file in (select source_file from _replaced)")
                conn.execute("drop table _replaced")
            # the manifest entries first: the referential rules order rows by their file's first load
            stats = [e.item.path.stat() for e in batch]
            conn.register("_manifest", pl.DataFrame([
                (e.item.source_file, e.digest, st.st_size, e.result.rows_received, e.result.status,
                 bounded(e.result.message), st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
                for e, st in zip(batch, stats)
            ], schema=["source_file", "sha256", "size_bytes", "rows_received", "status", "message", "mtime_ns",
                       "ctime_ns", "inode"], orient="row"))
            conn.register("_first_loaded", pl.DataFrame(
                {"source_file": list(first_loaded), "first_loaded_at": list(first_loaded.values())},
                schema={"source_file": pl.String, "first_loaded_at": pl.Datetime("us")}))
            conn.execute(f"""
                insert into raw.manifest (source_file, kind, sha256, size_bytes, loaded_at, rows_received,
                    rows_loaded, rows_quarantined, status, message, mtime_ns, ctime_ns, inode, first_loaded_at)
                select m.source_file, '{self.kind}', sha256, size_bytes, now(), rows_received, 0, 0, status,
                       message, mtime_ns, ctime_ns, inode, coalesce(f.first_loaded_at, now())
                from _manifest m left join _first_loaded f using (source_file)""")
            conn.unregister("_manifest")
            conn.unregister("_first_loaded")
            moved: set[str] = set()
            if good.height:
                moved = self._insert_rows(good, files)
            elif rules and replaced:
                moved = referential.reevaluate(conn, self.kind, list(raw_columns(self.kind)))
            elif rules:
                conn.execute("drop table if exists _touched")
            conn.register("_quarantine", quarantine)
            conn.execute(f"""
                insert into raw.quarantine
                select f.source_file, '{self.kind}', q.source_row, q.reason_code, q.reason_text, q.record, now()
                from _quarantine q join _batch_files f using (_file) order by q._file, q.source_row""")
            conn.unregister("_quarantine")
            # rows loaded and quarantined per file, counted where they are: the batch's files and
            # any earlier file whose rows a re-evaluation moved
            conn.execute("create or replace temp table _counted as select source_file from _batch_files "
                         "union select unnest(?::varchar[])", [sorted(moved)])
            # (a filter on source_file, not a correlated count: the raw table's row groups hold
            # one file's rows each, so DuckDB skips the others)
            loaded = dict(conn.execute(
                f"select source_file, count(*) from raw.{self.kind} where source_file in "
                "(select source_file from _counted) group by 1").fetchall()) if self.kind in MODELS else {}
            quarantined = dict(conn.execute(
                "select source_file, count(source_row) from raw.quarantine where source_file in "
                "(select source_file from _counted) group by 1").fetchall())
            conn.register("_counts", pl.DataFrame(
                {"source_file": [f for (f,) in conn.execute("select source_file from _counted").fetchall()]},
                schema={"source_file": pl.String}).with_columns(
                loaded=pl.col("source_file").replace_strict(loaded, default=0, return_dtype=pl.Int64),
                quarantined=pl.col("source_file").replace_strict(quarantined, default=0, return_dtype=pl.Int64)))
            conn.execute("""
                update raw.manifest m set rows_loaded = n.loaded, rows_quarantined = n.quarantined
                from _counts n where m.source_file = n.source_file""")
            conn.unregister("_counts")
            conn.execute("drop table _counted")
            for e in batch:
                e.result.rows_loaded = loaded.get(e.item.source_file, 0)
                e.result.rows_quarantined = quarantined.get(e.item.source_file, 0)
            earlier = moved - {e.item.source_file for e in batch}
            if earlier and conn.execute("select count(*) from duckdb_tables() where schema_name = 'meta' "
                                        "and table_name = 'build_files'").fetchall()[0][0]:
                # rows of these files moved in or out of raw.<kind>: the incremental builds must
                # read them again, as they do a changed file
                conn.execute("delete from meta.build_files where source_file in (select unnest(?::varchar[]))",
                             [sorted(earlier)])
            conn.unregister("_batch_files")
            conn.execute("commit")
        except BaseException:
            conn.execute("rollback")
            raise
        if moved and self.log:
            self.log.info(f"{self.kind}: referential decisions changed for rows of {len(moved)} file(s)")
        if self.log:
            self.log.info(f"committed {len(batch)} {self.kind} files ({good.height:,} rows passed validation)")
        for _, e in refused:
            target = self._move_aside(e.item.path, e.digest)
            if self.log:
                self.log.warning(f"refused {e.item.source_file}: {e.quarantine['reason_code'][0]}: "
                                 f"{e.result.message}; moved to {target}")

    def _insert_rows(self, good: pl.DataFrame, files: pl.DataFrame) -> set[str]:
        """Insert a batch's good rows; for kinds with referential rules, decide again every row
        sharing a key with them (rows breaking a rule go to the held table and the quarantine).
        The batch's rows are decided before they are written, so a row held at once is never
        inserted and deleted in one transaction. Returns the files whose rows the re-evaluation
        moved."""
        conn = self.conn
        columns = list(raw_columns(self.kind))
        new = good.join(files, on="_file", how="left", maintain_order="left").select(*columns)
        if self.kind in referential.RULES:
            new = new.with_row_index("_pos")
        insert = f"insert into raw.{self.kind} by name select {', '.join(columns)} from "
        conn.register("_new", new)
        try:
            if self.kind not in referential.RULES:
                conn.execute(insert + "_new")
                return set()

            def insert_new() -> None:
                held = conn.execute("select count(*) from _held_new").fetchall()[0][0]
                if not held:
                    conn.execute(insert + "_new")
                    return
                # the rows not held, in the batch's order (a filter, no join: DuckDB keeps the order)
                positions = [p for (p,) in conn.execute("select n._pos from _new n semi join _held_new h "
                                                        "using (source_file, source_row)").fetchall()]
                conn.execute(insert + "_new where not list_contains(?::ubigint[], _pos)", [positions])

            referential.note_touched(conn, self.kind, "select * from _new")
            return referential.reevaluate(conn, self.kind, columns, new="_new", insert_new=insert_new)
        finally:
            conn.unregister("_new")
