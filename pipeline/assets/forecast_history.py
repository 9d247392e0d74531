"""marts.forecast_history (metrics.md §14): the projections the pipeline would have published at
every month end since the start of last year, and for completed years their error.

It is the same SQL with another ``as_of``, not a second implementation: the marts that the two
projections (``ceiling_position``, ``budget_exhaustion``) read, and that depend on ``$as_of``, are
built again from their own files into a scratch schema for every month end *t*, with ``as_of`` = *t*;
tables that do not depend on the reporting date (staging, calendars) are shared. At *t* = ``as_of``
the published marts are the projection itself and are read as they are. The only Python loop runs
over the month ends (at most 23).
"""


import datetime as dt
import hashlib
import re

import dagster as dg

from pipeline.assets.sql_assets import resolve_as_of, sql_deps
from pipeline.resources import Warehouse
from pipeline.settings import MetricSettings, month_end
from pipeline.sql import MACROS, TABLE_REF, fetch_one, sql_text, used_params

SCRATCH = "forecast_scratch"
PROJECTIONS = ("ceiling_position", "budget_exhaustion")


def history_models() -> list[str]:
    """The marts the projections read that depend on ``$as_of``, in build order."""
    order: list[str] = []

    def visit(name: str) -> bool:  # True when the model must be rebuilt for another as_of
        upstream = [k.path[1] for k in sql_deps("marts", name) if k.path[0] == "marts"]
        rebuilt = [visit(u) for u in upstream]
        needed = "$as_of" in sql_text("marts", name) or any(rebuilt)
        if needed and name not in order:
            order.append(name)
        return needed

    for name in PROJECTIONS:
        visit(name)
    return order


def month_ends(as_of: dt.date) -> list[dt.date]:
    """Every month end from January of the year before as_of's year up to as_of; as_of itself last."""
    ends, day = [], dt.date(as_of.year - 1, 1, 31)
    while day < as_of:
        ends.append(day)
        day = month_end(day + dt.timedelta(days=1))
    return [*ends, as_of]


def _scratch_text(name: str, rebuilt: set[str]) -> str:
    """The model's own SQL, reading the rebuilt marts from the scratch schema."""
    def repoint(m: re.Match) -> str:
        schema, table = m.group(1), m.group(2)
        return f"{SCRATCH}.{table}" if schema == "marts" and table in rebuilt else m.group(0)

    return TABLE_REF.sub(repoint, sql_text("marts", name))


_PROJECTION_ROWS = """
select
    'ceiling' as scope, payer_kind, payer_code, provider_agb,
    cast(null as varchar) as municipality_code, cast(null as varchar) as law,
    cast(null as varchar) as product_category, year, cast($t as date) as forecast_as_of,
    cast(12 - month(cast($t as date)) as integer) as months_before_year_end,
    cast(projected_year_end_eur as double) as projected_eur, cast(ceiling_eur as double) as limit_eur,
    cast(realised_eur as double) as realised_eur, alert
from {schema}.ceiling_position
union all by name
select
    'budget' as scope, 'municipality' as payer_kind, municipality_code as payer_code,
    cast(null as varchar) as provider_agb, municipality_code, law, product_category, year,
    cast($t as date) as forecast_as_of, cast(12 - month(cast($t as date)) as integer) as months_before_year_end,
    cast(forecast_eur as double) as projected_eur, cast(budget_eur as double) as limit_eur,
    cast(approved_eur as double) as realised_eur,
    -- a budget has no alert of its own in §10; the ceiling's thresholds say the same of a budget
    case
        when budget_eur is null then cast(null as varchar)
        when forecast_eur > budget_eur then 'projected_over'
        when exhaustion >= cast($alert_share_high as double) then '90'
        when exhaustion >= cast($alert_share_low as double) then '70'
        else 'ok'
    end as alert
from {schema}.budget_exhaustion
"""

