"""Reports: formatting, figure builders, follow-up lists, the writer and the workbook."""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from pathlib import Path

import duckdb
import openpyxl
import polars as pl
import pytest

from pipeline.reports import figures as F
from pipeline.reports import tables as T
from pipeline.reports import write_reports
from pipeline.reports.data import conform, empty_frame
from pipeline.reports.i18n import (
    fmt_date,
    fmt_eur,
    fmt_num,
    fmt_pct,
    pl_fmt_date,
    pl_fmt_eur,
    pl_fmt_num,
    pl_fmt_pct,
)
from report_fixtures import (
    AS_OF,
    CLIENT_ID,
    FORMULA_ALLOCATION,
    FORMULA_PROVIDER,
    INSURERS,
    MUNICIPALITIES,
    create_report_marts,
)

# ------------------------------------------------------------------------------------ formatting


def test_euro_dutch_and_english():
    assert fmt_eur(1234.56) == "€ 1.234,56"
    assert fmt_eur(-1234.56) == "€ -1.234,56"
    assert fmt_eur(1234567.891) == "€ 1.234.567,89"
    assert fmt_eur(0) == "€ 0,00"
    assert fmt_eur(-0.001) == "€ 0,00"
    assert fmt_eur(1234.56, "en") == "€ 1,234.56"
    assert fmt_eur(-1234.56, "en") == "€ -1,234.56"
    assert fmt_eur(None) == ""


def test_dates_percentages_numbers():
    assert fmt_date(dt.date(2026, 10, 31)) == "31-10-2026"
    assert fmt_date(dt.datetime(2026, 10, 31, 9, 30)) == "31-10-2026"
    assert fmt_date(dt.date(2026, 10, 31), "en") == "2026-10-31"
    assert fmt_pct(0.123) == "12,3%"
    assert fmt_pct(0.123, "en") == "12.3%"
    assert fmt_pct(1.08) == "108,0%"
    assert fmt_num(1234567, "nl") == "1.234.567"
    assert fmt_num(1234567, "en") == "1,234,567"
    with pytest.raises(ValueError):
        fmt_eur(1, "de")


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_column_formatters_match_the_scalar_ones(lang):
    values = [0.0, 0.4, -0.4, 7.25, 999.994, 1000.0, -1234.56, 1234567.891, 98765432.1, -5.0, 1e12 + 0.25]
    frame = pl.DataFrame({"x": values, "d": [dt.date(2026, 1, 2)] * len(values)})
    out = frame.select(
        e=pl_fmt_eur(pl.col("x"), lang), n=pl_fmt_num(pl.col("x"), lang, 1), p=pl_fmt_pct(pl.col("x") / 1000, lang),
        d=pl_fmt_date(pl.col("d"), lang),
    )
    assert out["e"].to_list() == [fmt_eur(v, lang) for v in values]
    assert out["n"].to_list() == [fmt_num(v, lang, 1) for v in values]
    assert out["p"].to_list() == [fmt_pct(v / 1000, lang) for v in values]
    assert out["d"].to_list() == [fmt_date(dt.date(2026, 1, 2), lang)] * len(values)
    assert pl.DataFrame({"x": [None]}, schema={"x": pl.Float64}).select(pl_fmt_eur(pl.col("x")))[0, 0] is None


# ----------------------------------------------------------------------- hand-built small frames


def _months() -> pl.DataFrame:
    """Two allocations: A peaks in January and is compensated (20+10+10 <= 45); B overshoots."""
    return conform(pl.DataFrame({
        "municipality_code": ["0363"] * 6, "law": ["wmo"] * 6,
        "allocation_number": ["A", "A", "A", "B", "B", "B"],
        "provider_agb": ["11111111"] * 3 + ["22222222"] * 3,
        "product_category": ["02"] * 6, "product_code": ["02A05"] * 6,
        "month": [dt.date(2026, m, 1) for m in (1, 2, 3)] * 2,
        "max_volume": [15.0] * 6,
        "delivered_volume": [20.0, 10.0, 10.0, 18.0, 18.0, 15.0],
        "declared_volume": [20.0, 10.0, 10.0, 18.0, 18.0, 15.0],
        "approved_amount_eur": [1000.0, 500.0, 500.0, 900.0, 900.0, 750.0],
        "utilisation": [20 / 15, 10 / 15, 10 / 15, 1.2, 1.2, 1.0],
        "period_overshoot": [True, False, False, True, True, False],
    }), "allocation_months")


