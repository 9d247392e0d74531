"""The benchmark's own arithmetic: step time per asset group, read from Dagster's log."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

RUN_PY = Path(__file__).parent.parent / "benchmarks" / "run.py"


@pytest.fixture(scope="module")
def run_module():
    spec = importlib.util.spec_from_file_location("benchmark_run", RUN_PY)
    module = importlib.util.module_from_spec(spec)
    sys.modules["benchmark_run"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    yield module
    del sys.modules["benchmark_run"]


def test_step_time_is_summed_per_asset_group(run_module):
    log = "\n".join([
        'x - raw__declarations - STEP_SUCCESS - Finished execution of step "raw__declarations" in 1m 2.5s.',
        'x - STEP_SUCCESS - Finished execution of step "raw__declarations_pandera_schema" in 949ms.',
        'x - STEP_SUCCESS - Finished execution of step "staging__answers" in 1.25s.',
        'x - STEP_START - Started execution of step "marts__payer_lines".',  # not finished: not counted
        'x - STEP_SUCCESS - Finished execution of step "reports__reports" in 1h 0m 3s.',
    ])
    # by hand: raw 62.5 + 0.949 = 63.449; staging 1.25; reports 3600 + 3 = 3603
    assert run_module.steps_by_group(log) == pytest.approx({"raw": 63.449, "staging": 1.25, "reports": 3603.0})
