"""The forecasts of metrics.md §9 and §14 on the demo data.

The demo region (pipeline/demo.py, scale 1, seed 42) is generated and run through the marts once for
the module, at as_of 2026-10-31. The SQL chain ladder and Bornhuetter–Ferguson are checked against
the `chainladder` package (a dev dependency) on the demo's own triangles, and the alerts that
forecast_history says the pipeline would have raised at 31 October 2025 are checked against what
the generator made happen in 2025 (its truth in summary.json).
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from conftest import DEMO_AS_OF

AS_OF = DEMO_AS_OF
MAX_LAG = 12  # the chain_ladder_max_lag default


@pytest.fixture(scope="module")
def warehouse(demo_warehouse) -> Path:
    return demo_warehouse


def _frame(root: Path, sql: str, params=None) -> pd.DataFrame:
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as conn:
        return conn.execute(sql, params or []).df()


def _payers(root: Path) -> list[tuple[str, str, str | None]]:
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as conn:
        return conn.execute("select distinct payer_kind, payer_code, law from marts.chain_ladder order by all").fetchall()


def test_chain_ladder_and_bornhuetter_ferguson_match_the_chainladder_package(warehouse):
    cl = pytest.importorskip("chainladder")
    payers = _payers(warehouse)
    assert any(k == "insurer" for k, _, _ in payers) and any(k == "municipality" for k, _, _ in payers)
    for kind, code, law in payers:
        # the payer's incremental triangle, lags capped as the SQL caps them
        lines = _frame(warehouse, f"""
            select month as origin,
                   cast(month + to_months(least(greatest(datediff('month', month, submission_month), 0), {MAX_LAG}))
                        as date) as development,
                   sum(net_amount_eur)::double as amount
            from marts.payer_lines
            where payer_kind = ? and payer_code = ? and law is not distinct from ? and status <> 'rejected'
                and submitted_date <= date '{AS_OF}' and month <= date_trunc('month', date '{AS_OF}')
            group by all""", [kind, code, law])
        ours = _frame(warehouse, """
            select month, any_value(remaining_factor) as remaining_factor, sum(declared_eur)::double as declared,
                   sum(chain_ladder_ultimate_eur) as cl_ultimate, sum(prior_eur) as prior,
                   sum(expected_ultimate_eur) as bf_ultimate
            from marts.chain_ladder
            where payer_kind = ? and payer_code = ? and law is not distinct from ?
            group by all order by month""", [kind, code, law])
        lines["origin"] = pd.to_datetime(lines["origin"])
        lines["development"] = pd.to_datetime(lines["development"])
        triangle = cl.Triangle(lines, origin="origin", development="development", columns=["amount"],
                               cumulative=False).incr_to_cum()
        developed = cl.Development(average="volume", n_periods=-1).fit_transform(triangle)
        package_cl = cl.Chainladder().fit(developed).ultimate_.to_frame().iloc[:, 0]
        # the package's origins run from the first month with lines to the valuation month, as ours do
        ours = ours.set_index(pd.to_datetime(ours["month"])).reindex(pd.to_datetime(package_cl.index))
        assert ours["month"].notna().all(), f"{kind} {code} {law}: months missing in marts.chain_ladder"
        # a month with nothing declared yet (a payer late by habit) has no chain-ladder ultimate in the
        # package; ours is 0 there, and Bornhuetter–Ferguson still expects its prior's share
        empty = package_cl.isna().to_numpy()
        assert (ours["declared"].to_numpy()[empty] == 0).all()
        priors = ours["prior"].to_numpy().reshape(-1, 1)
        package_cl, ours = package_cl[~empty], ours[~empty]
        np.testing.assert_allclose(package_cl.to_numpy(), ours["cl_ultimate"].to_numpy(), rtol=1e-9, atol=1e-6,
                                   err_msg=f"chain ladder of {kind} {code} {law}")
        # Bornhuetter–Ferguson: the providers' priors add up to the payer's exposure (p is the payer's)
        exposure = developed.latest_diagonal * 0 + priors
        bf = cl.BornhuetterFerguson(apriori=1.0).fit(developed, sample_weight=exposure)
        np.testing.assert_allclose(bf.ultimate_.to_frame().iloc[:, 0].to_numpy()[~empty], ours["bf_ultimate"].to_numpy(),
                                   rtol=1e-9, atol=1e-6, err_msg=f"Bornhuetter–Ferguson of {kind} {code} {law}")

def test_the_youngest_month_no_longer_explodes(warehouse):
    # the chain ladder applies a factor of tens to the few lines of the current month at lag 0; the
    # expected ultimate (Bornhuetter–Ferguson) of that month stays near the provider's developed months
    young = _frame(warehouse, f"""
        select payer_code, provider_agb, remaining_factor, chain_ladder_ultimate_eur, expected_ultimate_eur, prior_eur
        from marts.chain_ladder
        where payer_kind = 'insurer' and month = date_trunc('month', date '{AS_OF}') and prior_eur > 0""")
    assert len(young) > 10
    assert young["remaining_factor"].min() > 5  # lag 0 of wijkverpleging: a few percent declared
    ratio = young["expected_ultimate_eur"] / young["prior_eur"]
    assert ratio.between(0.5, 2.0).all(), young[~ratio.between(0.5, 2.0)]


def test_forecast_history_covers_every_month_end_since_last_january(warehouse):
    hist = _frame(warehouse, "select scope, year, forecast_as_of, outcome_eur from marts.forecast_history")
    ends = sorted(set(hist["forecast_as_of"]))
    assert len(ends) == 22 and str(ends[0])[:10] == "2025-01-31" and str(ends[-1])[:10] == AS_OF
    assert set(hist["scope"]) == {"ceiling", "budget"}
    assert hist.loc[hist["year"] == 2025, "outcome_eur"].notna().all()
    assert hist.loc[hist["year"] == 2026, "outcome_eur"].isna().all()
    # the row at as_of is the published projection
    now = _frame(warehouse, f"""
        select h.projected_eur, c.projected_year_end_eur
        from marts.forecast_history h join marts.ceiling_position c
            on c.payer_code = h.payer_code and c.provider_agb = h.provider_agb and c.year = h.year
        where h.scope = 'ceiling' and h.forecast_as_of = date '{AS_OF}'""")
    assert len(now) > 0 and (now["projected_eur"] == now["projected_year_end_eur"]).all()


def _truth(root: Path) -> dict:
    return json.loads((root / "summary.json").read_text(encoding="utf-8"))


def test_alerts_at_31_october_2025_against_what_the_generator_made_happen(warehouse):
    truth = _truth(warehouse)["truth"]
    ceilings = pd.DataFrame(truth["ceilings"]).query("year == 2025")
    budgets = pd.DataFrame(truth["budgets"]).query("year == 2025")
    history = _frame(warehouse, """
        select scope, payer_code, provider_agb, municipality_code, law, product_category, alert,
               projected_eur::double as projected_eur, outcome_eur::double as outcome_eur
        from marts.forecast_history where year = 2025 and forecast_as_of = date '2025-10-31'""")
    flagged = {"projected_over", "reached"}

    seen = ceilings.merge(history.query("scope == 'ceiling'"), on=["payer_code", "provider_agb"], how="left",
                          suffixes=("_truth", ""))
    assert seen["alert"].notna().all(), "every 2025 ceiling of the generator has a forecast at 31 October"
    # the outcome (expected ultimate at as_of 2026-10-31) is the generator's full-year amount
    assert ((seen["outcome_eur"] - seen["outcome_eur_truth"]).abs() <= 0.01 * seen["outcome_eur_truth"]).all()
    over, raised = seen["planted"] == "over", seen["alert"].isin(flagged)
    assert over.sum() >= 4
    # two months before year end the forecast raises most planted overruns and few false alarms
    # (a provider that declares months late by habit is missed: the payer's factors say its months are
    # developed when they are not); nothing planted clearly within its ceiling is raised
    assert (raised & over).sum() / over.sum() >= 0.75
    assert (raised & over).sum() / raised.sum() >= 0.75
    assert not (raised & (seen["planted"] == "within")).any()

    seen = budgets.merge(history.query("scope == 'budget'"), on=["municipality_code", "law", "product_category"],
                         how="left", suffixes=("_truth", ""))
    assert seen["alert"].notna().all()
    assert ((seen["outcome_eur"] - seen["outcome_eur_truth"]).abs() <= 0.01 * seen["outcome_eur_truth"]).all()
    assert set(seen.loc[seen["planted"] == "over", "municipality_code"]) == {"0361", "0441"}
    assert (seen["alert"].isin(flagged) == (seen["planted"] == "over")).all()