def _totals() -> pl.DataFrame:
    return conform(pl.DataFrame({
        "municipality_code": ["0363", "0363"], "law": ["wmo", "wmo"], "allocation_number": ["A", "B"],
        "total_max_volume": [45.0, 45.0], "delivered_volume": [40.0, 51.0], "utilisation": [40 / 45, 51 / 45],
        "total_overshoot": [False, True], "peak_months": [1, 2], "compensated_peak_months": [1, 0],
        "peak_excess_volume": [5.0, 6.0], "underused": [False, False], "underuse_reason": [None, None],
        "suggested_product_code": [None, None],
    }), "allocation_totals")


def test_overshoot_summary_counts_and_euros_by_hand():
    totals = T.enrich_totals(_totals(), _months(), AS_OF)
    summary = T.overshoot_summary(T.months_in_year(_months(), AS_OF), totals, "nl")
    got = {r["key"]: (r["count"], round(r["eur"], 2)) for r in summary.iter_rows(named=True)}
    # period: A Jan 1000*5/20 = 250; B Jan and Feb 900*3/18 = 150 each -> 3 months, 550
    assert got["period_overshoots"] == (3, 550.0)
    # compensated: only A's January, 250
    assert got["compensated_peaks"] == (1, 250.0)
    # real: B, 6 units above 45 at 2550/51 = 50 per unit -> 300
    assert got["real_overshoots"] == (1, 300.0)
    assert summary["class"].to_list() == [
        "Periode-overschrijdingen", "Gecompenseerde pieken", "Echte totaaloverschrijdingen"]
    # the provider and product come from the months when the totals lack them
    assert totals.sort("allocation_number")["provider_agb"].to_list() == ["11111111", "22222222"]


def test_overshoot_lists_say_why():
    totals = T.enrich_totals(_totals(), _months(), AS_OF)
    real = T.real_overshoot_list(totals, "nl")
    assert real["allocation_number"].to_list() == ["B"]
    assert real["why"][0] == "totaaloverschrijding: gevraagd 51 > max 45"
    assert T.real_overshoot_list(totals, "en")["why"][0] == "total overshoot: requested 51 > max 45"
    period = T.period_overshoot_list(T.months_in_year(_months(), AS_OF), totals, "nl")
    why = dict(zip(period["month"].to_list(), period["why"].to_list()))
    assert why[dt.date(2026, 1, 1)].startswith("periode-overschrijding: gevraagd ")
    a_jan = period.filter(pl.col("allocation_number") == "A")["why"][0]
    assert a_jan == "periode-overschrijding: gevraagd 20 > max 15; gecompenseerd binnen het jaar"


def test_underused_reasons_and_suggestion():
    totals = _totals().with_columns(
        underused=pl.Series([True, True]), underuse_reason=pl.Series(["low_utilisation", "below_band"]),
        suggested_product_code=pl.Series([None, "02A04"]), committed_eur=pl.Series([100.0, 900.0]),
        utilisation=pl.Series([0.3214, 0.9]),
    )
    out = T.underused_list(totals, "nl")
    assert out["allocation_number"].to_list() == ["B", "A"]  # most euros committed first
    assert out["why"].to_list() == ["uren per week onder de band; past bij product 02A04",
                                    "lage benutting: 32,1% van het maximum over de volwassen maanden"]
    by_reason = T.underuse_by_reason(out)
    assert dict(zip(by_reason["reason_label"], by_reason["committed_eur"])) == {
        "lage benutting": 100.0, "onder de band": 900.0}


