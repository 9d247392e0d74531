"""Shared fixtures: a pseudonym key, a copy of the small fixture inbox, and a pipeline runner."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from hypothesis import settings

# Property tests are derandomized so CI sees the same examples every run; set
# HYPOTHESIS_PROFILE=explore to search with fresh random examples.
settings.register_profile("repo", derandomize=True, database=None)
settings.register_profile("explore", max_examples=300)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repo"))

FIXTURE_DATA = Path(__file__).parent / "fixtures" / "inbox"
TEST_KEY = "test-key-not-secret"


@pytest.fixture(scope="session", autouse=True)
def _reports_outside_the_checkout(tmp_path_factory):
    """A test that does not choose ZORG_REPORTS_DIR writes here, never over the demo's reports/."""
    previous = os.environ.get("ZORG_REPORTS_DIR")
    os.environ["ZORG_REPORTS_DIR"] = str(tmp_path_factory.mktemp("reports"))
    yield
    if previous is None:
        os.environ.pop("ZORG_REPORTS_DIR", None)
    else:
        os.environ["ZORG_REPORTS_DIR"] = previous


@pytest.fixture(autouse=True)
def pseudonym_key(monkeypatch):
    monkeypatch.setenv("ZORG_PSEUDONYM_KEY", TEST_KEY)
    return TEST_KEY.encode()


@pytest.fixture
def data_root(tmp_path: Path, monkeypatch) -> Path:
    """A copy of tests/fixtures/inbox in tmp_path; reports go to tmp_path/reports."""
    root = tmp_path / "data"
    shutil.copytree(FIXTURE_DATA, root)
    (root / "inbox" / "iwmo").mkdir(exist_ok=True)
    monkeypatch.setenv("ZORG_DATA_DIR", str(root))
    monkeypatch.setenv("ZORG_REPORTS_DIR", str(tmp_path / "reports"))
    return root


def resources_for(root: Path, **settings) -> dict:
    from pipeline.resources import DataFolders, Warehouse
    from pipeline.settings import MetricSettings

    return {
        "warehouse": Warehouse(database=str(root / "warehouse.duckdb"), threads=1, memory_limit="1GB"),
        "folders": DataFolders(root=str(root)),
        "settings": MetricSettings(**settings),
    }


def materialize(root: Path, selection: str = "*", **settings) -> dg.ExecuteInProcessResult:
    from pipeline.definitions import all_assets, all_checks

    return dg.materialize(
        [*all_assets, *all_checks],
        resources=resources_for(root, **settings),
        selection=selection,
        raise_on_error=False,
    )


def query(root: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as conn:
        return conn.execute(sql).fetchall()


DEMO_AS_OF = "2026-10-31"


@pytest.fixture(scope="session")
def demo_warehouse(tmp_path_factory) -> Path:
    """The published demo region (pipeline/demo.py, seed 42, scale 1) run through raw, staging and
    marts once per test session at as_of 2026-10-31; tests read its warehouse and summary.json
    (the generator's truth) read-only. Every marts check must pass."""
    import datetime as dt

    from pipeline import demo

    root = tmp_path_factory.mktemp("demo_warehouse") / "data"
    demo.generate(root, seed=42, scale=1, as_of=dt.date.fromisoformat(DEMO_AS_OF))
    mp = pytest.MonkeyPatch()
    mp.setenv("ZORG_DATA_DIR", str(root))
    mp.setenv("ZORG_REPORTS_DIR", str(root.parent / "reports"))
    mp.setenv("ZORG_PSEUDONYM_KEY", TEST_KEY)
    try:
        result = materialize(root, "key:raw/* or key:staging/* or key:marts/*", as_of=DEMO_AS_OF)
    finally:
        mp.undo()
    assert result.success
    failed = [e.check_name for e in result.get_asset_check_evaluations()
              if e.asset_key.path[0] == "marts" and not e.passed]
    assert failed == [], failed
    return root
