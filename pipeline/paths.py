"""Project folders, anchored on this file, never on the working directory."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SQL_DIR = ROOT / "sql"
PROFILES_DIR = ROOT / "pipeline" / "profiles"
XSD_DIR = ROOT / "pipeline" / "ingest" / "xsd"


def data_dir() -> Path:
    """The data folder; ZORG_DATA_DIR overrides it (tests and the benchmark use their own)."""
    return Path(os.environ.get("ZORG_DATA_DIR", ROOT / "data"))


def reports_dir() -> Path:
    return Path(os.environ.get("ZORG_REPORTS_DIR", ROOT / "reports"))