def _ceilings() -> pl.DataFrame:
    return conform(pl.DataFrame({
        "payer_code": ["3311"] * 4, "provider_agb": ["ok", "seventy", "over", "reached"], "year": [2026] * 4,
        "ceiling_eur": [100.0, 100.0, 100.0, 100000.0], "realised_eur": [10.0, 75.0, 60.0, 110000.0],
        "share": [0.1, 0.75, 0.6, 1.1], "ceiling_reached_on": [None, None, None, dt.date(2026, 8, 20)],
        "paid_eur": [10.0, 75.0, 60.0, 100000.0], "above_ceiling_eur": [0.0, 0.0, 0.0, 10000.0],
        "expected_late_eur": [0.0] * 4, "expected_ultimate_eur": [10.0, 75.0, 60.0, 110000.0],
        "projected_year_end_eur": [12.0, 95.0, 130.0, 130000.0],
        "projected_run_out_date": [None, None, dt.date(2026, 12, 1), dt.date(2026, 8, 20)],
        "alert": ["ok", "70", "projected_over", "reached"], "request_increase_by": [None, None, dt.date(2026, 11, 15), None],
        "policy": ["stop_payment"] * 4,
    }), "ceiling_position")


def test_ceiling_table_sorted_by_urgency_with_reasons():
    table = T.ceiling_table(_ceilings(), "nl")
    assert table["provider_agb"].to_list() == ["reached", "over", "seventy", "ok"]
    assert table["why"][0] == "plafond bereikt op 20-08-2026: 110,0% van € 100.000"
    assert table["why"][1] == "prognose jaareinde € 130 > plafond € 100; bereikt rond 01-12-2026"
    assert table["why"][2] == "realisatie 75,0% ≥ 70%"
    assert table["above_kind"][0] == "onbetaald"
    assert T.ceiling_alerts(table).height == 3


def test_late_list_mentions_only_what_is_late():
    frame = conform(pl.DataFrame({
        "provider_agb": ["p1", "p2", "p3"], "municipality_code": ["0363"] * 3, "month": [dt.date(2026, 9, 1)] * 3,
        "lines": [30, 20, 10], "late_lines": [2, 0, 0], "late_amount_eur": [620.5, 0.0, 0.0],
        "median_lag_days": [40.0, 10.0, 5.0], "late_answers": [0, 3, 0],
    }), "declaration_timeliness")
    out = T.late_list(frame, "nl")
    assert out["why"].to_list() == ["2 van 30 regels te laat gedeclareerd (€ 620,50)",
                                    "3 antwoorden te laat of ontbrekend"]


# ---------------------------------------------------------------------------------- figure builders


def test_cumulative_spend_figure_has_budget_and_forecast():
    months = _months()
    cumulative = T.cumulative_spend(T.months_in_year(months, AS_OF))
    headline = pl.DataFrame({"law": ["wmo"], "budget_eur": [10000.0], "forecast_eur": [9000.0]})
    fig = F.fig_cumulative_spend(cumulative, headline, AS_OF, "nl", immature_from=dt.date(2026, 9, 1))
    names = [t.name for t in fig.data]
    # a panel per law: the legend names one thing (approved, budget, forecast), not law x thing
    assert names == ["Cumulatief goedgekeurd", "Budget", "Prognose tot jaareinde"]
    assert [a.text for a in fig.layout.annotations][0] == "Wmo"
    assert any("nog niet volledig" in (a.text or "") for a in fig.layout.annotations)  # immature months marked
    assert fig.layout.xaxis.tickformat == "%b %Y"  # jan 2026
    assert list(fig.data[0].y) == [0.0, 1900.0, 3300.0, 4550.0]
    assert list(fig.data[1].y) == [10000.0, 10000.0]
    assert list(fig.data[2].y) == [4550.0, 9000.0]
    assert fig.layout.separators == ",."
    assert F.fig_cumulative_spend(cumulative.clear(), headline.clear(), AS_OF, "nl") is None


def test_overshoot_and_underuse_figures():
    totals = T.enrich_totals(_totals(), _months(), AS_OF)
    summary = T.overshoot_summary(_months(), totals, "en")
    fig = F.fig_overshoots(summary, "en")
    # one axis in one unit (euros); months and allocations are counted in the bars' labels
    assert list(fig.data[0].y) == ["Period overshoots", "Compensated peaks", "Real total overshoots"]
    assert [round(v, 2) for v in fig.data[0].x] == [550.0, 250.0, 300.0]
    assert list(fig.data[0].text) == ["3 allocation months", "1 allocation months", "1 allocations"]
    assert fig.layout.separators == ".,"
    empty = T.overshoot_summary(_months().clear(), totals.clear(), "nl")
    assert F.fig_overshoots(empty, "nl") is None
    assert F.fig_underuse(T.underuse_by_reason(T.underused_list(totals, "nl")), "nl") is None


