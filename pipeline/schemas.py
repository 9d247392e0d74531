"""Pandera (polars) models of every input kind, after mapping and casting.

Each model describes the canonical columns of inputs.md with their types and value checks. The
ingest validates eager frames with ``lazy=True`` and sends every failure case to the quarantine.
Row rules that span several columns (one of BSN or client id, end before start, categories per
law, absurd volumes) are Polars expressions in ``ROW_RULES``.
"""

from __future__ import annotations

import datetime as dt

import pandera.polars as pa
import polars as pl

MUNICIPALITY = r"^\d{4}$"
AGB = r"^\d{8}$"
LAWS = ["wmo", "jeugd"]
UNITS = ["01", "04", "14", "16", "82", "83", "84"]
FREQUENCIES = ["1", "2", "4", "6"]
WMO_CATEGORIES = [f"{i:02d}" for i in range(1, 19)]
JEUGD_CATEGORIES = [f"{i:02d}" for i in [*range(31, 39), *range(40, 56)]]
CHANGE_REASONS = [f"{i:02d}" for i in range(1, 15)]
END_REASONS = ["02", "19", "20", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "38", "39"]
RETURN_CODES = r"^[0-9A-Z]{4}( ?, ?[0-9A-Z]{4})*$"
MAX_VOLUME = 99_999_999  # LDT_Volume
MAX_AMOUNT = 9_999_999.99


class _Base(pa.DataFrameModel):
    class Config:
        strict = True  # no column outside the model
        coerce = False


class _Client(_Base):
    client_bsn: str = pa.Field(nullable=True, description="BSN, checked and pseudonymised at ingest")
    client_id: str = pa.Field(nullable=True, description="already pseudonymised client key")


class Allocations(_Client):
    """Toewijzingen (iWmo 301 ToegewezenProduct)."""

    municipality_code: str = pa.Field(str_matches=MUNICIPALITY, description="CBS gemeentecode")
    allocation_number: str = pa.Field(str_length={"min_value": 1, "max_value": 20}, description="ToewijzingNummer")
    law: str = pa.Field(isin=LAWS, description="wmo or jeugd")
    provider_agb: str = pa.Field(str_matches=AGB, description="AGB code of the provider")
    product_category: str = pa.Field(isin=WMO_CATEGORIES + JEUGD_CATEGORIES, description="WMO020/JZ020")
    product_code: str = pa.Field(nullable=True, str_length={"max_value": 5}, description="empty = aspecific")
    decided_on: dt.datetime = pa.Field(description="Toewijzingsdatum + Toewijzingstijd")
    start_date: dt.date = pa.Field(description="Ingangsdatum")
    end_date: dt.date = pa.Field(nullable=True, description="Einddatum; empty = open-ended")
    volume: float = pa.Field(nullable=True, ge=0, le=MAX_VOLUME, description="Omvang/Volume")
    unit: str = pa.Field(nullable=True, isin=UNITS, description="WJ756")
    frequency: str = pa.Field(nullable=True, isin=FREQUENCIES, description="WMO757")
    budget_eur: float = pa.Field(nullable=True, ge=0, le=MAX_AMOUNT, description="budget allocations")
    change_reason: str = pa.Field(nullable=True, isin=CHANGE_REASONS, description="RedenWijziging; 13 = deleted")


class Declarations(_Client):
    """Declaratieregels (iWmo 323 Prestatie)."""

    provider_agb: str = pa.Field(str_matches=AGB, description="Header/Afzender")
    municipality_code: str = pa.Field(str_matches=MUNICIPALITY, description="Header/Ontvanger")
    law: str = pa.Field(isin=LAWS)
    message_id: str = pa.Field(str_length={"min_value": 1, "max_value": 40}, description="BerichtIdentificatie")
    declaration_number: str = pa.Field(str_length={"min_value": 1, "max_value": 40}, description="DeclaratieNummer")
    declaration_period_start: dt.date = pa.Field()
    declaration_period_end: dt.date = pa.Field()
    declared_on: dt.date = pa.Field(description="DeclaratieDagtekening")
    reference_number: str = pa.Field(str_length={"min_value": 1, "max_value": 36}, description="ReferentieNummer")
    previous_reference_number: str = pa.Field(nullable=True, str_length={"max_value": 36},
                                              description="VorigReferentieNummer (credit)")
    allocation_number: str = pa.Field(str_length={"min_value": 1, "max_value": 20}, description="ToewijzingNummer")
    product_category: str = pa.Field(isin=WMO_CATEGORIES + JEUGD_CATEGORIES)
    product_code: str = pa.Field(nullable=True, str_length={"max_value": 5})
    period_start: dt.date = pa.Field(description="ProductPeriode begin")
    period_end: dt.date = pa.Field(description="ProductPeriode end")
    volume: float = pa.Field(ge=0, le=MAX_VOLUME, description="GeleverdVolume")
    unit: str = pa.Field(isin=UNITS)
    tariff_eur: float = pa.Field(nullable=True, ge=0, le=MAX_AMOUNT)
    amount_eur: float = pa.Field(ge=0, le=MAX_AMOUNT, description="IngediendBedrag")
    debit_credit: str = pa.Field(isin=["D", "C"])


