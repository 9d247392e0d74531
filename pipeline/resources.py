"""Resources: the DuckDB warehouse (threads and memory capped) and the data folders."""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import dagster as dg
import duckdb
from pydantic import Field

from pipeline.paths import data_dir


class Warehouse(dg.ConfigurableResource):
    """The one DuckDB file. DuckDB allows one writing process per file: the UI's runs, a CLI run
    and a DuckDB shell on the same file collide, and a run then fails fast with what holds it."""

    database: str = Field(description="Path of the DuckDB file")
    threads: int = Field(default=2, description="DuckDB threads")
    memory_limit: str = Field(default="4GB", description="DuckDB memory limit")

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
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
        try:
            yield conn
        finally:
            conn.close()


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
