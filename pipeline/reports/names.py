"""Names for the codes the reports show: municipalities, insurers, providers, product categories,
return codes and units.

Three sources, the first that knows a code wins: the user's ``organisations`` reference table
(``staging.organisations``: kind, code, name), the public lists shipped beside this module
(``reference/``: every CBS gemeentecode, and the iWmo/iJw 3.2 code lists WJ001, WMO020/JZ020 and
WJ756), and finally the code itself. A code is never shown as a blank.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import polars as pl

REFERENCE = Path(__file__).parent / "reference"
KINDS = ("municipality", "insurer", "provider", "product_category", "return_code", "unit")


def _shipped() -> pl.DataFrame:
    """The public names shipped with the project, as (kind, code, name)."""
    read = lambda name: pl.read_csv(REFERENCE / name, schema_overrides={"code": pl.String}, infer_schema=False)  # noqa: E731
    categories = read("product_categories.csv")
    return pl.concat([
        read("municipalities.csv").select(pl.lit("municipality").alias("kind"), "code", "name"),
        # Wmo (01-18) and Jeugd (31-55) categories do not overlap: one code, one name
        categories.select(pl.lit("product_category").alias("kind"), "code", "name").unique("code", keep="first"),
        read("return_codes.csv").select(pl.lit("return_code").alias("kind"), "code", "name"),
        read("units.csv").select(pl.lit("unit").alias("kind"), "code", "name"),
    ])


@dataclasses.dataclass(frozen=True)
class Names:
    """Code -> name per kind. ``Names.load(user)`` merges a user's organisations over the shipped
    names; ``Names.shipped()`` has the public ones only."""

    table: pl.DataFrame  # kind, code, name: one row per kind and code

    @classmethod
    def load(cls, organisations: pl.DataFrame | None = None) -> Names:
        shipped = _shipped()
        if organisations is None or organisations.is_empty():
            return cls(shipped)
        user = organisations.select(
            pl.col("kind").cast(pl.String), pl.col("code").cast(pl.String), pl.col("name").cast(pl.String)
        ).drop_nulls()
        return cls(pl.concat([user, shipped]).unique(["kind", "code"], keep="first", maintain_order=True))

    @classmethod
    def shipped(cls) -> Names:
        return cls.load(None)

    def name(self, kind: str, code: str | None) -> str:
        """The name of one code, or the code itself when no name is known."""
        if code is None:
            return ""
        hit = self.table.filter(pl.col("kind") == kind, pl.col("code") == code)
        return hit["name"][0] if hit.height else code

    def label(self, kind: str, code: str | None) -> str:
        """'Name (code)', or the code alone when no name is known."""
        if code is None:
            return ""
        name = self.name(kind, code)
        return code if name == code else f"{name} ({code})"

    def mapping(self, kind: str) -> dict[str, str]:
        frame = self.table.filter(pl.col("kind") == kind)
        return dict(zip(frame["code"].to_list(), frame["name"].to_list()))

    def expr(self, kind: str, column: str, *, with_code: bool = True) -> pl.Expr:
        """A column expression: 'Name (code)' (or the name alone), the code where no name is known,
        null where the code is null."""
        code = pl.col(column).cast(pl.String)
        name = code.replace_strict(self.mapping(kind), default=None, return_dtype=pl.String)
        if with_code:
            shown = pl.when(name.is_null()).then(code).otherwise(pl.concat_str([name, pl.lit(" ("), code, pl.lit(")")]))
        else:
            shown = pl.coalesce(name, code)
        return shown

    def add(self, frame: pl.DataFrame, kind: str, column: str, alias: str | None = None, *,
            with_code: bool = True) -> pl.DataFrame:
        """``frame`` with a ``<column>_name`` column (or ``alias``)."""
        if column not in frame.columns:
            return frame
        return frame.with_columns(self.expr(kind, column, with_code=with_code).alias(alias or f"{column}_name"))


# the columns whose codes the pages show by name, and the kind of each
NAMED_COLUMNS: dict[str, str] = {
    "municipality_code": "municipality",
    "provider_agb": "provider",
    "payer_code": "payer",  # a municipality or an insurer: both are tried
    "insurer_code": "insurer",
    "product_category": "product_category",
    "product_code": "product",
    "suggested_product_code": "product",
    "return_code": "return_code",
    "unit": "unit",
}


def with_names(frame: pl.DataFrame, names: Names) -> pl.DataFrame:
    """``frame`` with a ``<column>_name`` beside every coded column it has (NAMED_COLUMNS)."""
    for column, kind in NAMED_COLUMNS.items():
        if column not in frame.columns or f"{column}_name" in frame.columns:
            continue
        if kind == "payer":
            insurer = names.expr("insurer", column)
            municipal = names.expr("municipality", column)
            frame = frame.with_columns(
                pl.when(insurer != pl.col(column)).then(insurer).otherwise(municipal).alias(f"{column}_name"))
        else:
            frame = names.add(frame, kind, column)
    return frame