class Answers(_Base):
    """Declaratie-antwoorden (iWmo 325): only rejected lines plus declaration-level rows."""

    provider_agb: str = pa.Field(str_matches=AGB)
    law: str = pa.Field(nullable=True, isin=LAWS)
    message_id: str = pa.Field(str_length={"min_value": 1, "max_value": 40}, description="the 323 answered")
    answered_on: dt.date = pa.Field(description="Dagtekening of the 325")
    reference_number: str = pa.Field(nullable=True, str_length={"max_value": 36}, description="empty = the whole declaration")
    return_codes: str = pa.Field(str_matches=RETURN_CODES, description="WJ001 codes, comma separated")


class CareEvents(_Client):
    """Start and stop messages (iWmo 305/307)."""

    municipality_code: str = pa.Field(str_matches=MUNICIPALITY)
    law: str = pa.Field(isin=LAWS)
    allocation_number: str = pa.Field(nullable=True, str_length={"max_value": 20})
    provider_agb: str = pa.Field(str_matches=AGB)
    event: str = pa.Field(isin=["start", "stop"])
    start_date: dt.date = pa.Field()
    end_date: dt.date = pa.Field(nullable=True)
    end_reason: str = pa.Field(nullable=True, isin=END_REASONS, description="WMO588/JZ588; 20 = temporary")
    status: str = pa.Field(isin=["1", "2", "3", "9"], description="COD467; 3 = delete")
    sent_on: dt.date = pa.Field(
        nullable=True, description="Dagtekening of the 305/307 message; empty = lateness not determinable"
    )


class ZvwDeclarations(_Client):
    """Wijkverpleging lines declared to health insurers."""

    insurer_code: str = pa.Field(str_matches=MUNICIPALITY, description="UZOVI code")
    provider_agb: str = pa.Field(str_matches=AGB)
    reference_number: str = pa.Field(str_length={"min_value": 1, "max_value": 36})
    previous_reference_number: str = pa.Field(nullable=True, str_length={"max_value": 36})
    service_start: dt.date = pa.Field()
    service_end: dt.date = pa.Field()
    prestation_code: str = pa.Field(str_length={"min_value": 1, "max_value": 10})
    minutes: float = pa.Field(ge=0, le=44_640, description="at most a month of minutes")
    tariff_eur: float = pa.Field(ge=0, le=1_000, description="per hour")
    amount_eur: float = pa.Field(ge=0, le=MAX_AMOUNT)
    debit_credit: str = pa.Field(isin=["D", "C"])
    submitted_on: dt.datetime = pa.Field()
    status: str = pa.Field(isin=["approved", "rejected", "pending"])


class DeliveredHours(_Client):
    """Hours that providers register per client (optional input)."""

    municipality_code: str = pa.Field(str_matches=MUNICIPALITY)
    law: str = pa.Field(isin=LAWS)
    allocation_number: str = pa.Field(str_length={"min_value": 1, "max_value": 20})
    provider_agb: str = pa.Field(str_matches=AGB)
    week: str = pa.Field(nullable=True, str_matches=r"^\d{4}-W(0[1-9]|[1-4]\d|5[0-3])$")
    month: str = pa.Field(nullable=True, str_matches=r"^\d{4}-(0[1-9]|1[0-2])$")
    hours: float = pa.Field(ge=0, le=24 * 31)


class Products(_Base):
    """Product catalogue with tariffs, bands and rekenfactors."""

    product_code: str = pa.Field(str_length={"min_value": 1, "max_value": 5})
    product_category: str = pa.Field(isin=WMO_CATEGORIES + JEUGD_CATEGORIES)
    law: str = pa.Field(isin=LAWS)
    description: str = pa.Field(nullable=True, str_length={"max_value": 200})
    unit: str = pa.Field(isin=UNITS)
    tariff_eur: float = pa.Field(ge=0, le=MAX_AMOUNT)
    tariff_period: str = pa.Field(isin=["unit", "month", "4weeks"])
    band_min_hours_per_week: float = pa.Field(nullable=True, ge=0, le=168)
    band_max_hours_per_week: float = pa.Field(nullable=True, ge=0, le=168)
    reference_hours_per_week: float = pa.Field(nullable=True, ge=0, le=168)
    rekenfactor: float = pa.Field(nullable=True, gt=0, le=5)
    valid_from: dt.date = pa.Field()
    valid_to: dt.date = pa.Field(nullable=True)