def test_rekenfactor_slider_rescales_the_budget_effect():
    rf = conform(pl.DataFrame({
        "grain": ["product", "product", "product_provider"], "product_code": ["02A05", "02A06", "02A05"],
        "allocations": [10, 5, 3], "indicated_hours": [1000.0, 500.0, 300.0], "realised_hours": [800.0, 450.0, 200.0],
        "implied_rekenfactor": [0.8, 0.9, 2 / 3], "contract_rekenfactor": [1.0, 0.9, 1.0],
        "unused_share": [0.2, 0.1, 1 / 3], "budget_effect_eur": [-2000.0, 0.0, -100.0],
        "approved_amount_eur": [10000.0, None, None],
    }), "rekenfactor")
    effects = F.rekenfactor_effects(rf)
    assert effects["product_code"].to_list() == ["02A05", "02A06"]
    fig = F.fig_rekenfactor(effects, "nl")
    slider = fig.layout.sliders[0]
    assert slider.steps[0].label == "impliciet"
    assert slider.currentvalue.prefix == "Probeer rekenfactor: "
    step = next(s for s in slider.steps if s.label == "0,90")
    # 10000 * (0.9 / 1.0 - 1) = -1000; the second product's approved amount is unknown -> 0
    assert step.args[0]["y"][0] == [-1000.0, 0.0]
    assert list(fig.data[2].y) == [-2000.0, 0.0]
    assert F.fig_rekenfactor(effects.clear(), "nl") is None


def test_large_products_get_a_box_from_statistics_not_a_point_per_allocation():
    # A: 1000 allocations at 0.000, 0.001, …, 0.999; B: three; C: 590 at 0.5 and 10 at 5.0
    band = pl.DataFrame({
        "product_code": ["A"] * 1000 + ["B"] * 3 + ["C"] * 600,
        "band_position": [i / 1000 for i in range(1000)] + [0.1, 0.5, 2.0] + [0.5] * 590 + [5.0] * 10,
        "band_class": ["mid"] * 1603,
    })
    stats = {r["product_code"]: r for r in F.box_statistics(band).to_dicts()}
    # linear quartiles: position 0.25 x 999 = 249.75 -> 0.24975; median 0.4995; 0.75 x 999 -> 0.74925
    assert (stats["A"]["q1"], stats["A"]["median"], stats["A"]["q3"]) == pytest.approx((0.24975, 0.4995, 0.74925))
    assert (stats["A"]["lowerfence"], stats["A"]["upperfence"]) == pytest.approx((0.0, 0.999))
    # C: quartiles 0.5, IQR 0: the ten at 5.0 lie outside the fences
    assert (stats["C"]["lowerfence"], stats["C"]["upperfence"], stats["C"]["mean"]) == pytest.approx((0.5, 0.5, 0.575))
    traces = {t.name: t for t in F.fig_band_positions(band, "nl").data}
    assert traces["A"].y is None and traces["A"].q3 == pytest.approx((0.74925,)) and traces["A"].upperfence == (0.999,)
    assert traces["C"].y is None  # 600 > BOX_POINTS_MAX
    assert list(traces["B"].y) == [0.1, 0.5, 2.0] and traces["B"].boxpoints == "all"


