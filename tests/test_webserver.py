"""Smoke test: the Dagster webserver starts on localhost and lists every asset and check."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from pipeline.definitions import all_assets, all_checks, defs
from pipeline.paths import ROOT

QUERY = """
{ assetNodes { assetKey { path }
    assetChecksOrError { ... on AssetChecks { checks { name } } } } }
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_webserver_lists_every_asset_and_check(tmp_path, data_root):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    port = _free_port()
    webserver = Path(sys.executable).with_name("dagster-webserver")
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    proc = subprocess.Popen(
        [str(webserver), "-m", "pipeline", "-h", "127.0.0.1", "-p", str(port)],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        result = None
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"webserver stopped: {proc.stderr.read().decode()[-2000:]}")
            try:
                result = _graphql(port, QUERY)
                if result.get("data", {}).get("assetNodes"):
                    break
            except OSError:
                pass
            time.sleep(1)
        assert result and result.get("data"), result
        nodes = result["data"]["assetNodes"]
        listed = {"/".join(n["assetKey"]["path"]) for n in nodes}
        expected = {key.to_user_string() for key in defs.resolve_all_asset_keys()}
        assert listed == expected
        checks = {
            ("/".join(n["assetKey"]["path"]), c["name"])
            for n in nodes for c in n["assetChecksOrError"].get("checks", [])
        }
        expected_checks = {  # most checks are defined with their asset (check_specs), a few on their own
            (key.asset_key.to_user_string(), key.name)
            for definition in [*all_assets, *all_checks] for key in definition.check_keys
        }
        assert len(expected_checks) >= 40
        assert checks == expected_checks
        assert len(listed) == sum(len(a.keys) for a in all_assets) >= 40
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