# The outcome of a year that ended before as_of: its expected ultimate at as_of (§9), from the
# published chain ladder. A budget category's share of a month's ultimate is its share of the
# month's declared amount, as §10 apportions the expected late.
_OUTCOMES = """
with
provider_years as (
    select payer_kind, payer_code, provider_agb, year, sum(expected_ultimate_eur) as outcome_eur
    from marts.chain_ladder
    where year < year(cast($as_of as date))
    group by all
),
law_months as (
    select payer_code as municipality_code, law, month, sum(expected_ultimate_eur) as ultimate_eur
    from marts.chain_ladder
    where payer_kind = 'municipality' and year < year(cast($as_of as date))
    group by all
),
category_months as (
    select payer_code as municipality_code, law, product_category, month,
           sum(net_amount_eur) filter (where status <> 'rejected') as declared_eur
    from marts.payer_lines
    where payer_kind = 'municipality' and year < year(cast($as_of as date))
    group by all
),
category_shares as (
    select
        *,
        cast(declared_eur as double)
            / nullif(cast(sum(declared_eur) over (partition by municipality_code, law, month) as double), 0) as share
    from category_months
),
category_years as (
    select
        law_months.municipality_code, law_months.law, category_shares.product_category,
        year(law_months.month) as year, sum(law_months.ultimate_eur * category_shares.share) as outcome_eur
    from law_months
    inner join category_shares
        on category_shares.municipality_code = law_months.municipality_code
        and category_shares.law = law_months.law
        and category_shares.month = law_months.month
    group by all
)
select 'ceiling' as scope, payer_kind, payer_code, provider_agb, cast(null as varchar) as law,
       cast(null as varchar) as product_category, year, outcome_eur
from provider_years
union all
select 'budget', 'municipality', municipality_code, cast(null as varchar), law, cast(null as varchar),
       year(month), sum(ultimate_eur)
from law_months
group by all
union all
select 'budget', 'municipality', municipality_code, cast(null as varchar), law, product_category, year, outcome_eur
from category_years
"""


def _input_tables(models: list[str]) -> list[str]:
    """The staging and raw tables that the rebuilt marts read."""
    refs = {f"{s}.{n}" for name in models for s, n in TABLE_REF.findall(sql_text("marts", name)) if s != "marts"}
    return sorted(refs)


# The day from which a row can be read at as_of: the column every as-of filter of the history's
# marts compares with $as_of (metrics.md §1; care events as allocation_commitments reads them, the
# earlier of the message and the event). Other tables: the earliest of their dates, which is never
# later than any as-of filter could use.
KNOWN_FROM = {
    "staging.declaration_lines": "cast(declared_on as date)",
    "staging.zvw_lines": "cast(submitted_on as date)",
    "staging.allocation_versions": "cast(decided_on as date)",
    "staging.care_events": "least(sent_on, case when event = 'stop' then end_date else start_date end)",
}

# Columns that the history's marts only ever compare with $as_of (status as of a date), each with the
# columns read only when it lies on or before $as_of (the return codes of a rejection): they enter
# the digests on their own day, so a late answer to an old line changes only the month ends after it.
# UNREAD: columns none of the history's marts reads (the status today).
DEFERRED = {"staging.declaration_lines": (("answered_on",), ("rejected_on", "return_codes"))}
UNREAD = {"staging.declaration_lines": ("status_now",)}


