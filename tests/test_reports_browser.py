"""Open every report in a real headless Chromium: no console errors, every figure drawn, tables
that sort and search, a toolbar that never leaves the machine, a page that works copied alone into
an empty folder, and a print (A4 landscape) that cuts no table.

Screenshots (1400 px and 1024 px wide) go under the test's tmp folder and are copied to
/tmp/report_screens/ for a look.
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
# the only toolbar buttons a page may show: all act on the chart in the page or save a PNG locally
ALLOWED_BUTTONS = {"toImage", "zoom2d", "pan2d", "zoomIn2d", "zoomOut2d", "autoScale2d", "resetScale2d"}


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


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> list[Path]:
    return _reports(tmp_path_factory.mktemp("reports"), empty=False, language="nl")


def _load(browser, path: Path, width: int = 1400):
    """Open ``path`` offline (every request outside the file itself is refused and recorded);
    return the page, its console errors and the requests it tried."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("requestfailed", lambda req: errors.append(f"request failed: {req.url}"))

    def route(r):
        if r.request.url == path.as_uri():
            r.continue_()
        else:
            requests.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.goto(path.as_uri(), wait_until="load")
    if path.read_text(encoding="utf-8").count('id="page-config"'):
        page.wait_for_selector("body[data-ready='1']", timeout=30_000)
    return page, errors, requests


def _figures_drawn(page) -> list[int]:
    divs = page.locator(".plotly-graph-div")
    return [divs.nth(i).locator(".main-svg").count() for i in range(divs.count())]


def test_every_report_renders_in_chromium(browser, pages, tmp_path):
    SCREENS.mkdir(exist_ok=True)
    for path in pages:
        for width in (1400, 1024):
            page, errors, requests = _load(browser, path, width)
            counts = _figures_drawn(page)
            shot = tmp_path / f"nl_{path.stem}_{width}.png"
            page.screenshot(path=str(shot), full_page=True)
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            cut = page.evaluate(
                "Array.from(document.querySelectorAll('table')).filter(t => t.getBoundingClientRect().right > "
                "t.closest('section').getBoundingClientRect().right + 1).map(t => t.closest('section').id)")
            page.close()
            shutil.copy(shot, SCREENS / shot.name)
            assert errors == [], f"{path.name}: {errors}"
            assert requests == [], f"{path.name} asked for {requests}"
            assert counts == [c for c in counts if c >= 1], f"{path.name}: a figure without an SVG: {counts}"
            expected = path.read_text(encoding="utf-8").count('class="plotly-graph-div"')
            assert len(counts) == expected, path.name
            assert overflow <= 0, f"{path.name} is wider than the window at {width} px"
            assert cut == [], f"{path.name}: tables wider than their section at {width} px: {cut}"
            if path.name != "index.html":
                assert counts, f"{path.name} has no figure"


def test_a_page_copied_alone_into_an_empty_folder_renders_its_charts(browser, pages, tmp_path):
    alone = tmp_path / "mailed"
    alone.mkdir()
    source = next(p for p in pages if p.name == "maandrapportage_0363.html")
    copy = alone / source.name
    shutil.copy(source, copy)
    assert [p.name for p in alone.iterdir()] == [source.name]
    page, errors, requests = _load(browser, copy)
    counts = _figures_drawn(page)
    tables = page.locator("table.dt.dataTable, table.dataTable").count()
    page.close()
    assert errors == [] and requests == []
    assert len(counts) >= 4 and all(c >= 1 for c in counts)
    assert tables >= 3  # the tables became DataTables too


