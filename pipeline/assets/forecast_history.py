"""marts.forecast_history (metrics.md §14): the projections the pipeline would have published at
every month end since the start of last year, and for completed years their error.

It is the same SQL with other reporting dates, not a second implementation: the marts behind the two
projections that depend on the reporting date (chain_ladder, allocation_commitments,
ceiling_position, budget_exhaustion) compute every date of ``$as_of_dates`` in one pass. The
published build passes as_of alone; the history builds them again into a scratch schema with every
month end. What they read is published at as_of and holds what any earlier date needs (``SUPERSETS``).
"""


import datetime as dt
import re

import dagster as dg

from pipeline.assets.sql_assets import resolve_as_of, sql_deps
from pipeline.resources import Warehouse
from pipeline.settings import MetricSettings, month_end
from pipeline.sql import MACROS, TABLE_REF, fetch_one, sql_text, used_params

SCRATCH = "forecast_scratch"
PROJECTIONS = ("ceiling_position", "budget_exhaustion")

# Marts built for as_of alone that the history's models read: each holds what every earlier reporting
# date needs, and the models select a date's part themselves.
SUPERSETS = {
    "payer_lines": "every line submitted by as_of, with its answer and rejection days (macro status_at)",
    "allocation_version_months": "every version with the days it was in force, months to the end of the as_of year",
}


def history_models() -> list[str]:
    """The marts the projections read that compute several reporting dates at once, in build order."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen or name in SUPERSETS:
            return
        seen.add(name)
        for key in sql_deps("marts", name):
            if key.path[0] == "marts":
                visit(key.path[1])
        text = sql_text("marts", name)
        if "$as_of_dates" in text:
            order.append(name)
        elif re.search(r"\$as_of\b", text):
            raise ValueError(f"marts.{name} depends on $as_of alone: the history cannot read it for earlier dates")

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


_PROJECTION_ROWS = f"""
select
    'ceiling' as scope, payer_kind, payer_code, provider_agb,
    cast(null as varchar) as municipality_code, cast(null as varchar) as law,
    cast(null as varchar) as product_category, year, as_of as forecast_as_of,
    cast(12 - month(as_of) as integer) as months_before_year_end,
    cast(projected_year_end_eur as double) as projected_eur, cast(ceiling_eur as double) as limit_eur,
    cast(realised_eur as double) as realised_eur, alert
from {SCRATCH}.ceiling_position
union all by name
select
    'budget' as scope, 'municipality' as payer_kind, municipality_code as payer_code,
    cast(null as varchar) as provider_agb, municipality_code, law, product_category, year,
    as_of as forecast_as_of, cast(12 - month(as_of) as integer) as months_before_year_end,
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
from {SCRATCH}.budget_exhaustion
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


def build_forecast_history(conn, settings: MetricSettings, as_of: dt.date) -> tuple[int, int]:
    """Build marts.forecast_history for ``as_of``; return its row count and the number of month ends."""
    models = history_models()
    ends = month_ends(as_of)
    params = {**settings.sql_params(as_of), "as_of_dates": ends}
    conn.execute(MACROS)
    conn.execute(f"drop schema if exists {SCRATCH} cascade")
    conn.execute(f"create schema {SCRATCH}")
    try:
        for name in models:
            text = _scratch_text(name, set(models))
            conn.execute(f"create table {SCRATCH}.{name} as {text}", used_params(text, params))
        conn.execute(
            f"""
            create or replace table marts.forecast_history as
            with projections as ({_PROJECTION_ROWS}), outcomes as ({_OUTCOMES})
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
            from projections as p
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
            used_params(_PROJECTION_ROWS + _OUTCOMES, params),
        )
    finally:
        conn.execute(f"drop schema if exists {SCRATCH} cascade")
    conn.execute("drop table if exists meta.forecast_projections")  # kept by earlier versions
    return fetch_one(conn, "select count(*) from marts.forecast_history")[0], len(ends)


@dg.asset(
    key=["marts", "forecast_history"],
    group_name="marts",
    deps=[dg.AssetKey(["marts", n]) for n in ("ceiling_position", "budget_exhaustion", "chain_ladder", "payer_lines")],
    description="marts.forecast_history (metrics.md §14): the ceiling and budget projections as published "
    "at every month end since January of last year, with the error against the outcome of completed years. "
    "The same SQL files as the published marts, run once with every month end as a reporting date.",
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
    context.log.info(f"forecast_history: {rows} rows, {computed} month ends up to {as_of}")
    return dg.MaterializeResult(metadata={
        "table": "marts.forecast_history",
        "dagster/row_count": dg.MetadataValue.int(rows),
        "as_of": str(as_of),
        "month_ends": dg.MetadataValue.int(computed),
        "preview": dg.MetadataValue.text(str(preview)),
    })
