"""Report assets: the Plotly HTML reports, the index and the Excel follow-up lists."""


from pathlib import Path

import dagster as dg

from pipeline.assets.sql_assets import resolve_as_of, sql_names
from pipeline.paths import reports_dir
from pipeline.resources import Warehouse
from pipeline.settings import MetricSettings


@dg.asset(
    key=["reports", "reports"],
    group_name="reports",
    deps=[dg.AssetKey(["marts", n]) for n in [*sql_names("marts"), "forecast_history"]]
    + [dg.AssetKey(["staging", n]) for n in ("organisations", "products") if n in sql_names("staging")],
    kinds={"plotly", "html", "excel"},
)
def reports(context: dg.AssetExecutionContext, warehouse: Warehouse, settings: MetricSettings) -> dg.MaterializeResult:
    """Maandrapportage per municipality and region, Plafondmonitor per insurer, Rekenfactor en
    bandbreedte, Datakwaliteit, index.html and opvolglijsten.xlsx, under reports/."""
    from pipeline.reports import write_reports

    out_dir = Path(reports_dir())
    out_dir.mkdir(parents=True, exist_ok=True)
    with warehouse.connect() as conn:
        as_of = resolve_as_of(conn, settings)
        paths = write_reports(conn, out_dir, as_of=as_of, language=settings.language,
                              min_cell_clients=settings.min_cell_clients or None)
    context.log.info(f"wrote {len(paths)} report files to {out_dir}")
    return dg.MaterializeResult(
        metadata={
            "as_of": str(as_of),
            "files": dg.MetadataValue.md("\n".join(f"- {p.name}" for p in paths)),
            "index": dg.MetadataValue.path(str(out_dir / "index.html")),
        }
    )