def test_tables_sort_and_search(browser, pages):
    path = next(p for p in pages if p.name == "maandrapportage_regio.html")
    page, errors, _ = _load(browser, path)
    # the under-used list: sorted by committed euros (descending) by default
    table = page.locator("#onderbenutting table.dataTable").first
    head = table.locator("thead th")
    names = [head.nth(i).inner_text().strip() for i in range(head.count())]
    euro = next(i for i, n in enumerate(names) if n.startswith("Verplichting"))
    allocation = next(i for i, n in enumerate(names) if n.startswith("Toewijzing"))

    def column(i: int) -> list[str]:
        cells = table.locator(f"tbody tr td:nth-child({i + 1})")
        return [cells.nth(k).get_attribute("data-order") or cells.nth(k).inner_text() for k in range(cells.count())]

    values = [float(v) for v in column(euro)]
    assert values == sorted(values, reverse=True) and len(values) >= 2
    # a click on a header sorts by that column
    head.nth(allocation).click()
    sorted_numbers = [v for v in (table.locator(f"tbody tr td:nth-child({allocation + 1})").all_inner_texts())]
    assert sorted_numbers == sorted(sorted_numbers)
    # searching keeps only the matching rows (a table long enough to have a search box)
    box = page.locator("div.dt-container:has(input[type=search])").first
    searched = box.locator("table.dataTable")
    search = box.locator("input[type=search]")
    before = searched.locator("tbody tr").count()
    info = box.locator(".dt-info").inner_text()
    word = searched.locator("tbody tr").first.locator("td").nth(1).inner_text().strip()
    search.fill(word)
    page.wait_for_timeout(300)
    rows = searched.locator("tbody tr")
    assert rows.count() >= 1 and all(word in rows.nth(k).inner_text() for k in range(rows.count()))
    assert box.locator(".dt-info").inner_text() != info  # "(gezocht in … rijen)"
    search.fill("zzz-no-such-row")
    page.wait_for_timeout(300)
    assert searched.locator("tbody tr").first.inner_text().strip() == "Niets gevonden"
    search.fill("")
    page.wait_for_timeout(300)
    assert searched.locator("tbody tr").count() == before
    page.close()
    assert errors == []


def test_tables_sort_numbers_with_decimals_as_numbers(browser, pages):
    """€ 1.200,50 before € 750,75: the sort reads the raw number (data-order), not the Dutch text."""
    path = next(p for p in pages if p.name == "maandrapportage_0363.html")
    page, errors, _ = _load(browser, path)
    first = page.locator("#rechtmatigheid table.dataTable tbody tr").first.inner_text()
    page.close()
    assert errors == []
    assert first.startswith("Begeleiding Aan Zee (87654321)"), first


def test_the_rekenfactor_slider_updates_the_budget_effect_card(browser, pages):
    """Each slider step restyles the budget-effect bars; the card above shows their total."""
    path = next(p for p in pages if p.name == "rekenfactor.html")
    page, errors, _ = _load(browser, path)
    card = page.locator("#rekenfactor-effect-total")
    implied = card.inner_text()
    # the step of the largest rekenfactor the slider offers, as a click on its label would choose it
    steps = page.evaluate("document.getElementById('rekenfactor-effect').layout.sliders[0].steps.length")
    page.evaluate(f"""() => {{
        const gd = document.getElementById('rekenfactor-effect');
        const step = gd.layout.sliders[0].steps[{steps - 1}];
        return Plotly.restyle(gd, step.args[0], step.args[1]);
    }}""")
    tried = card.inner_text()
    total = page.evaluate("""() => {
        const gd = document.getElementById('rekenfactor-effect');
        const y = gd.data[gd.layout.meta.trace].y;
        let t = 0; for (let i = 0; i < y.length; i++) t += Number(y[i]) || 0; return Math.round(t);
    }""")
    page.close()
    assert errors == []
    assert tried != implied and tried.startswith("€")
    assert tried.replace("\u00a0", " ").replace(".", "").replace("€", "").strip().replace(" ", "") == str(total)


