"""The staging tables of docs/contract.md as DDL, for tests that build tiny staging tables by hand.

`tests/test_staging_contract.py` asserts that the real staging SQL produces exactly these columns
and types, so mart tests built on this DDL test against the real interface.
"""

from __future__ import annotations

import duckdb
import polars as pl

STAGING_COLUMNS: dict[str, dict[str, str]] = {
    "allocation_versions": {
        "municipality_code": "varchar", "law": "varchar", "allocation_number": "varchar",
        "client_id": "varchar", "provider_agb": "varchar", "product_category": "varchar",
        "product_code": "varchar", "decided_on": "timestamp", "start_date": "date",
        "end_date": "date", "volume": "double", "unit": "varchar", "frequency": "varchar",
        "budget_eur": "decimal(18,2)", "change_reason": "varchar", "is_deleted": "boolean",
        "variant": "varchar", "source_file": "varchar",
    },
    "declaration_lines": {
        "provider_agb": "varchar", "municipality_code": "varchar", "law": "varchar",
        "message_id": "varchar", "declaration_number": "varchar",
        "declaration_period_start": "date", "declaration_period_end": "date",
        "declared_on": "date", "reference_number": "varchar",
        "previous_reference_number": "varchar", "client_id": "varchar",
        "allocation_number": "varchar", "product_category": "varchar", "product_code": "varchar",
        "period_start": "date", "period_end": "date", "month": "date", "volume": "double",
        "unit": "varchar", "tariff_eur": "decimal(18,2)", "amount_eur": "decimal(18,2)",
        "debit_credit": "varchar", "sign": "integer", "net_volume": "double",
        "net_amount_eur": "decimal(18,2)", "allocation_unit": "varchar",
        "volume_alloc_unit": "double", "hours": "double", "answered_on": "date",
        "rejected_on": "date", "return_codes": "varchar", "status_now": "varchar",
        "allocation_issue": "varchar", "source_file": "varchar", "source_row": "bigint",
    },
    "answers": {
        "provider_agb": "varchar", "law": "varchar", "message_id": "varchar",
        "answered_on": "date", "reference_number": "varchar", "return_codes": "varchar",
        "voids_declaration": "boolean", "source_file": "varchar",
    },
    "care_events": {
        "municipality_code": "varchar", "law": "varchar", "allocation_number": "varchar",
        "provider_agb": "varchar", "client_id": "varchar", "event": "varchar",
        "start_date": "date", "end_date": "date", "end_reason": "varchar",
        "is_temporary_stop": "boolean", "sent_on": "date", "source_file": "varchar",
    },
    "zvw_lines": {
        "insurer_code": "varchar", "provider_agb": "varchar", "client_id": "varchar",
        "reference_number": "varchar", "previous_reference_number": "varchar",
        "service_start": "date", "service_end": "date", "month": "date",
        "prestation_code": "varchar", "minutes": "double", "hours": "double",
        "tariff_eur": "decimal(18,2)", "amount_eur": "decimal(18,2)", "debit_credit": "varchar",
        "sign": "integer", "net_minutes": "double", "net_hours": "double",
        "net_amount_eur": "decimal(18,2)", "submitted_on": "timestamp", "status": "varchar",
        "source_file": "varchar", "source_row": "bigint",
    },
    "delivered_hours": {
        "municipality_code": "varchar", "law": "varchar", "allocation_number": "varchar",
        "provider_agb": "varchar", "client_id": "varchar", "period_kind": "varchar",
        "period_start": "date", "period_end": "date", "hours": "double", "source_file": "varchar",
    },
    "products": {
        "product_code": "varchar", "product_category": "varchar", "law": "varchar",
        "description": "varchar", "unit": "varchar", "tariff_eur": "decimal(18,2)",
        "tariff_period": "varchar", "band_min_hours_per_week": "double",
        "band_max_hours_per_week": "double", "reference_hours_per_week": "double",
        "rekenfactor": "double", "valid_from": "date", "valid_to": "date",
    },
    "ceilings": {
        "payer_code": "varchar", "payer_kind": "varchar", "provider_agb": "varchar",
        "year": "integer", "ceiling_eur": "decimal(18,2)",
        "max_hours_per_client_month": "double", "policy": "varchar",
        "increase_request_deadline": "date",
    },
    "budgets": {
        "municipality_code": "varchar", "year": "integer", "law": "varchar",
        "product_category": "varchar", "budget_eur": "decimal(18,2)",
    },
    "cak_periods": {"year": "integer", "period": "integer", "start_date": "date", "end_date": "date"},
    "calendar_months": {"month": "date", "month_end": "date", "year": "integer", "days": "integer"},
    "calendar_iso_weeks": {
        "iso_year": "integer", "iso_week": "integer", "week_start": "date", "week_end": "date",
    },
    "calendar_days": {"day": "date", "is_working_day": "boolean", "working_day_number": "integer"},
}
STAGING_COLUMNS["allocations"] = STAGING_COLUMNS["allocation_versions"]

RAW_COLUMNS: dict[str, dict[str, str]] = {
    "manifest": {
        "source_file": "varchar", "kind": "varchar", "sha256": "varchar", "size_bytes": "bigint",
        "loaded_at": "timestamp", "rows_received": "bigint", "rows_loaded": "bigint",
        "rows_quarantined": "bigint", "status": "varchar",
    },
    "quarantine": {
        "source_file": "varchar", "kind": "varchar", "source_row": "bigint",
        "reason_code": "varchar", "reason_text": "varchar", "record": "varchar",
        "quarantined_at": "timestamp",
    },
}


def create_staging(conn: duckdb.DuckDBPyConnection, **frames: pl.DataFrame) -> None:
    """Create every staging table and raw.manifest/raw.quarantine (empty unless a frame is given).

    A frame may carry a subset of the columns; missing ones are null. Example:
    ``create_staging(conn, allocation_versions=pl.DataFrame({...}))``.
    """
    for schema, tables in (("staging", STAGING_COLUMNS), ("raw", RAW_COLUMNS)):
        conn.execute(f"create schema if not exists {schema}")
        for table, columns in tables.items():
            _create(conn, schema, table, columns, frames.get(table))


def _create(conn, schema, table, columns, frame) -> None:
    ddl = ", ".join(f"{name} {typ}" for name, typ in columns.items())
    conn.execute(f"create or replace table {schema}.{table} ({ddl})")
    if frame is None:
        return
    unknown = set(frame.columns) - columns.keys()
    if unknown:
        raise KeyError(f"{schema}.{table} has no columns {sorted(unknown)}")
    conn.register("_frame", frame)
    names = ", ".join(frame.columns)
    conn.execute(f"insert into {schema}.{table} ({names}) select {names} from _frame")
    conn.unregister("_frame")