def test_band_and_ceiling_figures():
    band = pl.DataFrame({"product_code": ["X", "X", "X", "Y"], "band_position": [-0.1, 0.5, 0.9, 1.2],
                         "band_class": ["below", "mid", "high", "above"]})
    shares = F.band_shares(band)
    assert shares.filter(pl.col("product_code") == "X")["share"].sum() == pytest.approx(1.0)
    fig = F.fig_band_classes(shares, "nl")
    assert [t.name for t in fig.data] == ["onder band", "laag", "midden", "hoog", "boven band"]
    assert len(F.fig_band_positions(band, "nl").data) == 2
    table = T.ceiling_table(_ceilings(), "nl")
    zvw = pl.DataFrame({"insurer_code": ["3311"] * 3, "provider_agb": ["reached"] * 3,
                        "submitted_on": [dt.date(2026, 3, 10), dt.date(2026, 6, 2), dt.date(2026, 8, 20)],
                        "net_amount_eur": [60000.0, 30000.0, 20000.0], "status": ["approved"] * 3,
                        "month": [dt.date(2026, 3, 1), dt.date(2026, 5, 1), dt.date(2026, 8, 1)]})
    cumulative = T.cumulative_realisation(zvw, "3311", 2026)
    assert cumulative["cumulative_eur"].to_list() == [60000.0, 90000.0, 110000.0]
    fig = F.fig_cumulative_realisation(cumulative, table, 2026, "nl")
    assert list(fig.layout.annotations[0:4]) and fig.layout.annotations[0].text == "reached"
    assert list(fig.data[0].y) == [0.0, 60000.0, 90000.0, 110000.0]
    assert list(fig.data[1].y) == [100000.0, 100000.0]
    assert list(fig.data[2].y) == [110000.0, 130000.0]  # from the last submission to the projected year end
    assert F.fig_cumulative_realisation(cumulative, table.clear(), 2026, "nl") is None


# ------------------------------------------------------------------------------------------ writer


def _write(tmp: Path, *, empty: bool = False, language: str = "nl") -> list[Path]:
    conn = duckdb.connect()
    create_report_marts(conn, empty=empty)
    paths = write_reports(conn, tmp, as_of=AS_OF, language=language)
    conn.close()
    return paths


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reports")
    _write(out)
    return out


EXPECTED = {
    *(f"maandrapportage_{m}.html" for m in MUNICIPALITIES), "maandrapportage_regio.html",
    *(f"plafondmonitor_{i}.html" for i in INSURERS), "rekenfactor.html", "datakwaliteit.html", "index.html",
    "opvolglijsten.xlsx",
}


def test_writer_produces_every_file(reports):
    assert {p.name for p in reports.iterdir() if p.is_file()} == EXPECTED
    # the month is archived next to the newest: every page and the workbook
    assert {p.name for p in (reports / "archief" / "2026-10").iterdir()} == EXPECTED
    index = (reports / "index.html").read_text(encoding="utf-8")
    for name in EXPECTED - {"index.html"}:
        assert f'href="{name}' in index
    assert 'href="archief/2026-10/index.html"' in index
    assert "Peildatum: 31-10-2026" in index
    assert "laatste declaratie 29-10-2026" in index and "laatste indiening wijkverpleging 26-10-2026" in index
    # the municipal payer row of marts.ceiling_position gets no plafondmonitor
    assert not (reports / "plafondmonitor_0363.html").exists()


def test_rekenfactor_page_lists_the_municipality_and_provider_grains(reports):
    """marts.rekenfactor names its grains product_municipality and product_provider."""
    page = (reports / "rekenfactor.html").read_text(encoding="utf-8")
    municipal = page[page.index("<h3>Per gemeente</h3>"):page.index("<h3>Per aanbieder")]
    provider = page[page.index("<h3>Per aanbieder"):]
    assert "0363" in municipal and "0599" in municipal and "Geen" not in municipal[:200]
    # largest budget effect first: 81000 x (900/1200 / 0.90 - 1) = -13,500 for 12345678;
    # 236250 x (3500/4300 / 0.85 - 1) = -10,020 for 87654321; 81000 x (950/1200 / 0.90 - 1) = -9,750
    assert provider.index("12345678") < provider.index("87654321") < provider.index("55556666")
    assert "13.500" in provider and "9.750" in provider


def test_pages_carry_their_libraries_and_show_headline_first(reports):
    page = (reports / "maandrapportage_0363.html").read_text(encoding="utf-8")
    # no script or style from a file or a server: the libraries travel inside the page (gzip + base64)
    readable = re.sub(r'<script type="application/x-gzip-base64"[^>]*>[^<]*</script>', "", page)
    assert "<script src" not in readable and "cdn" not in readable.lower() and "<link" not in readable
    assert 'id="lib-plotly"' in page and 'id="lib-datatables"' in page
    assert page.index("Kerncijfers") < page.index('class="plotly-graph-div"') < page.index("Echte totaaloverschrijdingen</h3>")
    assert "€\u00a060.000" in page and "108,0%" in page
    assert "totaaloverschrijding: gevraagd 180 &gt; max 150" in page
    assert 'id="maand-0363-cumulatief"' in page
    # names, not codes: the municipality's CBS name in the title
    assert "<title>Maandrapportage Amsterdam (0363)</title>" in page
    # tables are DataTables, sorted by euros by default, every header explained on hover
    assert '<table class="dt" data-order=' in page and 'title="Prognose ÷ budget.' in page