def test_no_toolbar_button_leaves_the_machine(browser, pages):
    for path in pages:
        if path.name == "index.html":
            continue
        page, errors, requests = _load(browser, path)
        buttons = page.evaluate(
            "Array.from(document.querySelectorAll('.modebar-btn')).map(b => b.getAttribute('data-attr') === 'zoom' "
            "? b.getAttribute('data-val') : (b.getAttribute('data-title') + '|' + (b.getAttribute('data-attr') || '')))")
        links = page.evaluate("Array.from(document.querySelectorAll('.modebar a, .modebar-btn[href]')).length")
        titles = page.evaluate("Array.from(document.querySelectorAll('.modebar-btn')).map(b => b.getAttribute('data-title'))")
        configs = page.evaluate(
            "Array.from(document.querySelectorAll('.plotly-graph-div')).map(d => "
            "Object.assign({}, d._context.modeBarButtons ? {buttons: d._context.modeBarButtons.flat()} : {}, "
            "{cloud: d._context.showSendToCloud || d._context.showEditInChartStudio || d._context.showLink}))")
        page.close()
        assert errors == [] and requests == [], path.name
        assert links == 0, path.name
        for config in configs:
            assert not config["cloud"], path.name
            assert set(config["buttons"]) <= ALLOWED_BUTTONS, (path.name, config["buttons"])
        assert not any("Chart Studio" in (t or "") or "cloud" in (t or "").lower() for t in titles), titles
        # the toolbar speaks Dutch
        assert "Grafiek opslaan als PNG (op deze computer)" in titles, (path.name, titles, buttons)


def test_printing_to_pdf_cuts_no_table(browser, pages, tmp_path):
    """Chromium's print (A4 landscape, the page's @page rule) lays every table out within the
    paper's width; every row of every table is printed, not only the visible page of rows."""
    for path in pages:
        page, errors, _ = _load(browser, path, width=1400)
        page.emulate_media(media="print")
        page.evaluate("window.dispatchEvent(new Event('beforeprint'))")
        hidden_rows = page.evaluate(
            "(window.zbTables || []).map(t => t.rows({search: 'applied'}).count() - t.rows({page: 'current'}).count())")
        pdf = tmp_path / f"{path.stem}.pdf"
        page.pdf(path=str(pdf), prefer_css_page_size=True, print_background=True)
        # A4 landscape at 96 dpi: 297 mm = 1123 px, less 2 x 10 mm margins = 1047 px
        widths = page.evaluate(
            "Array.from(document.querySelectorAll('table')).map(t => Math.ceil(t.getBoundingClientRect().width))")
        page.set_viewport_size({"width": 1047, "height": 900})
        page.wait_for_timeout(200)
        overflow = page.evaluate(
            "Array.from(document.querySelectorAll('table')).filter(t => t.getBoundingClientRect().right > 1047 + 1)"
            ".map(t => (t.closest('section') || {}).id)")
        page.close()
        assert pdf.stat().st_size > 10_000, path.name
        assert errors == [], path.name
        assert widths is not None
        assert overflow == [], f"{path.name}: tables wider than A4 landscape in {overflow}"
        assert all(n == 0 for n in hidden_rows), f"{path.name}: rows left out of the print: {hidden_rows}"


def test_empty_marts_render_geen_messages(browser, tmp_path):
    out = tmp_path / "reports"
    SCREENS.mkdir(exist_ok=True)
    for path in _reports(out, empty=True, language="nl"):
        page, errors, requests = _load(browser, path)
        counts = _figures_drawn(page)
        shot = tmp_path / f"empty_{path.stem}.png"
        page.screenshot(path=str(shot), full_page=True)
        page.close()
        shutil.copy(shot, SCREENS / shot.name)
        assert errors == [] and requests == [], f"{path.name}: {errors} {requests}"
        assert all(c >= 1 for c in counts)
        if path.name != "index.html":
            assert "Geen" in path.read_text(encoding="utf-8"), path.name


def test_english_pages_render(browser, tmp_path):
    for path in _reports(tmp_path / "en", empty=False, language="en"):
        if path.name not in ("maandrapportage_regio.html", "plafondmonitor_3311.html", "index.html"):
            continue
        page, errors, _ = _load(browser, path)
        titles = page.evaluate("Array.from(document.querySelectorAll('.modebar-btn')).map(b => b.getAttribute('data-title'))")
        text = page.locator("body").inner_text()
        page.close()
        assert errors == [], path.name
        if path.name != "index.html":
            assert "Save chart as PNG (on this computer)" in titles
        if path.name == "maandrapportage_regio.html":
            assert "Search:" in text
