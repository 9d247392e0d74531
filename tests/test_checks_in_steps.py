"""Checks that run inside their asset's step."""

import dagster as dg
import duckdb

from conftest import materialize, query, resources_for
from pipeline.checks import CHECKS, standalone_checks
from pipeline.definitions import all_assets, all_checks, defs


def _check_keys(definitions) -> set[dg.AssetCheckKey]:
    return {key for d in definitions for key in d.check_keys}


def test_every_check_is_defined_once():
    in_steps = _check_keys(all_assets)
    on_their_own = _check_keys(all_checks)
    assert in_steps.isdisjoint(on_their_own)
    # every check of pipeline/checks.py is in the definitions, in its asset's step or on its own
    assert {c.key for c in CHECKS} <= in_steps | on_their_own
    assert on_their_own == _check_keys(standalone_checks)
    assert len(in_steps | on_their_own) >= 40
    dg.Definitions.validate_loadable(defs)


def test_a_failed_blocking_check_in_the_step_stops_downstream(data_root):
    assert materialize(data_root, "key:raw/allocations").success
    with duckdb.connect(str(data_root / "warehouse.duckdb")) as conn:
        conn.execute("delete from raw.allocations where allocation_number = '1001'")
    # the files are unchanged, so the load is a no-op and rows_reconcile sees the missing row
    result = materialize(data_root, "key:raw/allocations or key:staging/allocation_versions")
    assert not result.success
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert materialized == {"raw/allocations"}  # recorded, and nothing downstream ran
    failed = {(e.asset_key.to_user_string(), e.check_name)
              for e in result.get_asset_check_evaluations() if not e.passed}
    assert failed == {("raw/allocations", "rows_reconcile")}
    assert query(data_root, "select count(*) from information_schema.tables "
                            "where table_schema = 'staging'") == [(0,)]


def test_checks_run_without_their_asset(data_root):
    assert materialize(data_root, "key:raw/allocations").success
    result = dg.materialize(
        [*all_assets, *all_checks], resources=resources_for(data_root),
        selection=dg.AssetSelection.checks_for_assets(dg.AssetKey(["raw", "allocations"])))
    assert result.get_asset_materialization_events() == []
    assert {e.check_name for e in result.get_asset_check_evaluations() if e.passed} == {
        "rows_reconcile", "pandera_schema"}