def test_empty_lists_say_geen(reports):
    page = (reports / "maandrapportage_0599.html").read_text(encoding="utf-8")
    assert "Geen toewijzingen met een echte totaaloverschrijding." in page
    assert "Geen onderbenutte toewijzingen." in page
    insurer = (reports / "plafondmonitor_7029.html").read_text(encoding="utf-8")
    assert "Geen plafondsignalen" in insurer
    assert "Geen overschrijding van de urenafspraak." in insurer


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def test_rerun_is_byte_identical(reports, tmp_path):
    _write(tmp_path)
    assert {p.name for p in tmp_path.iterdir() if p.is_file()} == EXPECTED
    for name in sorted(EXPECTED):
        if name.endswith(".xlsx"):  # every part the same; docProps/core.xml holds the creation time
            again, first = _members(tmp_path / name), _members(reports / name)
            assert again.keys() == first.keys()
            assert {n: b for n, b in again.items() if n != "docProps/core.xml"} == {
                n: b for n, b in first.items() if n != "docProps/core.xml"}
        else:
            assert (tmp_path / name).read_bytes() == (reports / name).read_bytes(), name


def test_no_client_identifier_anywhere(reports):
    for path in (p for p in reports.rglob("*") if p.is_file()):
        if path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as z:
                text = "".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
        else:
            text = path.read_text(encoding="utf-8")
        assert CLIENT_ID not in text, path.name
        assert "client_id" not in text.lower(), path.name


def test_workbook_sheets_headers_and_formula_text(reports):
    wb = openpyxl.load_workbook(reports / "opvolglijsten.xlsx")
    assert wb.sheetnames == ["Toelichting", "Totaaloverschrijdingen", "Periodeoverschrijdingen",
                             "Onderbenutte toewijzingen", "Budgetsignalen", "Plafondsignalen", "Urenafspraak",
                             "Late declaraties en antwoorden", "Gedeclareerd na stop", "Buiten toewijzing",
                             "Zonder toewijzing", "Dubbele periode"]
    cover = [[c.value for c in row] for row in wb["Toelichting"].iter_rows()]
    assert cover[1] == ["Peildatum", "31-10-2026"]
    assert any(r[0] == "Totaaloverschrijdingen" and "TR322" in r[1] for r in cover)
    headers = {name: [c.value for c in wb[name][1]] for name in wb.sheetnames}
    assert headers["Totaaloverschrijdingen"] == [
        "Gemeente (code)", "Gemeente", "Wet", "Toewijzing", "Aanbieder (code)", "Aanbieder", "Productcategorie (code)",
        "Productcategorie", "Product (code)", "Product", "Max. volume totaal", "Gevraagd volume", "Geleverd volume",
        "Overschrijding volume", "Overschrijding (€)", "Waarom gesignaleerd", "Status", "Eigenaar", "Notitie"]
    # every list is an Excel table (filter buttons and banding) over exactly its rows
    for name in wb.sheetnames[1:]:
        tables = wb[name].tables
        assert len(tables) == 1, name
        table = next(iter(tables.values()))
        assert table.tableStyleInfo.showRowStripes
        assert table.ref.startswith("A1:") and int(table.ref.split(":")[1].lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")) == max(
            wb[name].max_row, 2), name
    # the status column offers a drop-down
    rule = wb["Totaaloverschrijdingen"].data_validations.dataValidation[0]
    assert rule.type == "list" and "afgehandeld" in rule.formula1 and str(rule.sqref).startswith("Q2:")
    # names beside codes: the CBS name of 0363
    assert wb["Totaaloverschrijdingen"]["B2"].value == "Amsterdam"
    # whole volumes as whole numbers: Dutch Excel would show '#,##0.##' as "150,"
    assert wb["Totaaloverschrijdingen"]["K2"].number_format == "#,##0"
    assert "Signaal" in headers["Plafondsignalen"] and "Ophoging aanvragen vóór" in headers["Plafondsignalen"]
    assert "Reden onderbenutting" in headers["Onderbenutte toewijzingen"]
    sheet = wb["Totaaloverschrijdingen"]
    cells = [c for row in sheet.iter_rows(min_row=2) for c in row]
    formula_cells = [c for c in cells if c.value in (FORMULA_ALLOCATION, FORMULA_PROVIDER)]
    assert {c.value for c in formula_cells} == {FORMULA_ALLOCATION, FORMULA_PROVIDER}
    assert all(c.data_type == "s" for c in formula_cells)
    every = [c for name in wb.sheetnames for row in wb[name].iter_rows() for c in row]
    assert not any(c.data_type == "f" for c in every)
    plafond = wb["Plafondsignalen"]
    # every payer's alerts, most urgent first: reached, then projected over by run-out date, then 70%
    assert [r[2].value for r in plafond.iter_rows(min_row=2)] == ["40001111", "12345678", "40002222", "40003333"]
    date_cell = next(c for c in plafond[2] if isinstance(c.value, dt.datetime))
    assert date_cell.number_format == "dd-mm-yyyy"