def input_fingerprints(conn, models: list[str], ends: list[dt.date], settings: MetricSettings) -> dict[dt.date, str]:
    """Per month end t, a digest of everything a projection at t can read.

    A row enters the digest of every t on or after the day it can be read (``KNOWN_FROM``: an as-of
    filter keeps a row only from then, so a row read later cannot change the projection at t); a
    table without dates enters every digest whole. The row hash covers all columns, so a later
    answer to an old line changes the digests from that line's declaration on: conservative, never
    stale. With the SQL texts and the settings in it, an unchanged digest means the projection at t
    would come out the same, and it is kept.
    """
    code = "\n".join([MACROS, _PROJECTION_ROWS, *(sql_text("marts", n) for n in models)])
    setting_text = repr(sorted((k, str(v)) for k, v in settings.sql_params(ends[-1]).items() if k != "as_of"))
    parts: dict[dt.date, list[str]] = {t: [hashlib.sha256((code + setting_text).encode()).hexdigest()] for t in ends}
    conn.execute("create or replace temp table _ends as select unnest(cast(? as date[])) as t", [ends])
    for table in _input_tables(models):
        schema, name = table.split(".")
        dates = [r[0] for r in conn.execute(
            "select column_name from duckdb_columns() where schema_name = ? and table_name = ? "
            "and data_type in ('DATE', 'TIMESTAMP', 'TIMESTAMP WITH TIME ZONE') order by column_index",
            [schema, name]).fetchall()]
        first = KNOWN_FROM.get(table) or (
            f"least({', '.join(f'cast({d} as date)' for d in dates)})" if dates else "cast(null as date)")
        deferred = DEFERRED.get(table, ())
        apart = [c for group in deferred for c in group] + list(UNREAD.get(table, ()))
        row_hash = f"hash(*columns(* exclude ({', '.join(apart)})))" if apart else "hash(src)"
        events = "".join(
            f" union all select cast({g[0]} as date), hash(h, '{g[0]}', {', '.join(g)}) "
            f"from row_hashes where {g[0]} is not null"
            for g in deferred)
        rows = conn.execute(f"""
            with row_hashes as (
                select {first} as known_from, {row_hash} as h{''.join(f', {c}' for g in deferred for c in g)}
                from {table} as src
            ),
            events as (
                select coalesce(known_from, date '0001-01-01') as day, h from row_hashes{events}
            ),
            days as (
                select day, bit_xor(h) as x, count(*) as n from events group by all
            ),
            running as (
                select day,
                       bit_xor(x) over (order by day rows between unbounded preceding and current row) as x,
                       sum(n) over (order by day rows between unbounded preceding and current row) as n
                from days
            )
            select _ends.t, running.x, running.n
            from _ends asof left join running on _ends.t >= running.day
        """).fetchall()
        for t, x, n in rows:
            parts[t].append(f"{table}:{x}:{n}")
    conn.execute("drop table _ends")
    return {t: hashlib.sha256("|".join(p).encode()).hexdigest() for t, p in parts.items()}