class Ceilings(_Base):
    """Zorgkostenplafonds and urenafspraken per payer and provider."""

    payer_code: str = pa.Field(str_matches=MUNICIPALITY, description="UZOVI code or gemeentecode")
    provider_agb: str = pa.Field(str_matches=AGB)
    year: int = pa.Field(ge=2000, le=2100)
    ceiling_eur: float = pa.Field(gt=0, le=1e10)
    max_hours_per_client_month: float = pa.Field(nullable=True, gt=0, le=744)
    policy: str = pa.Field(isin=["stop_payment", "settle"])
    increase_request_deadline: dt.date = pa.Field(nullable=True)


class Budgets(_Base):
    """Budgets per municipality, year, law and (optionally) product category."""

    municipality_code: str = pa.Field(str_matches=MUNICIPALITY)
    year: int = pa.Field(ge=2000, le=2100)
    law: str = pa.Field(isin=LAWS)
    product_category: str = pa.Field(nullable=True, isin=WMO_CATEGORIES + JEUGD_CATEGORIES)
    budget_eur: float = pa.Field(ge=0, le=1e11)


class CakPeriods(_Base):
    """CAK four-weekly periods (optional; generated by rule A otherwise)."""

    year: int = pa.Field(ge=2000, le=2100)
    period: int = pa.Field(ge=1, le=13)
    start_date: dt.date = pa.Field()
    end_date: dt.date = pa.Field()


class Organisations(_Base):
    """Names of municipalities, insurers and providers for the reports (optional; overrides the
    public names the project ships)."""

    kind: str = pa.Field(isin=["municipality", "insurer", "provider"], description="what the code names")
    code: str = pa.Field(str_length={"min_value": 1, "max_value": 12}, description="gemeentecode, UZOVI or AGB code")
    name: str = pa.Field(str_length={"min_value": 1, "max_value": 200}, description="the name the reports show")


MODELS: dict[str, type[_Base]] = {
    "allocations": Allocations,
    "declarations": Declarations,
    "answers": Answers,
    "care_events": CareEvents,
    "zvw_declarations": ZvwDeclarations,
    "delivered_hours": DeliveredHours,
    "products": Products,
    "ceilings": Ceilings,
    "budgets": Budgets,
    "cak_periods": CakPeriods,
    "organisations": Organisations,
}
REFERENCE_KINDS = ("products", "ceilings", "budgets", "cak_periods", "organisations")
INBOX_KINDS = ("allocations", "declarations", "answers", "care_events", "zvw_declarations", "delivered_hours")

# Columns that may be absent from a file (optional in inputs.md); all others are required columns.
OPTIONAL_COLUMNS: dict[str, set[str]] = {
    "allocations": {"client_bsn", "client_id", "product_code", "end_date", "volume", "unit", "frequency", "budget_eur", "change_reason"},
    "declarations": {"client_bsn", "client_id", "previous_reference_number", "tariff_eur", "product_code"},
    "answers": {"law", "reference_number"},
    "care_events": {"client_bsn", "client_id", "end_date", "end_reason", "allocation_number", "sent_on"},
    "zvw_declarations": {"client_bsn", "client_id", "previous_reference_number"},
    "delivered_hours": {"client_bsn", "client_id", "week", "month"},
    "products": {"description", "band_min_hours_per_week", "band_max_hours_per_week", "reference_hours_per_week", "rekenfactor", "valid_to"},
    "ceilings": {"max_hours_per_client_month", "increase_request_deadline"},
    "budgets": {"product_category"},
    "cak_periods": set(),
    "organisations": set(),
}


def dtypes(kind: str) -> dict[str, pl.DataType]:
    """Column → Polars dtype of a kind, read off its pandera model."""
    schema = MODELS[kind].to_schema()
    return {name: col.dtype.type for name, col in schema.columns.items()}


def _hours_equivalent() -> pl.Expr:
    factor = (
        pl.when(pl.col("unit") == "01").then(1 / 60)
        .when(pl.col("unit") == "04").then(1.0)
        .when(pl.col("unit") == "16").then(4.0)
        .when(pl.col("unit") == "14").then(24.0)
    )
    return pl.col("volume") * factor