def test_empty_marts_still_write_every_report(tmp_path):
    paths = _write(tmp_path, empty=True)
    names = {p.name for p in paths}
    assert {"maandrapportage_regio.html", "rekenfactor.html", "datakwaliteit.html", "index.html",
            "opvolglijsten.xlsx"} <= names
    for name in ("maandrapportage_regio.html", "rekenfactor.html", "datakwaliteit.html"):
        page = (tmp_path / name).read_text(encoding="utf-8")
        assert 'class="plotly-graph-div"' not in page
        assert "Geen" in page
    wb = openpyxl.load_workbook(tmp_path / "opvolglijsten.xlsx")
    assert [c.value for c in wb["Budgetsignalen"][1]][:3] == ["Gemeente (code)", "Gemeente", "Wet"]


def test_english_setting(tmp_path):
    _write(tmp_path, language="en")
    page = (tmp_path / "maandrapportage_0363.html").read_text(encoding="utf-8")
    assert "Monthly report" in page and "As of: 2026-10-31" in page
    assert "€\u00a060,000" in page and "108.0%" in page
    assert "total overshoot: requested 180 &gt; max 150" in page
    wb = openpyxl.load_workbook(tmp_path / "opvolglijsten.xlsx")
    assert "Total overshoots" in wb.sheetnames


def test_missing_mart_or_column_is_a_clear_error(tmp_path):
    conn = duckdb.connect()
    create_report_marts(conn)
    conn.execute("alter table marts.rejections drop column category")
    with pytest.raises(KeyError, match="marts.rejections lacks the columns"):
        write_reports(conn, tmp_path, as_of=AS_OF)
    conn.execute("drop table marts.rejections")
    with pytest.raises(LookupError, match="marts.rejections does not exist"):
        write_reports(conn, tmp_path, as_of=AS_OF)
    assert empty_frame("rejections").columns[:3] == ["provider_agb", "municipality_code", "month"]


# ------------------------------------------------------------------------- small-cell suppression


def test_small_cell_suppression_blanks_small_groups_and_drops_allocation_lists(tmp_path):
    from pipeline.reports.data import read_report_data
    from pipeline.reports.writer import suppress_small_cells

    conn = duckdb.connect()
    create_report_marts(conn)
    data = read_report_data(conn, AS_OF)
    # fixture months k = 1..10 have 40 + k clients: with a threshold of 45, k = 1..4 are blanked
    hours = suppress_small_cells(data, 45)["hours_per_client_month"]
    assert hours.filter(pl.col("hours").is_null()).height == 4 * 6  # 4 months x 6 providers
    assert hours.filter(pl.col("hours").is_null())["clients"].null_count() == 24
    assert hours.filter(pl.col("hours").is_not_null())["clients"].min() == 45
    paths = write_reports(conn, tmp_path, as_of=AS_OF, min_cell_clients=5)
    allocations = [r[0] for r in conn.execute("select allocation_number from marts.allocation_totals").fetchall()]
    conn.close()
    assert allocations
    for path in paths:
        if path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as z:
                text = "".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
        elif path.suffix == ".html":
            text = path.read_text(encoding="utf-8")
        else:
            continue
        for number in allocations:
            assert f">{number}<" not in text and f'"{number}"' not in text, (path.name, number)
    assert "Kleine aantallen (minder dan 5 cliënten) zijn onderdrukt" in (tmp_path / "index.html").read_text(
        encoding="utf-8")


