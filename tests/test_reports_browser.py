"""Open every report in a real headless Chromium: no console errors, every figure drawn.

Screenshots go under the test's tmp folder and are copied to /tmp/report_screens/ for a look.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from report_fixtures import AS_OF, create_report_marts

CHROMIUM = Path("/usr/bin/chromium")
SCREENS = Path("/tmp/report_screens")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

@pytest.fixture(scope="module")
def browser():
    # `make test` installs Debian's chromium; without it these tests fail rather than skip
    assert CHROMIUM.exists(), "/usr/bin/chromium is absent: run `make chromium` (apt-get install chromium)"
    from playwright import sync_api

    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


def _reports(tmp: Path, *, empty: bool, language: str) -> list[Path]:
    from pipeline.reports import write_reports

    conn = duckdb.connect()
    create_report_marts(conn, empty=empty)
    paths = write_reports(conn, tmp, as_of=AS_OF, language=language)
    conn.close()
    return sorted(p for p in paths if p.suffix == ".html")


def _open(browser, path: Path, shot: Path) -> tuple[list[str], int, list[int]]:
    """Load ``path``; return console errors, figure divs and .main-svg counts per figure div."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("requestfailed", lambda req: errors.append(f"request failed: {req.url}"))
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_function(
        "Array.from(document.querySelectorAll('.plotly-graph-div'))"
        ".every(d => d.querySelector('.main-svg'))",
        timeout=20_000,
    )
    divs = page.locator(".plotly-graph-div")
    n_divs = divs.count()
    counts = [divs.nth(i).locator(".main-svg").count() for i in range(n_divs)]
    page.screenshot(path=str(shot), full_page=True)
    page.close()
    return errors, n_divs, counts


def test_every_report_renders_in_chromium(browser, tmp_path):
    language = "nl"
    out = tmp_path / "reports"
    shots = tmp_path / "screens"
    shots.mkdir()
    SCREENS.mkdir(exist_ok=True)
    for path in _reports(out, empty=False, language=language):
        shot = shots / f"{language}_{path.stem}.png"
        errors, n_divs, counts = _open(browser, path, shot)
        shutil.copy(shot, SCREENS / shot.name)
        assert errors == [], f"{path.name}: {errors}"
        expected = path.read_text(encoding="utf-8").count('class="plotly-graph-div"')
        assert n_divs == expected, path.name
        assert all(c >= 1 for c in counts), f"{path.name}: a figure without an SVG: {counts}"
        if path.name != "index.html":
            assert n_divs >= 1, f"{path.name} has no figure"


def test_empty_marts_render_geen_messages(browser, tmp_path):
    out = tmp_path / "reports"
    SCREENS.mkdir(exist_ok=True)
    for path in _reports(out, empty=True, language="nl"):
        shot = tmp_path / f"empty_{path.stem}.png"
        errors, n_divs, counts = _open(browser, path, shot)
        shutil.copy(shot, SCREENS / shot.name)
        assert errors == [], f"{path.name}: {errors}"
        assert all(c >= 1 for c in counts)
        if path.name != "index.html":
            assert "Geen" in path.read_text(encoding="utf-8"), path.name
