"""The reports read what the pages show, not the data.

DuckDB aggregates the large marts (allocation months and totals, wijkverpleging lines) to the grain
of the figures and returns only the flagged rows of the follow-up lists. Two checks: the figures
read that way equal the polars reference functions on the full tables, and a warehouse with many
more (unflagged) allocations makes the reports read exactly as many rows, with the figures grown
by the amounts the extra allocations add.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pipeline.reports import figures as F
from pipeline.reports import tables as T
from pipeline.reports import write_reports
from pipeline.reports.data import conform, read_report_data
from pipeline.reports.writer import LIST_COLUMNS, overshoot_summary
from report_fixtures import AS_OF, INSURERS, MUNICIPALITIES, create_report_marts

SCOPES = (None, *MUNICIPALITIES)


class CountingConnection:
    """A DuckDB connection that counts the rows of every result fetched through it."""

    def __init__(self, conn: duckdb.DuckDBPyConnection) -> None:
        self.conn, self.rows, self.largest = conn, 0, 0

    def _count(self, n: int) -> None:
        self.rows += n
        self.largest = max(self.largest, n)

    def sql(self, query: str, **kwargs) -> _Counted:
        return _Counted(self, self.conn.sql(query, **kwargs))

    def execute(self, query: str, *args) -> _Counted:
        return _Counted(self, self.conn.execute(query, *args))


class _Counted:
    def __init__(self, owner: CountingConnection, result) -> None:
        self.owner, self.result = owner, result

    def pl(self) -> pl.DataFrame:
        frame = self.result.pl()
        self.owner._count(frame.height)
        return frame

    def fetchall(self) -> list[tuple]:
        rows = self.result.fetchall()
        self.owner._count(len(rows))
        return rows


def _full(conn: duckdb.DuckDBPyConnection, table: str) -> pl.DataFrame:
    return conform(conn.sql(f"select * from marts.{table}").pl(), table)


def _scope(frame: pl.DataFrame, municipality: str | None) -> pl.DataFrame:
    return frame if municipality is None else frame.filter(pl.col("municipality_code") == municipality)


def _same(got: pl.DataFrame, want: pl.DataFrame, by: list[str]) -> None:
    assert_frame_equal(got.sort(by, nulls_last=True), want.sort(by, nulls_last=True),
                       check_dtypes=False, check_exact=False, rel_tol=1e-12, abs_tol=1e-9)


@pytest.fixture(scope="module")
def fixture_conn():
    conn = duckdb.connect()
    create_report_marts(conn)
    yield conn
    conn.close()


def test_sql_figures_equal_the_polars_reference(fixture_conn):
    conn = fixture_conn
    data = read_report_data(conn, AS_OF)
    got = data.allocations
    months = _full(conn, "allocation_months")
    totals = T.enrich_totals(_full(conn, "allocation_totals"), months, AS_OF)
    months_year = T.months_in_year(months, AS_OF)
    assert got.real_overshoots.height == 2 and got.underused.height == 2 and got.period_overshoots.height > 10

    key = ["municipality_code", "law", "allocation_number", "month"]
    for name, mine, reference in (
        ("real_overshoots", T.real_overshoot_list(got.real_overshoots, "nl"), T.real_overshoot_list(totals, "nl")),
        ("underused", T.underused_list(got.underused, "nl"), T.underused_list(totals, "nl")),
        ("period_overshoots", T.period_overshoot_list(got.period_overshoots, got.compensation, "nl"),
         T.period_overshoot_list(months_year, totals, "nl")),
    ):
        columns = [c.name for c in LIST_COLUMNS[name] if c.name in mine.columns]
        _same(mine.select(columns), reference.select(columns), [c for c in key if c in columns])
    _same(got.peaks, F.peaks_by_category(totals), ["product_category"])

    for municipality in SCOPES:
        _same(overshoot_summary(got, municipality, "nl"),
              T.overshoot_summary(_scope(months_year, municipality), _scope(totals, municipality), "nl"), ["key"])
        _same(T.cumulative_spend(T.region_or(got.spend, municipality)),
              T.cumulative_spend(_scope(months_year, municipality)), ["law", "month"])
        assert_frame_equal(
            T.top_providers(T.region_or(got.spend_providers, municipality), "approved_amount_eur"),
            T.top_providers(_scope(months_year, municipality), "approved_amount_eur"))
        assert_frame_equal(
            T.top_providers(T.region_or(got.overshoot_providers, municipality), "excess_eur"),
            T.top_providers(_scope(totals, municipality).filter(pl.col("total_overshoot")), "excess_eur"))

    zvw = conn.sql("select insurer_code, provider_agb, cast(submitted_on as date) as submitted_on, "
                   "cast(net_amount_eur as double) as net_amount_eur, status, month from staging.zvw_lines").pl()
    for insurer in INSURERS:
        _same(T.cumulative_by_provider(data.realisation.filter(pl.col("insurer_code") == insurer)),
              T.cumulative_realisation(zvw, insurer, AS_OF.year), ["provider_agb", "submitted_on"])
    assert data.municipalities == sorted(MUNICIPALITIES)
    assert data.insurers == sorted(INSURERS)


FILLER_ALLOCATIONS = 3000
FILLER_MONTHS = 10  # January to October 2026
FILLER_EUR = 100.0  # approved per allocation month


def _add_filler(conn: duckdb.DuckDBPyConnection) -> None:
    """Unflagged Wmo allocations of an existing provider of 0599: 10 units of 12 used each month."""
    conn.execute(f"""
        insert into marts.allocation_months by name
        select '0599' as municipality_code, 'wmo' as law, 'F' || lpad(cast(i as varchar), 5, '0') as allocation_number,
               '55556666' as provider_agb, '02' as product_category, '02A05' as product_code,
               cast(m as date) as month, 12.0 as max_volume, 10.0 as delivered_volume, 10.0 as declared_volume,
               cast({FILLER_EUR} as decimal(18,2)) as approved_amount_eur, 10.0 / 12 as utilisation,
               false as period_overshoot, 'CLIENT' || i as client_id
        from range({FILLER_ALLOCATIONS}) a(i)
        cross join range(date '2026-01-01', date '2026-11-01', interval 1 month) r(m)
    """)
    conn.execute("""
        insert into marts.allocation_totals by name
        select municipality_code, law, allocation_number, any_value(provider_agb) as provider_agb,
               any_value(product_category) as product_category, any_value(product_code) as product_code,
               sum(max_volume) as total_max_volume, sum(delivered_volume) as delivered_volume,
               sum(delivered_volume) / sum(max_volume) as utilisation, false as total_overshoot,
               0 as peak_months, 0 as compensated_peak_months, 0.0 as peak_excess_volume, false as underused,
               500.00 as committed_eur, date '2026-01-01' as start_date, date '2026-12-31' as end_date
        from marts.allocation_months where allocation_number like 'F%' group by all
    """)


def _read(conn: duckdb.DuckDBPyConnection, out: Path):
    """The data read, and the rows (in all, largest result) that writing every report fetched."""
    counting = CountingConnection(conn)
    write_reports(counting, out, as_of=AS_OF)
    return read_report_data(conn, AS_OF), (counting.rows, counting.largest)


def test_thirty_thousand_more_allocation_months_read_no_more_rows(tmp_path):
    conn = duckdb.connect()
    create_report_marts(conn)
    base, base_reads = _read(conn, tmp_path / "base")
    _add_filler(conn)
    assert conn.execute("select count(*) from marts.allocation_months").fetchall()[0][0] > 30_000
    more, more_reads = _read(conn, tmp_path / "more")
    conn.close()

    # the same rows, however many allocations: no read grows with the allocation months
    assert more_reads == base_reads

    # and the figures hold the extra euros: 3000 allocations x 100 euros, every month of 0599 and the region
    month_eur = FILLER_ALLOCATIONS * FILLER_EUR
    key = ["region", "municipality_code", "law", "month"]
    delta = more.allocations.spend.join(base.allocations.spend, on=key, how="full", coalesce=True, nulls_equal=True)
    delta = delta.with_columns((pl.col("approved_amount_eur") - pl.col("approved_amount_eur_right")).alias("delta"))
    wmo_0599 = (pl.col("law") == "wmo") & (pl.col("region") | (pl.col("municipality_code") == "0599"))
    assert delta.filter(wmo_0599)["delta"].to_list() == [pytest.approx(month_eur)] * (2 * FILLER_MONTHS)
    assert delta.filter(~wmo_0599)["delta"].abs().max() == 0
    for scope in (None, "0599"):
        spend = [T.region_or(d.allocations.spend_providers, scope).filter(pl.col("provider_agb") == "55556666")
                 ["approved_amount_eur"][0] for d in (base, more)]
        assert spend[1] - spend[0] == pytest.approx(FILLER_MONTHS * month_eur)
    # nothing flagged: the lists and the overshoot counts stay as they were
    for name in ("real_overshoots", "underused", "period_overshoots", "compensated_peaks", "peaks",
                 "overshoot_providers"):
        assert_frame_equal(getattr(more.allocations, name), getattr(base.allocations, name))
    page = (tmp_path / "more" / "maandrapportage_0599.html").read_text(encoding="utf-8")
    assert '"name":"Cumulatief goedgekeurd"' in page
    cumulative = T.cumulative_spend(T.region_or(more.allocations.spend, "0599"))
    last = cumulative.filter(pl.col("law") == "wmo")["cumulative_eur"][-1]
    last_before = T.cumulative_spend(T.region_or(base.allocations.spend, "0599")).filter(
        pl.col("law") == "wmo")["cumulative_eur"][-1]
    assert last - last_before == pytest.approx(FILLER_MONTHS * month_eur)
    assert repr(last) in page  # the figure draws the grown running total


def test_counting_connection_counts_a_full_read(fixture_conn):
    # the hook itself: a select * of the months is counted row by row
    counting = CountingConnection(fixture_conn)
    counting.sql("select * from marts.allocation_months").pl()
    assert counting.rows == fixture_conn.execute("select count(*) from marts.allocation_months").fetchall()[0][0]
    assert counting.largest == counting.rows


def test_an_as_of_without_data_writes_empty_reports(fixture_conn, tmp_path):
    paths = write_reports(fixture_conn, tmp_path, as_of=dt.date(2030, 6, 30))
    assert {p.name for p in paths} >= {"maandrapportage_regio.html", "index.html"}
    page = (tmp_path / "maandrapportage_regio.html").read_text(encoding="utf-8")
    assert "Geen toewijzingen met een echte totaaloverschrijding." in page