def _days(start: str, end: str) -> pl.Expr:
    return (pl.col(end) - pl.col(start)).dt.total_days() + 1


def _client_rules() -> list[tuple[str, str, pl.Expr]]:
    from pipeline.privacy import elfproef_expr

    return [
        ("missing_client", "neither client_bsn nor client_id is filled",
         pl.col("client_bsn").is_null() & pl.col("client_id").is_null()),
        ("invalid_bsn", "client_bsn fails the elfproef (BSN not shown)",
         pl.col("client_bsn").is_not_null() & ~elfproef_expr("client_bsn")),
    ]


def _category_rule() -> tuple[str, str, pl.Expr]:
    return (
        "category_not_in_law", "product_category is not in the code list of the law (WMO020 01-18, JZ020 31-55)",
        ((pl.col("law") == "wmo") & ~pl.col("product_category").is_in(WMO_CATEGORIES))
        | ((pl.col("law") == "jeugd") & ~pl.col("product_category").is_in(JEUGD_CATEGORIES)),
    )


def row_rules(kind: str, today: dt.date) -> list[tuple[str, str, pl.Expr]]:
    """Multi-column rules of a kind: (reason_code, reason_text, expression true where broken)."""
    future = pl.lit(today)
    if kind == "allocations":
        return [
            *_client_rules(),
            _category_rule(),
            ("end_before_start", "end_date lies before start_date", pl.col("end_date") < pl.col("start_date")),
            ("date_in_future", "decided_on lies in the future", pl.col("decided_on").dt.date() > future),
            ("volume_without_unit", "volume is given without unit and frequency",
             pl.col("volume").is_not_null() & (pl.col("unit").is_null() | pl.col("frequency").is_null())),
        ]
    if kind == "declarations":
        return [
            *_client_rules(),
            _category_rule(),
            ("end_before_start", "period_end lies before period_start", pl.col("period_end") < pl.col("period_start")),
            ("end_before_start", "declaration_period_end lies before declaration_period_start",
             pl.col("declaration_period_end") < pl.col("declaration_period_start")),
            ("date_in_future", "declared_on or period_start lies in the future",
             (pl.col("declared_on") > future) | (pl.col("period_start") > future)),
            ("absurd_volume", "volume exceeds 24 hours a day over the product period",
             _hours_equivalent() > 24 * _days("period_start", "period_end")),
            ("credit_without_reference", "a credit line without previous_reference_number",
             (pl.col("debit_credit") == "C") & pl.col("previous_reference_number").is_null()),
        ]
    if kind == "answers":
        return [("date_in_future", "answered_on lies in the future", pl.col("answered_on") > future)]
    if kind == "care_events":
        return [
            *_client_rules(),
            ("end_before_start", "end_date lies before start_date", pl.col("end_date") < pl.col("start_date")),
            ("date_in_future", "start_date lies in the future", pl.col("start_date") > future),
            ("stop_without_end", "a stop event needs end_date and end_reason",
             (pl.col("event") == "stop") & (pl.col("end_date").is_null() | pl.col("end_reason").is_null())),
        ]
    if kind == "zvw_declarations":
        return [
            *_client_rules(),
            ("end_before_start", "service_end lies before service_start", pl.col("service_end") < pl.col("service_start")),
            ("date_in_future", "service_start or submitted_on lies in the future",
             (pl.col("service_start") > future) | (pl.col("submitted_on").dt.date() > future)),
            ("absurd_volume", "minutes exceed 24 hours a day over the service period",
             pl.col("minutes") > 24 * 60 * _days("service_start", "service_end")),
            ("credit_without_reference", "a credit line without previous_reference_number",
             (pl.col("debit_credit") == "C") & pl.col("previous_reference_number").is_null()),
        ]
    if kind == "delivered_hours":
        return [
            *_client_rules(),
            ("missing_period", "exactly one of week and month must be filled",
             pl.col("week").is_null() == pl.col("month").is_null()),
        ]
    if kind == "products":
        return [
            ("end_before_start", "valid_to lies before valid_from", pl.col("valid_to") < pl.col("valid_from")),
            ("band_inverted", "band_min_hours_per_week exceeds band_max_hours_per_week",
             pl.col("band_min_hours_per_week") > pl.col("band_max_hours_per_week")),
        ]
    if kind == "cak_periods":
        return [("end_before_start", "end_date lies before start_date", pl.col("end_date") < pl.col("start_date"))]
    return []
