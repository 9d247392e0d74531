"""metrics.md §15 through sql/marts/declaration_signals.sql and sql/marts/stop_messages.sql, and the
care_events column sent_on (the 305/307 Dagtekening) from the XML header to staging.

Every mart test builds raw.care_events (run through the real sql/staging/care_events.sql, so
deletions with status 3 and sent_on pass through staging), tiny staging tables for the rest, and
the real calendar of working days (pipeline/calendar.py, Dutch public holidays). Expected values
were computed by hand; the arithmetic is in the comments. Calendar facts used below (2026): 10 March
is a Tuesday (working day number 48 of the year), 20 March a Friday (56); 13 February a Friday, 16
February a Monday; Good Friday 3 April and Easter Monday 6 April are public holidays, so Thursday 2
April is followed by the working days 7, 8, 9, 10, 13, 14 April.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl
import pytest

from pipeline.calendar import calendar_days
from pipeline.ingest.iwmo import read_message
from pipeline.ingest.iwmo_writer import write_messages
from pipeline.ingest.load import ensure_raw_tables, raw_columns
from pipeline.settings import MetricSettings
from pipeline.sql import build_table
from staging_schema import STAGING_COLUMNS, create_staging

D = dt.date
MUNI, LAW, AGB, AGB2 = "0363", "wmo", "11111111", "22222222"
CLIENT = "c" * 64

_POLARS_TYPES = {
    "varchar": pl.String, "date": pl.Date, "timestamp": pl.Datetime, "double": pl.Float64,
    "decimal(18,2)": pl.Float64, "boolean": pl.Boolean, "integer": pl.Int32, "bigint": pl.Int64,
}


def frame(columns: dict[str, str], rows: list[dict]) -> pl.DataFrame:
    names = sorted({name for row in rows for name in row})
    schema = {name: _POLARS_TYPES[columns[name]] for name in names}
    return pl.DataFrame([{n: row.get(n) for n in names} for row in rows], schema=schema, orient="row")


def alloc(number: str, start: dt.date = D(2026, 1, 1), end: dt.date | None = None, *,
          decided_on: dt.datetime = dt.datetime(2025, 12, 1, 9, 0), **kw) -> dict:
    row = {
        "municipality_code": MUNI, "law": LAW, "allocation_number": number, "client_id": CLIENT,
        "provider_agb": AGB, "product_category": "02", "product_code": "02A01",
        "decided_on": decided_on, "start_date": start, "end_date": end, "volume": 10.0,
        "unit": "04", "frequency": "2", "change_reason": None, "is_deleted": False,
        "variant": "inspanning",
    }
    row.update(kw)
    row["is_deleted"] = row["change_reason"] == "13"
    return row


_ref = iter(range(1, 10**6))


def line(number: str, period_start: dt.date, period_end: dt.date, amount: float, *,
         declared_on: dt.date | None = None, answered_on: dt.date | None | str = "10th",
         rejected_on: dt.date | None = None, credit: bool = False, reference: str | None = None,
         **kw) -> dict:
    """A line on allocation `number`, declared on the 5th of the next month and answered (approved)
    on the 10th unless told otherwise (answered_on=None: not answered, pending)."""
    next_month = (period_start.replace(day=28) + dt.timedelta(days=4)).replace(day=5)
    declared_on = declared_on or next_month
    sign = -1 if credit else 1
    row = {
        "provider_agb": AGB, "municipality_code": MUNI, "law": LAW,
        "message_id": f"m{declared_on}", "reference_number": reference or f"r{next(_ref)}",
        "client_id": CLIENT, "allocation_number": number, "product_category": "02",
        "product_code": "02A01", "period_start": period_start, "period_end": period_end,
        "month": period_start.replace(day=1), "declared_on": declared_on, "volume": 1.0,
        "unit": "04", "amount_eur": amount, "debit_credit": "C" if credit else "D", "sign": sign,
        "net_volume": float(sign), "net_amount_eur": sign * amount,
        "answered_on": declared_on.replace(day=10) if answered_on == "10th" else answered_on,
        "rejected_on": rejected_on,
    }
    row.update(kw)
    return row


def event(number: str | None, kind: str, start: dt.date, end: dt.date | None = None,
          reason: str | None = None, sent_on: dt.date | None = None, *, status: str = "1",
          provider: str = AGB, file: str = "care_events/events.csv", **kw) -> dict:
    """A raw care event (as loaded); sent_on defaults to the event's own day. build() numbers the
    rows in the order given (source_row), so a later row corrects or deletes an earlier one."""
    if sent_on is None and "no_sent_on" not in kw:
        sent_on = end if kind == "stop" else start
    kw.pop("no_sent_on", None)
    return {
        "municipality_code": MUNI, "law": LAW, "allocation_number": number,
        "provider_agb": provider, "client_id": kw.pop("client_id", CLIENT), "event": kind,
        "start_date": start, "end_date": end, "end_reason": reason, "status": status,
        "sent_on": sent_on, "source_file": file, "route": "tabular", **kw,
    }


def build(*, as_of: dt.date, events: list[dict] = (), allocations: list[dict] = (),
          lines: list[dict] = (), **settings) -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect()
    frames = {"calendar_days": calendar_days(2025, 2027)}
    if allocations:
        frames["allocation_versions"] = frame(STAGING_COLUMNS["allocation_versions"], list(allocations))
    if lines:
        frames["declaration_lines"] = frame(STAGING_COLUMNS["declaration_lines"], list(lines))
    create_staging(conn, **frames)
    ensure_raw_tables(conn, "care_events")
    if events:
        numbered = [{**e, "source_row": i} for i, e in enumerate(events, 1)]
        conn.register("_events", frame(raw_columns("care_events"), numbered))
        conn.execute("insert into raw.care_events by name select * from _events")
        conn.unregister("_events")
    params = MetricSettings(**settings).sql_params(as_of)
    build_table(conn, "staging", "care_events")
    build_table(conn, "staging", "stops_for_good")
    build_table(conn, "marts", "declaration_signals", params)
    build_table(conn, "marts", "stop_messages", params)
    return conn


def rows(conn, query: str) -> list[dict]:
    result = conn.cursor().execute(query)
    names = [d[0] for d in result.description]
    return [dict(zip(names, values)) for values in result.fetchall()]


def signals(conn) -> set[tuple]:
    """(allocation_number, reference_number, signal, amount) of every signal row."""
    return {
        (r["allocation_number"], r["reference_number"], r["signal"], float(r["amount_eur"]))
        for r in rows(conn, "select * from marts.declaration_signals")
    }


def stop_rows(conn) -> dict[tuple, dict]:
    return {(r["provider_agb"], r["month"]): r for r in rows(conn, "select * from marts.stop_messages")}


def assert_one_row_per_key(conn) -> None:
    for table, key in (("declaration_signals", "provider_agb, law, reference_number, signal"),
                       ("stop_messages", "provider_agb, municipality_code, month")):
        assert conn.execute(f"select {key}, count(*) from marts.{table} group by all "
                            "having count(*) > 1").fetchall() == [], table


# ---------------------------------------------------------------------------------------------
# §15's example
# ---------------------------------------------------------------------------------------------


def test_example_of_section_15_allocation_77():
    # allocation 77 stops on Tuesday 10 March 2026; the stop message is dated Friday 20 March,
    # working days 11, 12, 13, 16, 17, 18, 19, 20 March later: 8 > 5, late. Lines for 1-10 and
    # 11-31 March, declared 5 April and approved 10 April.
    conn = build(
        as_of=D(2026, 4, 30),
        allocations=[alloc("77")],
        events=[
            event("77", "start", D(2026, 1, 5)),
            event("77", "stop", D(2026, 1, 5), D(2026, 3, 10), "19", D(2026, 3, 20)),
        ],
        lines=[
            line("77", D(2026, 3, 1), D(2026, 3, 10), 100.0, reference="77-a"),
            line("77", D(2026, 3, 11), D(2026, 3, 31), 210.0, reference="77-b"),
        ],
    )
    # the second line starts after the stop: after_stop with its amount
    (signal,) = rows(conn, "select * from marts.declaration_signals")
    assert {k: signal[k] for k in ("municipality_code", "law", "provider_agb", "allocation_number",
                                   "reference_number", "month", "signal", "status")} == {
        "municipality_code": MUNI, "law": LAW, "provider_agb": AGB, "allocation_number": "77",
        "reference_number": "77-b", "month": D(2026, 3, 1), "signal": "after_stop", "status": "approved",
    }
    assert float(signal["amount_eur"]) == 210.0
    assert "2026-03-10" in signal["detail"] and "2026-03-20" in signal["detail"]
    # the stop is late: 8 working days, 10 calendar days; the allocation has no end date: open
    (stop,) = rows(conn, "select * from marts.stop_messages")
    assert stop == {
        "provider_agb": AGB, "municipality_code": MUNI, "month": D(2026, 3, 1), "stops": 1,
        "late_stops": 1, "median_delay_days": 10.0, "allocations_open_after_stop": 1,
        "stops_not_determinable": 0, "median_delay_working_days": 8.0, "temporary_stops": 0,
        "stops_for_good": 1,
    }
    assert_one_row_per_key(conn)


def test_stop_message_days_is_a_setting():
    # the same stop, 8 working days late, is on time when 10 working days are allowed
    events = [event("77", "stop", D(2026, 1, 5), D(2026, 3, 10), "19", D(2026, 3, 20))]
    assert build(as_of=D(2026, 4, 30), events=events, stop_message_days=10).execute(
        "select late_stops from marts.stop_messages").fetchall() == [(0,)]
    assert build(as_of=D(2026, 4, 30), events=events, stop_message_days=7).execute(
        "select late_stops from marts.stop_messages").fetchall() == [(1,)]


# ---------------------------------------------------------------------------------------------
# resumed, deleted, one of two allocations
# ---------------------------------------------------------------------------------------------


def test_a_temporary_stop_resumed_and_a_stop_resumed_by_a_later_start_are_not_stops_for_good():
    conn = build(
        as_of=D(2026, 4, 30),
        allocations=[alloc("T"), alloc("R"), alloc("P")],
        events=[
            # T: temporary stop (20) on Friday 13 Feb, sent Monday 16 Feb (1 working day), resumed 2 Mar
            event("T", "start", D(2026, 1, 5)),
            event("T", "stop", D(2026, 1, 5), D(2026, 2, 13), "20", D(2026, 2, 16)),
            event("T", "start", D(2026, 3, 2)),
            # R: a stop with an ordinary reason, resumed by a start on 2 March
            event("R", "start", D(2026, 1, 5)),
            event("R", "stop", D(2026, 1, 5), D(2026, 2, 13), "19", D(2026, 2, 16)),
            event("R", "start", D(2026, 3, 2)),
            # P: a temporary stop never resumed: still not a stop for good (end_reason 20)
            event("P", "start", D(2026, 1, 5)),
            event("P", "stop", D(2026, 1, 5), D(2026, 2, 13), "20", D(2026, 2, 13)),
        ],
        lines=[
            line("T", D(2026, 3, 2), D(2026, 3, 31), 50.0),
            line("R", D(2026, 3, 2), D(2026, 3, 31), 60.0),
            line("P", D(2026, 3, 2), D(2026, 3, 31), 70.0),
        ],
    )
    assert signals(conn) == set()
    # three stops in February, none late (1, 1 and 0 working days; 3, 3, 0 calendar days: median 3),
    # two temporary, none for good, so no allocation is open after a stop
    stop = stop_rows(conn)[(AGB, D(2026, 2, 1))]
    assert (stop["stops"], stop["late_stops"], stop["temporary_stops"], stop["stops_for_good"],
            stop["allocations_open_after_stop"], stop["median_delay_days"],
            stop["median_delay_working_days"]) == (3, 0, 2, 0, 0, 3.0, 1.0)


def test_a_deleted_stop_no_longer_counts():
    # the stop of allocation X is delivered (row 2) and deleted with StatusAanlevering 3 (row 3,
    # same logical key); allocation Y's stop is deleted and delivered again with another end date
    conn = build(
        as_of=D(2026, 4, 30),
        allocations=[alloc("X"), alloc("Y")],
        events=[
            event("X", "start", D(2026, 1, 5)),
            event("X", "stop", D(2026, 1, 5), D(2026, 3, 10), "19", D(2026, 3, 11)),
            event("X", "stop", D(2026, 1, 5), D(2026, 3, 10), "19", D(2026, 3, 12), status="3"),
            event("Y", "stop", D(2026, 1, 5), D(2026, 2, 10), "19", D(2026, 2, 11)),
            event("Y", "stop", D(2026, 1, 5), D(2026, 2, 10), "19", D(2026, 2, 12), status="3"),
            event("Y", "stop", D(2026, 1, 5), D(2026, 3, 20), "19", D(2026, 3, 23)),
        ],
        lines=[
            line("X", D(2026, 4, 1), D(2026, 4, 30), 40.0, declared_on=D(2026, 4, 30)),
            line("Y", D(2026, 3, 1), D(2026, 3, 20), 30.0),
            line("Y", D(2026, 3, 21), D(2026, 3, 31), 20.0, reference="Y-late"),
        ],
    )
    # X's stop is gone: no signal; Y stopped on 20 March (the corrected stop), not on 10 February
    assert signals(conn) == {("Y", "Y-late", "after_stop", 20.0)}
    stops = stop_rows(conn)
    assert set(stops) == {(AGB, D(2026, 3, 1))}
    assert (stops[(AGB, D(2026, 3, 1))]["stops"], stops[(AGB, D(2026, 3, 1))]["late_stops"]) == (1, 0)


def test_a_stop_deleted_by_mistake_and_the_real_stop_later_follow_their_message_dates():
    # three 307s of the same product (same Begindatum): a stop on 24 June, its deletion on 27 June,
    # and the real stop on 4 September sent 29 September. XML files are named by message id, so the
    # deletion's file sorts last; the message dates (sent_on) say which came last: the real stop.
    conn = build(
        as_of=D(2026, 10, 31),
        allocations=[alloc("K")],
        events=[
            event("K", "start", D(2026, 4, 29), sent_on=D(2026, 5, 4), file="iwmo/S5.xml"),
            event("K", "stop", D(2026, 4, 29), D(2026, 9, 4), "31", D(2026, 9, 29), file="iwmo/E0.xml"),
            event("K", "stop", D(2026, 4, 29), D(2026, 6, 24), "31", D(2026, 6, 25), file="iwmo/E5.xml"),
            event("K", "stop", D(2026, 4, 29), D(2026, 6, 24), "31", D(2026, 6, 27), status="3",
                  file="iwmo/E6.xml"),
        ],
        lines=[line("K", D(2026, 7, 1), D(2026, 7, 31), 10.0, reference="k-jul"),
               line("K", D(2026, 9, 5), D(2026, 9, 30), 12.0, reference="k-sep")],
    )
    assert signals(conn) == {("K", "k-sep", "after_stop", 12.0)}
    # Friday 4 September to Tuesday 29 September: 17 working days, late
    (stop,) = rows(conn, "select * from marts.stop_messages")
    assert (stop["month"], stop["stops"], stop["late_stops"], stop["median_delay_working_days"]) == (
        D(2026, 9, 1), 1, 1, 17.0)


def test_a_stop_of_one_of_two_allocations_of_a_client_signals_only_that_allocation():
    # the client has allocations A1 (stopped 10 March) and A2 (running) with the same provider
    conn = build(
        as_of=D(2026, 4, 30),
        allocations=[alloc("A1"), alloc("A2", product_category="04", product_code="04A01")],
        events=[
            event("A1", "start", D(2026, 1, 5)),
            event("A2", "start", D(2026, 1, 5)),
            event("A1", "stop", D(2026, 1, 5), D(2026, 3, 10), "19", D(2026, 3, 12)),
        ],
        lines=[
            line("A1", D(2026, 4, 1), D(2026, 4, 30), 80.0, declared_on=D(2026, 4, 30),
                 answered_on=None, reference="a1-apr"),
            line("A2", D(2026, 4, 1), D(2026, 4, 30), 90.0, declared_on=D(2026, 4, 30),
                 product_category="04", product_code="04A01", reference="a2-apr"),
        ],
    )
    # only A1's April line; it is pending (not answered by as_of), and counts all the same
    (signal,) = rows(conn, "select * from marts.declaration_signals")
    assert (signal["allocation_number"], signal["reference_number"], signal["signal"],
            float(signal["amount_eur"]), signal["status"]) == ("A1", "a1-apr", "after_stop", 80.0, "pending")
    # 2 working days: on time; A1 is open after its stop (no end date), A2 never stopped
    stop = stop_rows(conn)[(AGB, D(2026, 3, 1))]
    assert (stop["stops"], stop["late_stops"], stop["allocations_open_after_stop"]) == (1, 0, 1)


# ---------------------------------------------------------------------------------------------
# sent_on missing, working days, as_of
# ---------------------------------------------------------------------------------------------


def test_a_stop_without_sent_on_is_not_determinable_never_on_time():
    conn = build(
        as_of=D(2026, 4, 30),
        events=[
            # provider 1: a stop without a Dagtekening (a tabular export without sent_on)
            event("N", "stop", D(2026, 1, 5), D(2026, 3, 10), "19", no_sent_on=True),
            # provider 2: Thursday 2 April, sent Monday 13 April: Good Friday and Easter Monday are no
            # working days, so 7, 8, 9, 10, 13 April = 5 working days: on time (11 calendar days);
            # the other sent Tuesday 14 April: 6 working days, late (12 calendar days)
            event("E1", "stop", D(2026, 1, 5), D(2026, 4, 2), "19", D(2026, 4, 13), provider=AGB2),
            event("E2", "stop", D(2026, 1, 5), D(2026, 4, 2), "19", D(2026, 4, 14), provider=AGB2),
        ],
    )
    stops = stop_rows(conn)
    n = stops[(AGB, D(2026, 3, 1))]
    assert (n["stops"], n["late_stops"], n["stops_not_determinable"]) == (1, 0, 1)
    assert n["median_delay_days"] is None and n["median_delay_working_days"] is None
    e = stops[(AGB2, D(2026, 4, 1))]
    assert (e["stops"], e["late_stops"], e["stops_not_determinable"]) == (2, 1, 0)
    assert (e["median_delay_days"], e["median_delay_working_days"]) == (11.5, 5.5)
    # a stop without sent_on still stops care: a line after it is after_stop
    conn = build(
        as_of=D(2026, 4, 30),
        events=[event("N", "stop", D(2026, 1, 5), D(2026, 3, 10), "19", no_sent_on=True)],
        lines=[line("N", D(2026, 3, 11), D(2026, 3, 31), 25.0, reference="n-1")],
    )
    (signal,) = rows(conn, "select * from marts.declaration_signals")
    assert signal["signal"] == "after_stop" and "without date" in signal["detail"]


def test_as_of_only_events_and_lines_known_by_then():
    events = [
        event("S", "start", D(2026, 1, 5)),
        # care stopped 10 March, but the stop message came only on 6 May (40 working days late)
        event("S", "stop", D(2026, 1, 5), D(2026, 3, 10), "19", D(2026, 5, 6)),
    ]
    lines = [
        line("S", D(2026, 3, 11), D(2026, 3, 31), 100.0, reference="s-mar"),      # declared 5 Apr
        line("S", D(2026, 4, 1), D(2026, 4, 30), 150.0, reference="s-apr"),       # declared 5 May
        line("S", D(2026, 5, 1), D(2026, 5, 31), 170.0, reference="s-may"),       # declared 5 Jun
        # rejected on 10 May: a signal at 30 April, none at 31 May
        line("S", D(2026, 3, 20), D(2026, 3, 31), 5.0, reference="s-rej",
             declared_on=D(2026, 4, 20), answered_on=D(2026, 5, 10), rejected_on=D(2026, 5, 10)),
    ]
    april = build(as_of=D(2026, 4, 30), events=events, lines=lines, allocations=[alloc("S")])
    # at 30 April the stop is not known: no after_stop, no stop row
    assert signals(april) == set()
    assert stop_rows(april) == {}
    may = build(as_of=D(2026, 5, 31), events=events, lines=lines, allocations=[alloc("S")])
    # at 31 May: the March and April lines (the May line is declared 5 June; the rejected one is out)
    assert signals(may) == {("S", "s-mar", "after_stop", 100.0), ("S", "s-apr", "after_stop", 150.0)}
    stop = stop_rows(may)[(AGB, D(2026, 3, 1))]
    # 10 March to 6 May: 21 + 30 + 6 = 57 days; working days 11-31 March 15, April 22 weekdays less
    # Good Friday, Easter Monday and King's Day (27 April) 19, 1-6 May 4 (Liberation Day is a
    # holiday only in lustrum years): 38
    assert (stop["stops"], stop["late_stops"], stop["median_delay_days"],
            stop["median_delay_working_days"]) == (1, 1, 57.0, 38.0)


def test_allocations_open_after_stop_follow_the_version_known_at_as_of():
    conn_args = dict(
        events=[
            event("C", "stop", D(2026, 1, 5), D(2026, 3, 10), "19", D(2026, 3, 11)),  # closed at the stop
            event("O", "stop", D(2026, 1, 5), D(2026, 3, 10), "19", D(2026, 3, 11)),  # end date later
            event("L", "stop", D(2026, 1, 5), D(2026, 3, 10), "19", D(2026, 3, 11)),  # closed after as_of
            event("Z", "stop", D(2026, 1, 5), D(2026, 3, 10), "19", D(2026, 3, 11)),  # deleted allocation
            event("U", "stop", D(2026, 1, 5), D(2026, 3, 10), "19", D(2026, 3, 11)),  # unknown allocation
        ],
        allocations=[
            alloc("C", end=D(2026, 12, 31)),
            alloc("C", end=D(2026, 3, 10), decided_on=dt.datetime(2026, 3, 12, 10)),
            alloc("O", end=D(2026, 12, 31)),
            alloc("L", end=D(2026, 12, 31)),
            alloc("L", end=D(2026, 3, 10), decided_on=dt.datetime(2026, 5, 2, 10)),
            alloc("Z", end=D(2026, 12, 31)),
            alloc("Z", end=D(2026, 12, 31), change_reason="13", decided_on=dt.datetime(2026, 3, 12, 10)),
        ],
    )
    april = stop_rows(build(as_of=D(2026, 4, 30), **conn_args))[(AGB, D(2026, 3, 1))]
    # open at 30 April: O and L (L's end date moves back only on 2 May); C closed, Z deleted, U unknown
    assert (april["stops"], april["stops_for_good"], april["allocations_open_after_stop"]) == (5, 5, 2)
    may = stop_rows(build(as_of=D(2026, 5, 31), **conn_args))[(AGB, D(2026, 3, 1))]
    assert may["allocations_open_after_stop"] == 1


# ---------------------------------------------------------------------------------------------
# the other signals
# ---------------------------------------------------------------------------------------------


def test_outside_allocation_no_allocation_and_rejected_or_credited_lines():
    conn = build(
        as_of=D(2026, 4, 30),
        lines=[
            line("A", D(2026, 3, 1), D(2026, 3, 31), 10.0, reference="out",
                 allocation_issue="period_outside_allocation"),
            line("B", D(2026, 3, 1), D(2026, 3, 31), 11.0, reference="unknown",
                 allocation_issue="unknown_allocation"),
            line("C", D(2026, 3, 1), D(2026, 3, 31), 12.0, reference="deleted",
                 allocation_issue="deleted_allocation"),
            # rejected by as_of: no signal
            line("B", D(2026, 2, 1), D(2026, 2, 28), 13.0, reference="rejected",
                 allocation_issue="unknown_allocation", rejected_on=D(2026, 3, 10)),
            # credited by as_of: the debit and its credit carry no signal
            line("C", D(2026, 2, 1), D(2026, 2, 28), 14.0, reference="credited",
                 allocation_issue="deleted_allocation"),
            line("C", D(2026, 2, 1), D(2026, 2, 28), 14.0, reference="credit", credit=True,
                 previous_reference_number="credited", allocation_issue="deleted_allocation",
                 declared_on=D(2026, 4, 5)),
            # credited only after as_of: still a signal
            line("C", D(2026, 1, 1), D(2026, 1, 31), 15.0, reference="credited-later",
                 allocation_issue="deleted_allocation"),
            line("C", D(2026, 1, 1), D(2026, 1, 31), 15.0, reference="credit-later", credit=True,
                 previous_reference_number="credited-later", allocation_issue="deleted_allocation",
                 declared_on=D(2026, 5, 5)),
        ],
    )
    assert signals(conn) == {
        ("A", "out", "outside_allocation", 10.0),
        ("B", "unknown", "no_allocation", 11.0),
        ("C", "deleted", "no_allocation", 12.0),
        ("C", "credited-later", "no_allocation", 15.0),
    }
    assert stop_rows(conn) == {}


def test_duplicate_period_but_not_a_correction_nor_a_resubmission():
    mar = (D(2026, 3, 1), D(2026, 3, 31))
    conn = build(
        as_of=D(2026, 4, 30),
        lines=[
            # the same period and product declared twice: both lines carry the signal
            line("D", *mar, 100.0, reference="d-1"),
            line("D", *mar, 100.0, reference="d-2", declared_on=D(2026, 4, 12), answered_on=D(2026, 4, 20)),
            # another product in the same period: no duplicate
            line("D", *mar, 30.0, reference="d-other", product_category="04", product_code="04A01"),
            # corrected: debit, its credit and the new debit; no signal
            line("E", *mar, 100.0, reference="e-1"),
            line("E", *mar, 100.0, reference="e-1c", credit=True, previous_reference_number="e-1",
                 declared_on=D(2026, 4, 12)),
            line("E", *mar, 90.0, reference="e-2", declared_on=D(2026, 4, 12)),
            # a correction that names its predecessor without a credit: not a duplicate either
            line("F", *mar, 100.0, reference="f-1"),
            line("F", *mar, 90.0, reference="f-2", previous_reference_number="f-1", declared_on=D(2026, 4, 12)),
            # rejected and declared again: no signal
            line("G", *mar, 100.0, reference="g-1", rejected_on=D(2026, 4, 10)),
            line("G", *mar, 100.0, reference="g-2", declared_on=D(2026, 4, 15), answered_on=D(2026, 4, 25)),
            # the second line is declared after as_of: no duplicate yet
            line("H", *mar, 100.0, reference="h-1"),
            line("H", *mar, 100.0, reference="h-2", declared_on=D(2026, 5, 2)),
        ],
    )
    assert signals(conn) == {("D", "d-1", "duplicate_period", 100.0), ("D", "d-2", "duplicate_period", 100.0)}
    details = {r["reference_number"]: r["detail"] for r in rows(conn, "select * from marts.declaration_signals")}
    assert details["d-1"].endswith("d-2") and details["d-2"].endswith("d-1")
    assert_one_row_per_key(conn)


def test_a_line_can_carry_several_signals():
    # declared after the stop, outside the allocation and twice: three signals per line
    conn = build(
        as_of=D(2026, 4, 30),
        events=[event("M", "stop", D(2026, 1, 5), D(2026, 2, 27), "19", D(2026, 3, 2))],
        lines=[
            line("M", D(2026, 3, 1), D(2026, 3, 31), 40.0, reference="m-1",
                 allocation_issue="period_outside_allocation"),
            line("M", D(2026, 3, 1), D(2026, 3, 31), 40.0, reference="m-2",
                 allocation_issue="period_outside_allocation"),
        ],
    )
    assert signals(conn) == {
        (*key, 40.0)
        for ref in ("m-1", "m-2")
        for key in [("M", ref, "after_stop"), ("M", ref, "outside_allocation"), ("M", ref, "duplicate_period")]
    }
    assert_one_row_per_key(conn)


# ---------------------------------------------------------------------------------------------
# sent_on from the XML header and through the raw table
# ---------------------------------------------------------------------------------------------


def test_xml_307_dagtekening_is_read_into_sent_on(tmp_path):
    events = pl.DataFrame({
        "municipality_code": ["0363"], "law": ["wmo"], "allocation_number": ["77"],
        "provider_agb": ["11111111"], "client_bsn": ["999900006"], "event": ["stop"],
        "start_date": ["2026-01-05"], "end_date": ["2026-03-10"], "end_reason": ["19"],
        "status": ["1"], "sent_on": ["2026-03-20"],
    })
    (path,) = write_messages("care_events", events, tmp_path, law="wmo")
    text = path.read_text(encoding="utf-8")
    assert "<iwmo:Dagtekening>2026-03-20</iwmo:Dagtekening>" in text
    message = read_message(path)
    assert message.message_code == "307"
    assert message.rows.select("event", "end_date", "sent_on").to_dicts() == [
        {"event": "stop", "end_date": "2026-03-10", "sent_on": "2026-03-20"}
    ]
    # the Jeugd 305 too: a start message dated a week after the start
    jeugd = events.with_columns(
        law=pl.lit("jeugd"), event=pl.lit("start"), end_date=pl.lit(None, pl.String),
        end_reason=pl.lit(None, pl.String), sent_on=pl.lit("2026-01-12"))
    (path,) = write_messages("care_events", jeugd, tmp_path / "jw", law="jeugd")
    message = read_message(path)
    assert (message.message_code, message.rows["sent_on"].to_list()) == ("305", ["2026-01-12"])


def test_an_older_warehouse_gets_the_sent_on_column():
    conn = duckdb.connect()
    conn.execute("create schema raw")
    old = {c: t for c, t in raw_columns("care_events").items() if c != "sent_on"}
    conn.execute(f"create table raw.care_events ({', '.join(f'{c} {t}' for c, t in old.items())})")
    ensure_raw_tables(conn, "care_events")
    columns = [r[0] for r in conn.execute("describe raw.care_events").fetchall()]
    assert columns[-1] == "sent_on" and set(columns) == set(raw_columns("care_events"))


@pytest.mark.parametrize("as_of", [D(2026, 4, 30)])
def test_staging_carries_sent_on(as_of):
    conn = build(as_of=as_of, events=[
        event("77", "stop", D(2026, 1, 5), D(2026, 3, 10), "19", D(2026, 3, 20)),
        event("78", "stop", D(2026, 1, 5), D(2026, 3, 10), "19", no_sent_on=True),
    ])
    assert conn.execute("select allocation_number, sent_on from staging.care_events order by 1").fetchall() == [
        ("77", D(2026, 3, 20)), ("78", None)]


# ---------------------------------------------------------------------------------------------
# the demo: the signals find what the generator planted (summary.json's truth) and nothing else
# ---------------------------------------------------------------------------------------------

DEMO_AS_OF = "2026-10-31"


@pytest.fixture(scope="module")
def demo_run(demo_warehouse):
    """The scale-1 demo region, loaded and run through the marts once per test session (conftest)."""
    import json

    root = demo_warehouse
    summary = json.loads((root / "summary.json").read_text(encoding="utf-8"))
    conn = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    yield summary["truth"], conn
    conn.close()


def test_demo_after_stop_lines_are_exactly_the_planted_ones(demo_run):
    truth, conn = demo_run
    planted = {(r["provider_agb"], r["law"], r["reference_number"]): r
               for r in truth["declared_after_stop"]["lines"]}
    found = {(r["provider_agb"], r["law"], r["reference_number"]): r
             for r in rows(conn, "select * from marts.declaration_signals where signal = 'after_stop'")}
    assert planted and set(found) == set(planted)
    for key, line_ in found.items():
        assert float(line_["amount_eur"]) == pytest.approx(planted[key]["amount_eur"])
        assert (line_["allocation_number"], line_["status"]) == (
            planted[key]["allocation_number"], planted[key]["status"])
    per_muni = {r["municipality_code"]: (r["lines"], r["amount_eur"])
                for r in truth["declared_after_stop"]["per_municipality"]}
    found_muni = {m: (n, float(eur)) for m, n, eur in conn.execute(
        "select municipality_code, count(*), sum(amount_eur) from marts.declaration_signals "
        "where signal = 'after_stop' group by all").fetchall()}
    assert found_muni.keys() == per_muni.keys()
    for muni, (n, eur) in per_muni.items():
        assert found_muni[muni][0] == n and found_muni[muni][1] == pytest.approx(eur)


def test_demo_plants_no_other_signal_than_unknown_allocations_and_cleaned_up_allocations(demo_run):
    _, conn = demo_run
    # the generator plants no period declared twice
    assert conn.execute("select count(*) from marts.declaration_signals "
                        "where signal = 'duplicate_period'").fetchall() == [(0,)]
    # a line outside its allocation only where the generator closed an allocation left open after
    # care stopped by a later clean-up (change_reason 14, administrative correction) ending before
    # the line's period ends: the lines declared after (or across) the stop
    unexplained = conn.execute(f"""
        with known as (
            select * from staging.allocation_versions
            where cast(decided_on as date) <= date '{DEMO_AS_OF}'
            qualify row_number() over (partition by municipality_code, law, allocation_number
                                       order by decided_on desc) = 1)
        select s.municipality_code, s.allocation_number, s.reference_number
        from marts.declaration_signals as s
        left join known as k using (municipality_code, law, allocation_number)
        where s.signal = 'outside_allocation'
            and not (k.change_reason = '14' and k.end_date < s.period_end)""").fetchall()
    assert unexplained == []
    # its lines on an unknown allocation ('9' + the number, rejected with 9338 when answered): every
    # one declared by as_of is rejected by then or still pending and a no_allocation signal
    signal_refs = set(conn.execute("select provider_agb, law, reference_number from marts.declaration_signals "
                                   "where signal = 'no_allocation'").fetchall())
    planted = conn.execute(f"""
        select provider_agb, law, reference_number, rejected_on <= date '{DEMO_AS_OF}' as rejected,
               return_codes
        from staging.declaration_lines
        where allocation_number like '9_______' and declared_on <= date '{DEMO_AS_OF}'
            and debit_credit = 'D'""").fetchall()
    pending = {(agb, law, ref) for agb, law, ref, rejected, _ in planted if not rejected}
    assert signal_refs and signal_refs == pending
    assert {codes for *_, rejected, codes in planted if rejected} == {"9338"}


def test_demo_stop_messages_match_the_planted_stops(demo_run):
    truth, conn = demo_run
    found = {r["municipality_code"]: r for r in rows(conn, """
        select municipality_code, sum(stops) as stops, sum(late_stops) as late_stops,
               sum(stops_not_determinable) as not_determinable, sum(temporary_stops) as temporary_stops,
               sum(stops_for_good) as stops_for_good,
               sum(allocations_open_after_stop) as allocations_open_after_stop
        from marts.stop_messages group by all""")}
    planted = {r["municipality_code"]: r for r in truth["stop_messages"]["per_municipality"]}
    open_planted: dict[str, int] = {}
    for r in truth["open_after_stop"]["per_municipality"]:
        open_planted[r["municipality_code"]] = open_planted.get(r["municipality_code"], 0) + r["len"]
    assert found.keys() == planted.keys()
    for muni, p in planted.items():
        f = found[muni]
        # deleted stops (status 3) no longer count; every demo stop carries its Dagtekening
        assert (f["stops"], f["temporary_stops"], f["stops_for_good"], f["late_stops"], f["not_determinable"]) == (
            p["final_stops"] + p["temporary_stops"], p["temporary_stops"], p["final_stops"],
            p["late_stop_messages"], 0), muni
        assert f["allocations_open_after_stop"] == open_planted.get(muni, 0), muni
    # at the mart's grain: late stops and open allocations per provider × municipality × month
    def per_cell(records, day_column):
        cells: dict[tuple, int] = {}
        for r in records:
            key = (r["provider_agb"], r["municipality_code"], r[day_column][:7])
            cells[key] = cells.get(key, 0) + 1
        return cells

    late = {(a, m, str(month)[:7]): n for a, m, month, n in conn.execute(
        "select provider_agb, municipality_code, month, late_stops from marts.stop_messages "
        "where late_stops > 0").fetchall()}
    assert late == per_cell(truth["stop_messages"]["late"], "end_date")
    open_ = {(a, m, str(month)[:7]): n for a, m, month, n in conn.execute(
        "select provider_agb, municipality_code, month, allocations_open_after_stop from marts.stop_messages "
        "where allocations_open_after_stop > 0").fetchall()}
    assert open_ == per_cell(truth["open_after_stop"]["allocations"], "stop_date")


def test_demo_workbook_has_a_sheet_per_signal_with_every_planted_line(demo_run, tmp_path):
    """issue 18: the follow-up workbook carries one sheet per lawfulness signal, every line in it."""
    import openpyxl

    from pipeline.reports import write_reports

    truth, conn = demo_run
    write_reports(conn, tmp_path, as_of=D.fromisoformat(DEMO_AS_OF))
    book = openpyxl.load_workbook(tmp_path / "opvolglijsten.xlsx", read_only=True)
    assert {"Gedeclareerd na stop", "Buiten toewijzing", "Zonder toewijzing", "Dubbele periode"} <= set(book.sheetnames)
    sheet = list(book["Gedeclareerd na stop"].iter_rows(values_only=True))
    header, rows = sheet[0], sheet[1:]
    planted = {r["reference_number"] for r in truth["declared_after_stop"]["lines"]}
    assert {row[header.index("Declaratieregel")] for row in rows} == planted
    assert round(sum(row[header.index("Bedrag")] for row in rows), 2) == round(
        sum(r["amount_eur"] for r in truth["declared_after_stop"]["lines"]), 2)