def build_forecast_history(conn, settings: MetricSettings, as_of: dt.date) -> tuple[int, int]:
    """Build marts.forecast_history for ``as_of``; return its row count and the month ends rebuilt.

    The projections of earlier month ends are kept in ``meta.forecast_projections`` with the digest
    of their inputs (``input_fingerprints``); a month end is computed again only when its digest
    changed, so a monthly refresh computes the new month end (and any whose data was corrected).
    """
    models = history_models()
    rebuilt = set(models)
    ends = month_ends(as_of)
    conn.execute(MACROS)
    conn.execute("create schema if not exists meta")
    first = _PROJECTION_ROWS.format(schema="marts").replace("$t", "$as_of")
    shape = [r[0] for r in conn.execute(f"describe select cast(null as varchar) as fingerprint, * from ({first})",
                                        used_params(first, settings.sql_params(as_of))).fetchall()]
    kept_shape = [r[0] for r in conn.execute(
        "select column_name from duckdb_columns() where schema_name = 'meta' "
        "and table_name = 'forecast_projections' order by column_index").fetchall()]
    if kept_shape and kept_shape != shape:  # written by another version: start again
        conn.execute("drop table meta.forecast_projections")
    conn.execute(
        f"create table if not exists meta.forecast_projections as "
        f"select cast(null as varchar) as fingerprint, * from ({first}) limit 0",
        used_params(first, settings.sql_params(as_of)),
    )
    digests = input_fingerprints(conn, models, ends, settings)
    kept = dict(conn.execute("select distinct forecast_as_of, fingerprint from meta.forecast_projections").fetchall())
    todo = [t for t in ends if t == as_of or kept.get(t) != digests[t]]
    conn.execute("delete from meta.forecast_projections where forecast_as_of not in (select unnest(cast(? as date[])))"
                 " or forecast_as_of in (select unnest(cast(? as date[])))", [ends, todo])
    conn.execute(f"drop schema if exists {SCRATCH} cascade")
    conn.execute(f"create schema {SCRATCH}")
    try:
        for t in todo:
            params = settings.sql_params(t)
            schema = "marts"
            if t != as_of:  # the published marts are the projection at as_of
                schema = SCRATCH
                for name in models:
                    text = _scratch_text(name, rebuilt)
                    conn.execute(f"create or replace table {SCRATCH}.{name} as {text}", used_params(text, params))
            rows = _PROJECTION_ROWS.format(schema=schema)
            conn.execute(
                f"insert into meta.forecast_projections by name "
                f"select cast($fingerprint as varchar) as fingerprint, * from ({rows})",
                {**used_params(rows, {**params, "t": t}), "fingerprint": digests[t]},
            )
    finally:
        conn.execute(f"drop schema if exists {SCRATCH} cascade")

    conn.execute(
        f"""
        create or replace table marts.forecast_history as
        with outcomes as ({_OUTCOMES})
        select
            p.scope, p.payer_kind, p.payer_code, p.provider_agb, p.municipality_code, p.law, p.product_category,
            p.year, p.forecast_as_of, p.months_before_year_end,
            cast(round(p.projected_eur, 2) as decimal(18, 2)) as projected_eur,
            cast(p.limit_eur as decimal(18, 2)) as limit_eur,
            cast(round(p.realised_eur, 2) as decimal(18, 2)) as realised_eur,
            p.alert,
            cast(round(o.outcome_eur, 2) as decimal(18, 2)) as outcome_eur,
            cast(round(p.projected_eur - o.outcome_eur, 2) as decimal(18, 2)) as error_eur,
            abs(p.projected_eur - o.outcome_eur) / nullif(abs(o.outcome_eur), 0) as abs_pct_error,
            o.outcome_eur > p.limit_eur as outcome_over_limit
        from meta.forecast_projections as p
        left join outcomes as o
            on o.scope = p.scope
            and o.payer_kind = p.payer_kind
            and o.payer_code = p.payer_code
            and o.provider_agb is not distinct from p.provider_agb
            and o.law is not distinct from p.law
            and o.product_category is not distinct from p.product_category
            and o.year = p.year
        order by p.scope, p.payer_code, p.provider_agb, p.law, p.product_category, p.forecast_as_of
        """,
        used_params(_OUTCOMES, settings.sql_params(as_of)),
    )
    return fetch_one(conn, "select count(*) from marts.forecast_history")[0], len(todo)


@dg.asset(
    key=["marts", "forecast_history"],
    group_name="marts",
    deps=[dg.AssetKey(["marts", n]) for n in ("ceiling_position", "budget_exhaustion", "chain_ladder", "payer_lines")],
    description="marts.forecast_history (metrics.md §14): the ceiling and budget projections as published "
    "at every month end since January of last year, with the error against the outcome of completed years. "
    "The same SQL files as the published marts, run with as_of = each month end.",
    kinds={"duckdb", "sql"},
)
def forecast_history(context: dg.AssetExecutionContext, warehouse: Warehouse, settings: MetricSettings) -> dg.MaterializeResult:
    with warehouse.connect() as conn:
        as_of = resolve_as_of(conn, settings)
        rows, computed = build_forecast_history(conn, settings, as_of)
        preview = conn.sql(
            "select scope, year, forecast_as_of, count(*) as rows, median(abs_pct_error) as median_ape "
            "from marts.forecast_history group by all order by all"
        ).pl()
    context.log.info(f"forecast_history: {rows} rows, {len(month_ends(as_of))} month ends up to {as_of}, "
                     f"{computed} computed (the others' inputs are unchanged)")
    return dg.MaterializeResult(metadata={
        "table": "marts.forecast_history",
        "dagster/row_count": dg.MetadataValue.int(rows),
        "as_of": str(as_of),
        "month_ends": dg.MetadataValue.int(len(month_ends(as_of))),
        "month_ends_computed": dg.MetadataValue.int(computed),
        "preview": dg.MetadataValue.text(str(preview)),
    })