def test_a_failing_workbook_writer_fails_the_reports(tmp_path):
    from pipeline.reports.excel import workbook_in_background

    with pytest.raises(KeyError, match="xx"):
        with workbook_in_background(tmp_path / "lists.xlsx", [], lang="xx") as wait:
            wait()  # an unknown language: the writer has no number formats for it
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------- names, change, lawfulness, index


def test_names_come_from_the_organisations_table_then_the_public_lists_then_the_code(reports):
    page = (reports / "plafondmonitor_3311.html").read_text(encoding="utf-8")
    assert "<title>Plafondmonitor Zorgverzekeraar Noord (3311)</title>" in page
    region = (reports / "maandrapportage_regio.html").read_text(encoding="utf-8")
    assert "Thuiszorg De Linde (12345678)" in region  # the user's table
    assert "Amsterdam (0363)" in region  # CBS's public list
    index = (reports / "index.html").read_text(encoding="utf-8")
    assert "Rotterdam (eigen naam) (0599)" in index  # the user's table overrides the public name
    assert "33334444" in region  # a provider without a name is shown by its code


def test_headline_figures_show_the_change_since_last_month(reports):
    page = (reports / "maandrapportage_0363.html").read_text(encoding="utf-8")
    # wmo 0363: 90,000 + 25,000 a month: 165,000 at 30 September, 140,000 in October... (+25,000)
    assert "Vorige maand € 115.000 (+€ 25.000)" in page


def test_index_names_the_three_largest_changes_with_links(reports):
    index = (reports / "index.html").read_text(encoding="utf-8")
    section = index[index.index('id="veranderingen"'):index.index('id="rapportages"')]
    items = re.findall(r'<li><a href="([^"]+)">([^<]+)</a>: ([^<]+)</li>', section)
    assert len(items) == 3
    # 0363 wmo moved 25,000; then the two ceilings and budgets that moved 4,000 (ceilings first by scope order)
    assert items[0][0] == "maandrapportage_0363.html#kerncijfers" and "Amsterdam (0363), Wmo" == items[0][1]
    assert "vorige maand € 115.000 (+€ 25.000)" in items[0][2]
    assert all(href.split("#")[0] in {p.name for p in reports.iterdir()} for href, _, _ in items)
    # traffic lights with their thresholds stated
    assert 'class="light red"' in index and "uitputting &gt; 100%" in index


def test_lawfulness_section_in_euros_per_provider(reports):
    page = (reports / "maandrapportage_0363.html").read_text(encoding="utf-8")
    part = page[page.index('id="rechtmatigheid"'):]
    assert "Na stop" in part and "€\u00a0751" in part  # 450.25 + 300.50 after the stop
    assert "Te late stopberichten" in part


def test_backtest_of_last_year_on_the_insurer_page(reports):
    page = (reports / "plafondmonitor_3311.html").read_text(encoding="utf-8")
    part = page[page.index('id="prognose"'):page.index('id="opvolging"')]
    assert "Terugblik: prognose tegen uitkomst 2025" in part
    assert "4,8%" in part  # |250,000 - 262,500| / 262,500


def test_indication_practice_per_municipality_side_by_side():
    band = pl.DataFrame({
        "product_code": ["X"] * 5, "municipality_code": ["0363", "0363", "0363", "0599", "0599"],
        "band_position": [-0.5, 0.25, 0.5, 0.75, 1.0], "band_class": ["below", "low", "mid", "high", "high"],
        "hours_per_week": [1.0, 2.5, 3.0, 3.5, 4.0]})
    practice = F.indication_practice(band)
    assert practice.select("municipality_code", "allocations", "median", "below_share").rows() == [
        ("0363", 3, 0.25, 1 / 3), ("0599", 2, 0.875, 0.0)]
    fig = F.fig_indication_practice(practice, "nl", {"0363": "Amsterdam (0363)"})
    assert [t.name for t in fig.data] == ["Amsterdam (0363)", "0599"] and fig.layout.boxmode == "group"
