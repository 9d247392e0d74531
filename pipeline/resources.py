"""Resources: the DuckDB warehouse (threads and memory capped) and the data folders."""

from __future__ import annotations

import datetime as dt
import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import dagster as dg
import duckdb
from pydantic import Field, PrivateAttr

from pipeline.paths import data_dir


class WarehouseBusy(RuntimeError):
    """Another run holds the warehouse."""


class RunLock:
    """An OS lock on ``<database>.run-lock``, held by a run from its start to its end.

    DuckDB's own lock lasts while the file is open, from a run's first step that connects to its
    end: two command-line runs (``max_concurrent_runs`` does not apply to them) would otherwise
    meet only at the second one's first connection, after its run had started, and it could not
    wait its turn. ``flock`` is released by the OS when the holder dies, so a killed
    run never leaves a stale lock; the file keeps the holder's PID and start time for the message.
    """

    def __init__(self, database: str):
        self.path = Path(f"{database}.run-lock")
        self._handle = None

    def acquire(self, wait_seconds: float = 0.0) -> None:
        import fcntl
        import time

        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+", encoding="utf-8")
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.seek(0)
                    holder = handle.read().strip() or "another process"
                    handle.close()
                    raise WarehouseBusy(
                        f"The warehouse {self.path.with_suffix('')} is in use by another run ({holder}); "
                        "this run stopped before touching anything. Wait for that run to finish (or stop "
                        "it) and start again, or set ZORG_RUN_LOCK_WAIT to the seconds a run may wait."
                    ) from None
                time.sleep(0.5)
        handle.seek(0)
        handle.truncate()
        handle.write(f"PID {os.getpid()}, started {dt.datetime.now().isoformat(timespec='seconds')}\n")
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        import fcntl

        if self._handle is not None:
            self._handle.seek(0)
            self._handle.truncate()
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


class Warehouse(dg.ConfigurableResource):
    """The one DuckDB file. DuckDB allows one writing process per file: the UI's runs, a CLI run
    and a DuckDB shell on the same file collide, and a run then fails fast with what holds it.

    A run holds the warehouse for its whole duration (``RunLock``, taken when the run initialises
    its resources, before any step, and released when it ends): a second run fails at once with
    the first run's PID, or waits up to ``ZORG_RUN_LOCK_WAIT`` seconds.

    Within a run the file is opened once: every step gets its own connection (a cursor: its own
    transaction, temporary tables and macros) to the one open database, which is closed, and so
    checkpointed, when the run ends. Opening the file and checkpointing it on close in every one
    of the run's steps cost about 30 ms a step. Outside a run (tests, tools) each ``connect()``
    opens and closes the file."""

    database: str = Field(description="Path of the DuckDB file")
    threads: int = Field(default=2, description="DuckDB threads")
    memory_limit: str = Field(default="4GB", description="DuckDB memory limit")
    _run_lock: RunLock | None = PrivateAttr(default=None)
    _run_database: duckdb.DuckDBPyConnection | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._run_lock = RunLock(self.database)
        self._run_lock.acquire(float(os.environ.get("ZORG_RUN_LOCK_WAIT", "0")))

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        try:
            if self._run_database is not None:
                self._run_database.close()  # the run's one checkpoint
        finally:
            self._run_database = None
            if self._run_lock is not None:
                self._run_lock.release()
                self._run_lock = None

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for one step or task; closed (its open transaction rolled back) on exit."""
        if self._run_lock is None:  # not inside a run: a connection of its own
            conn = self._open()
            try:
                yield conn
            finally:
                conn.close()
            return
        if self._run_database is None:
            self._run_database = self._open()
        cursor = self._run_database.cursor()
        try:
            yield cursor
        except duckdb.FatalException:
            # a fatal error invalidates the database instance: the next step opens the file again
            database, self._run_database = self._run_database, None
            database.close()
            raise
        finally:
            cursor.close()

    def _open(self) -> duckdb.DuckDBPyConnection:
        Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = duckdb.connect(
                self.database,
                config={"threads": self.threads, "memory_limit": self.memory_limit},
            )
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                pid = re.search(r"PID (\d+)", str(exc))
                holder = f"process {pid.group(1)}" if pid else "another process"
                raise RuntimeError(
                    f"The warehouse {self.database} is locked by {holder} ({exc}). "
                    "Close the DuckDB shell, notebook or other run that holds it (or wait for "
                    "the running materialization to finish) and start again. To read the figures "
                    "while a run writes, use the Parquet copies under <data>/exports/marts/."
                ) from None
            raise
        return conn


class DataFolders(dg.ConfigurableResource):
    """Where the inbox, the reference tables and refused files live."""

    root: str = Field(description="Data folder holding inbox/, reference/ and refused/")

    @property
    def inbox(self) -> Path:
        return Path(self.root) / "inbox"

    @property
    def reference(self) -> Path:
        return Path(self.root) / "reference"

    @property
    def refused(self) -> Path:
        return Path(self.root) / "refused"


def default_resources() -> dict[str, dg.ConfigurableResource]:
    from pipeline.settings import MetricSettings

    root = data_dir()
    return {
        "warehouse": Warehouse(
            database=str(root / "warehouse.duckdb"),
            threads=int(os.environ.get("ZORG_DUCKDB_THREADS", "2")),
            memory_limit=os.environ.get("ZORG_DUCKDB_MEMORY_LIMIT", "4GB"),
        ),
        "folders": DataFolders(root=str(root)),
        "settings": MetricSettings(),
    }
