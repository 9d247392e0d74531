"""Write canonical frames as iWmo / iJw 3.2 XML messages (301, 305, 307, 323, 325).

Used by the demo generator and the tests: the messages it writes validate against the XSDs under
``xsd/`` and read back (``pipeline.ingest.iwmo.read_message``) to the same canonical rows.

The XML of every line is built with Polars string expressions over the whole frame; Python only
loops over messages to add the header and write the file. Elements the canonical columns do not
carry but the XSD requires (client name, birth date, gender, contact) get fixed synthetic values:
the name is "Synthetisch", the birth date 1970-01-01.

Grouping:
- allocations -> 301: one message per municipality x provider x client, a snapshot of that client's
  allocations; when the frame holds several versions of an allocation, the n-th version of each
  allocation goes into the n-th message of that client (ordered by decided_on);
- declarations -> 323: one message per message_id;
- answers -> 325: one message per answered message_id (needs ``declarations=`` to echo the rejected
  Prestatie fields). Its declaration-level row gives the header and DeclaratieAntwoord codes:
  a row with 0001 becomes a header-only technical refusal, otherwise the header reads 0200 and the
  DeclaratieAntwoord the remaining codes ('0200,8001' -> 0200 + 8001, '0200,9333' -> 0200 + 9333).
  Lines of a client whose every declared line is rejected with '0233,<code>' are written as a
  client-level error (client RetourCode <code>, each Prestatie 0233);
- care_events -> 305 (event 'start') and 307 (event 'stop'): one message per municipality x
  provider x client x event; repeated events for the same allocation and start date (a deletion
  followed by a new delivery) go into successive messages.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import polars as pl

from pipeline.ingest.iwmo import (
    BERICHT_CODES,
    CANONICAL_COLUMNS,
    STANDARDS,
    base_namespace,
    message_namespace,
)

__all__ = ["write_messages"]

_EURO_UNIT = "83"
_SYNTHETIC_BIRTH_DATE = "1970-01-01"
_SYNTHETIC_SURNAME = "Synthetisch"
_PAD = {
    "municipality_code": 4,
    "provider_agb": 8,
    "product_category": 2,
    "unit": 2,
    "change_reason": 2,
    "end_reason": 2,
}


def write_messages(
    kind: str,
    frame: pl.DataFrame,
    out_dir: Path,
    *,
    law: str,
    declarations: pl.DataFrame | None = None,
) -> list[Path]:
    """Write the canonical rows of ``kind`` as XML messages of ``law`` into ``out_dir``.

    Values may be typed or text; ``client_bsn`` holds raw BSNs. Returns the written paths.
    """
    if law not in STANDARDS:
        raise ValueError(f"law must be 'wmo' or 'jeugd', not {law!r}")
    if kind not in CANONICAL_COLUMNS:
        raise ValueError(f"unknown kind {kind!r}")
    _check_law(frame, law)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if frame.height == 0:
        return []
    if kind == "allocations":
        return _write_301(frame, out_dir, law)
    if kind == "declarations":
        return _write_323(frame, out_dir, law)
    if kind == "answers":
        if declarations is None:
            raise ValueError("answers need declarations= to echo the rejected Prestatie fields")
        _check_law(declarations, law)
        return _write_325(frame, declarations, out_dir, law)
    return _write_305_307(frame, out_dir, law)


# --- frame preparation --------------------------------------------------------------------------


def _check_law(frame: pl.DataFrame, law: str) -> None:
    if "law" in frame.columns:
        other = frame.filter(pl.col("law").cast(pl.Utf8) != law).height
        if other:
            raise ValueError(f"{other} rows have a law other than {law!r}; write each law separately")


def _as_text(frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """The given columns as trimmed text (empty -> null); dates as YYYY-MM-DD."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"missing columns: {', '.join(missing)}")
    exprs = []
    for name in columns:
        dtype = frame.schema[name]
        if dtype == pl.Date:
            expr = pl.col(name).dt.strftime("%Y-%m-%d")
        elif isinstance(dtype, pl.Datetime):
            expr = pl.col(name).dt.strftime("%Y-%m-%d %H:%M:%S")
        else:
            expr = pl.col(name).cast(pl.Utf8)
        expr = expr.str.strip_chars()
        expr = pl.when(expr == "").then(None).otherwise(expr)
        if name in _PAD:
            expr = expr.str.zfill(_PAD[name])
        exprs.append(expr.alias(name))
    return frame.select(exprs)


def _require(frame: pl.DataFrame, columns: list[str], what: str) -> None:
    counts = frame.select(pl.col(columns).null_count()).row(0, named=True)
    empty = [f"{name} ({n} rows)" for name, n in counts.items() if n]
    if empty:
        raise ValueError(f"{what}: required values missing: {', '.join(empty)}")


def _cents(name: str) -> pl.Expr:
    """Euro text/number -> whole eurocents."""
    return (pl.col(name).cast(pl.Float64) * 100).round(0).cast(pl.Int64)


def _volume_xml_value(frame: pl.DataFrame) -> pl.DataFrame:
    """Volume as the XML integer: eurocents for Eenheid 83, else a whole number of units."""
    volume = pl.col("volume").cast(pl.Float64)
    frame = frame.with_columns(
        pl.when(pl.col("unit") == _EURO_UNIT)
        .then((volume * 100).round(0))
        .otherwise(volume)
        .alias("_volume")
    )
    fractional = frame.filter((pl.col("_volume") - pl.col("_volume").round(0)).abs() > 1e-9).height
    if fractional:
        raise ValueError(
            f"{fractional} volumes are not whole numbers of their unit (LDT_Volume has no decimals)"
        )
    return frame.with_columns(pl.col("_volume").round(0).cast(pl.Int64).cast(pl.Utf8))


def _escape(frame: pl.DataFrame) -> pl.DataFrame:
    """XML-escape every text column."""
    return frame.with_columns(
        pl.col(pl.Utf8)
        .str.replace_all("&", "&amp;", literal=True)
        .str.replace_all("<", "&lt;", literal=True)
        .str.replace_all(">", "&gt;", literal=True)
    )


def _el(tag: str, expr: pl.Expr | str) -> pl.Expr:
    """<tag>value</tag>; null when the value is null."""
    value = pl.col(expr) if isinstance(expr, str) else expr
    return pl.concat_str([pl.lit(f"<{tag}>"), value, pl.lit(f"</{tag}>")])


def _opt(tag: str, expr: pl.Expr | str) -> pl.Expr:
    """<tag>value</tag>, or nothing when the value is null."""
    return _el(tag, expr).fill_null("")


def _cents_text(expr: pl.Expr) -> pl.Expr:
    return expr.cast(pl.Int64).cast(pl.Utf8)


def _codes_xml(m: str, codes: list[str]) -> str:
    inner = "".join(f"<{m}:RetourCode>{c}</{m}:RetourCode>" for c in codes)
    return f"<{m}:RetourCodes>{inner}</{m}:RetourCodes>"


# --- message frame ------------------------------------------------------------------------------


class _Names:
    """Prefixes, namespaces and header values of one message type."""

    def __init__(self, law: str, code: str):
        _, stem, base_prefix, _, xsd_version = STANDARDS[law]
        self.law, self.code, self.stem = law, code, stem
        self.m = f"{'wmo' if law == 'wmo' else 'jw'}{code}"
        self.b = base_prefix
        self.mns, self.bns = message_namespace(law, code), base_namespace(law)
        self.bericht_code = BERICHT_CODES[(law, code)]
        self.xsd_version = xsd_version

    def xsd_versie(self, tag: str) -> str:
        m, b, v = self.m, self.b, self.xsd_version
        return (
            f"<{m}:{tag}><{b}:BasisschemaXsdVersie>{v}</{b}:BasisschemaXsdVersie>"
            f"<{b}:BerichtXsdVersie>{v}</{b}:BerichtXsdVersie></{m}:{tag}>"
        )

    def header(self, sender: str, receiver: str, message_id: str, sent_on: str, extra: str = "") -> str:
        m, b = self.m, self.b
        return (
            f"<{m}:Header>\n"
            f"<{m}:BerichtCode>{self.bericht_code}</{m}:BerichtCode>\n"
            f"<{m}:BerichtVersie>3</{m}:BerichtVersie>\n"
            f"<{m}:BerichtSubversie>2</{m}:BerichtSubversie>\n"
            f"<{m}:Afzender>{sender}</{m}:Afzender>\n"
            f"<{m}:Ontvanger>{receiver}</{m}:Ontvanger>\n"
            f"<{m}:BerichtIdentificatie><{b}:Identificatie>{message_id}</{b}:Identificatie>"
            f"<{b}:Dagtekening>{sent_on}</{b}:Dagtekening></{m}:BerichtIdentificatie>\n"
            f"{self.xsd_versie('XsdVersie')}\n{extra}"
            f"</{m}:Header>\n"
        )

    def document(self, header: str, body: str) -> str:
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<{self.m}:Bericht xmlns:{self.b}="{self.bns}" xmlns:{self.m}="{self.mns}">\n'
            f"{header}{body}</{self.m}:Bericht>\n"
        )

    def client_identity(self, bsn: str, full_name: bool) -> str:
        """Bsn plus the synthetic personal elements the XSD requires."""
        m, b = self.m, self.b
        surname = (
            f"<{b}:Geslachtsnaam><{b}:Achternaam>{_SYNTHETIC_SURNAME}</{b}:Achternaam>"
            f"</{b}:Geslachtsnaam>"
        )
        name = surname + (f"<{b}:NaamGebruik>1</{b}:NaamGebruik>" if full_name else "")
        return (
            f"<{m}:Bsn>{bsn}</{m}:Bsn>\n"
            f"<{m}:Geboortedatum><{b}:Datum>{_SYNTHETIC_BIRTH_DATE}</{b}:Datum></{m}:Geboortedatum>\n"
            f"<{m}:Geslacht>0</{m}:Geslacht>\n"
            f"<{m}:Naam>{name}</{m}:Naam>\n"
        )


def _message_id(letter: str, *parts: object) -> str:
    """A deterministic 12-character Identificatie, derived without any BSN."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).hexdigest()
    return letter + digest[:11].upper()


_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def _write(out_dir: Path, names: _Names, agb: str, message_id: str, xml: str) -> Path:
    path = out_dir / f"{names.stem}{names.code}_{agb}_{_UNSAFE.sub('_', message_id)}.xml"
    path.write_text(xml, encoding="utf-8")
    return path


# --- 301 ----------------------------------------------------------------------------------------


def _write_301(frame: pl.DataFrame, out_dir: Path, law: str) -> list[Path]:
    n = _Names(law, "301")
    m, b = n.m, n.b
    cols = CANONICAL_COLUMNS["allocations"]
    df = _as_text(frame, [c for c in cols if c != "law"])
    _require(
        df,
        ["municipality_code", "allocation_number", "client_bsn", "provider_agb", "decided_on",
         "start_date"],
        "allocations",
    )
    with_volume = df.filter(pl.col("volume").is_not_null())
    _require(with_volume, ["unit", "frequency"], "allocations with a volume")
    df = _volume_xml_value(df).with_columns(
        _cents("budget_eur").cast(pl.Utf8).alias("_budget"),
        pl.col("decided_on").str.slice(0, 10).alias("_date"),
        pl.col("decided_on").str.slice(11).str.strip_chars().alias("_time"),
    )
    df = df.with_columns(
        pl.when(pl.col("_time") == "").then(pl.lit("00:00:00")).otherwise(pl.col("_time")).alias("_time")
    )
    client = ["municipality_code", "provider_agb", "client_bsn"]
    df = (
        df.with_row_index("_row")
        .sort(["decided_on", "_row"])
        .with_columns(pl.int_range(pl.len()).over([*client, "allocation_number"]).alias("_version"))
        .sort("_row")
    )
    df = _escape(df)
    product = pl.when(pl.col("product_category").is_not_null()).then(
        pl.concat_str(
            [
                pl.lit(f"<{m}:Product>"),
                _el(f"{b}:Categorie", "product_category"),
                _opt(f"{b}:Code", "product_code"),
                pl.lit(f"</{m}:Product>"),
            ]
        )
    ).otherwise(pl.lit(""))
    omvang = pl.when(pl.col("_volume").is_not_null()).then(
        pl.concat_str(
            [
                pl.lit(f"<{m}:Omvang>"),
                _el(f"{b}:Volume", "_volume"),
                _el(f"{b}:Eenheid", "unit"),
                _el(f"{b}:Frequentie", "frequency"),
                pl.lit(f"</{m}:Omvang>"),
            ]
        )
    ).otherwise(pl.lit(""))
    line = pl.concat_str(
        [
            pl.lit(f"<{m}:ToegewezenProduct>"),
            _el(f"{m}:ToewijzingNummer", "allocation_number"),
            product,
            _el(f"{m}:Toewijzingsdatum", "_date"),
            _el(f"{m}:Toewijzingstijd", "_time"),
            _el(f"{m}:Ingangsdatum", "start_date"),
            _opt(f"{m}:Einddatum", "end_date"),
            _opt(f"{m}:RedenWijziging", "change_reason"),
            omvang,
            _opt(f"{m}:Budget", "_budget"),
            pl.lit(f"</{m}:ToegewezenProduct>"),
        ]
    )
    messages = (
        df.with_columns(line.alias("_xml"))
        .group_by([*client, "_version"], maintain_order=True)
        .agg(
            pl.col("_xml").str.join("\n"),
            pl.col("_date").max().alias("_sent_on"),
            pl.col("allocation_number").sort().str.join(",").alias("_key"),
        )
    )
    paths = []
    for muni, agb, bsn, version, body, sent_on, key in messages.iter_rows():
        message_id = _message_id("T", law, muni, agb, key, version)
        client_xml = (
            f"<{m}:Client>\n{n.client_identity(bsn, full_name=True)}"
            f"<{m}:Contactgegevens><{m}:Contact><{m}:Soort>01</{m}:Soort></{m}:Contact>"
            f"</{m}:Contactgegevens>\n"
            f"<{m}:ToegewezenProducten>\n{body}\n</{m}:ToegewezenProducten>\n</{m}:Client>\n"
        )
        xml = n.document(n.header(muni, agb, message_id, sent_on), client_xml)
        paths.append(_write(out_dir, n, agb, message_id, xml))
    return paths


# --- 305 / 307 ----------------------------------------------------------------------------------


def _write_305_307(frame: pl.DataFrame, out_dir: Path, law: str) -> list[Path]:
    # sent_on (the Dagtekening) is optional: without it a message is dated on its event's day
    cols = [c for c in CANONICAL_COLUMNS["care_events"] if c not in ("law", "sent_on")]
    df = _as_text(frame, cols + (["sent_on"] if "sent_on" in frame.columns else []))
    _require(
        df,
        ["municipality_code", "provider_agb", "client_bsn", "event", "start_date", "status"],
        "care_events",
    )
    unknown = df.filter(~pl.col("event").is_in(["start", "stop"])).height
    if unknown:
        raise ValueError(f"care_events: {unknown} rows have an event other than 'start'/'stop'")
    _require(df.filter(pl.col("event") == "stop"), ["end_date", "end_reason"], "stop events")
    key = ["municipality_code", "provider_agb", "client_bsn", "event"]
    df = df.with_columns(
        pl.int_range(pl.len()).over([*key, "allocation_number", "start_date"]).alias("_version")
    )
    df = _escape(df)
    paths = []
    for event, code in (("start", "305"), ("stop", "307")):
        n = _Names(law, code)
        m = n.m
        part = df.filter(pl.col("event") == event)
        if part.height == 0:
            continue
        record = "StartProduct" if code == "305" else "StopProduct"
        stop_fields = (
            [_el(f"{m}:RedenBeeindiging", "end_reason"), _el(f"{m}:Einddatum", "end_date")]
            if code == "307"
            else []
        )
        line = pl.concat_str(
            [
                pl.lit(f"<{m}:{record}>"),
                _opt(f"{m}:ToewijzingNummer", "allocation_number"),
                _el(f"{m}:Begindatum", "start_date"),
                *stop_fields,
                _el(f"{m}:StatusAanlevering", "status"),
                pl.lit(f"</{m}:{record}>"),
            ]
        )
        sent_on = pl.col("start_date" if code == "305" else "end_date").max()
        if "sent_on" in df.columns:
            sent_on = pl.coalesce(pl.col("sent_on").max(), sent_on)
        messages = (
            part.with_columns(line.alias("_xml"))
            .group_by([*key, "_version"], maintain_order=True)
            .agg(
                pl.col("_xml").str.join("\n"),
                sent_on.alias("_sent_on"),
                pl.concat_str([pl.col("allocation_number").fill_null(""), pl.col("start_date")])
                .sort()
                .str.join(",")
                .alias("_key"),
            )
        )
        for muni, agb, bsn, _, version, body, day, ident in messages.iter_rows():
            message_id = _message_id("S" if code == "305" else "E", law, muni, agb, ident, version)
            client_xml = (
                f"<{m}:Client>\n{n.client_identity(bsn, full_name=False)}"
                f"<{m}:{record}en>\n{body}\n</{m}:{record}en>\n</{m}:Client>\n"
            )
            xml = n.document(n.header(agb, muni, message_id, day), client_xml)
            paths.append(_write(out_dir, n, agb, message_id, xml))
    return paths


# --- 323 ----------------------------------------------------------------------------------------

_DECLARATION_REQUIRED = [
    "provider_agb", "municipality_code", "message_id", "declaration_number",
    "declaration_period_start", "declaration_period_end", "declared_on", "reference_number",
    "client_bsn", "allocation_number", "product_category", "product_code", "period_start",
    "period_end", "volume", "unit", "amount_eur", "debit_credit",
]
_MESSAGE_LEVEL = [
    "provider_agb", "municipality_code", "declaration_number", "declaration_period_start",
    "declaration_period_end", "declared_on",
]


def _prepare_declarations(frame: pl.DataFrame) -> pl.DataFrame:
    cols = [c for c in CANONICAL_COLUMNS["declarations"] if c != "law"]
    df = _as_text(frame, cols)
    _require(df, _DECLARATION_REQUIRED, "declarations")
    too_long = df.filter(pl.col("message_id").str.len_chars() > 12).height
    if too_long:
        raise ValueError(f"declarations: {too_long} rows have a message_id longer than 12 characters")
    mixed = (
        df.group_by("message_id")
        .agg(pl.col(_MESSAGE_LEVEL).n_unique())
        .filter(pl.any_horizontal(pl.col(_MESSAGE_LEVEL) > 1))
    )
    if mixed.height:
        raise ValueError(
            f"declarations: {mixed.height} message_ids mix providers, municipalities, declaration "
            "numbers, periods or declaration dates"
        )
    df = _volume_xml_value(df).with_columns(
        _cents("tariff_eur").alias("_tariff"),
        _cents("amount_eur").alias("_amount"),
    )
    return df.with_columns(
        pl.when(pl.col("debit_credit") == "C").then(-pl.col("_amount")).otherwise(pl.col("_amount"))
        .alias("_signed")
    )


def _prestatie_fields(m: str, b: str) -> list[pl.Expr]:
    """The Prestatie children shared by the 323 and the 325, in XSD order."""
    return [
        pl.lit(f"<{m}:ProductReferentie>"),
        _el(f"{b}:ReferentieNummer", "reference_number"),
        _opt(f"{b}:VorigReferentieNummer", "previous_reference_number"),
        pl.lit(f"</{m}:ProductReferentie>"),
        _el(f"{m}:ToewijzingNummer", "allocation_number"),
        _el(f"{m}:ProductCategorie", "product_category"),
        _el(f"{m}:ProductCode", "product_code"),
        pl.lit(f"<{m}:ProductPeriode>"),
        _el(f"{b}:Begindatum", "period_start"),
        _el(f"{b}:Einddatum", "period_end"),
        pl.lit(f"</{m}:ProductPeriode>"),
        _el(f"{m}:GeleverdVolume", "_volume"),
        _el(f"{m}:Eenheid", "unit"),
        _opt(f"{m}:ProductTarief", _cents_text(pl.col("_tariff"))),
        pl.lit(f"<{m}:IngediendBedrag>"),
        _el(f"{b}:Bedrag", _cents_text(pl.col("_amount"))),
        _el(f"{b}:DebetCredit", "debit_credit"),
        pl.lit(f"</{m}:IngediendBedrag>"),
    ]


def _total(m: str, b: str, tag: str, signed_cents: int) -> str:
    dc = "D" if signed_cents >= 0 else "C"
    return (
        f"<{m}:{tag}><{b}:TotaalBedrag>{abs(signed_cents)}</{b}:TotaalBedrag>"
        f"<{b}:DebetCredit>{dc}</{b}:DebetCredit></{m}:{tag}>"
    )


def _write_323(frame: pl.DataFrame, out_dir: Path, law: str) -> list[Path]:
    n = _Names(law, "323")
    m, b = n.m, n.b
    df = _escape(_prepare_declarations(frame))
    line = pl.concat_str(
        [pl.lit(f"<{m}:Prestatie>"), *_prestatie_fields(m, b), pl.lit(f"</{m}:Prestatie>")]
    )
    clients = (
        df.with_columns(line.alias("_xml"))
        .group_by(["message_id", "client_bsn"], maintain_order=True)
        .agg(pl.col("_xml").str.join("\n"), pl.col(_MESSAGE_LEVEL).first(), pl.col("_signed").sum())
        .with_columns(
            pl.concat_str(
                [
                    pl.lit(f"<{m}:Client>\n"),
                    _el(f"{m}:Bsn", "client_bsn"),
                    pl.lit(f"\n<{m}:Prestaties>\n"),
                    pl.col("_xml"),
                    pl.lit(f"\n</{m}:Prestaties>\n</{m}:Client>"),
                ]
            ).alias("_xml")
        )
    )
    messages = clients.group_by("message_id", maintain_order=True).agg(
        pl.col("_xml").str.join("\n"), pl.col(_MESSAGE_LEVEL).first(), pl.col("_signed").sum()
    )
    paths = []
    for row in messages.iter_rows(named=True):
        body = (
            f"<{m}:Declaratie>\n"
            f"<{m}:DeclaratieNummer>{row['declaration_number']}</{m}:DeclaratieNummer>\n"
            f"<{m}:DeclaratiePeriode><{b}:Begindatum>{row['declaration_period_start']}</{b}:Begindatum>"
            f"<{b}:Einddatum>{row['declaration_period_end']}</{b}:Einddatum></{m}:DeclaratiePeriode>\n"
            f"<{m}:DeclaratieDagtekening>{row['declared_on']}</{m}:DeclaratieDagtekening>\n"
            f"{_total(m, b, 'TotaalIngediendBedrag', row['_signed'])}\n"
            f"<{m}:Clienten>\n{row['_xml']}\n</{m}:Clienten>\n</{m}:Declaratie>\n"
        )
        header = n.header(
            row["provider_agb"], row["municipality_code"], row["message_id"], row["declared_on"]
        )
        paths.append(_write(out_dir, n, row["provider_agb"], row["message_id"], n.document(header, body)))
    return paths


# --- 325 ----------------------------------------------------------------------------------------


def _write_325(
    frame: pl.DataFrame, declarations: pl.DataFrame, out_dir: Path, law: str
) -> list[Path]:
    n = _Names(law, "325")
    m, b = n.m, n.b
    answers = _as_text(frame, [c for c in CANONICAL_COLUMNS["answers"] if c != "law"])
    _require(answers, ["provider_agb", "message_id", "answered_on", "return_codes"], "answers")
    answers = answers.with_columns(
        pl.col("return_codes").str.replace_all(" ", "", literal=True).str.split(",").alias("_codes")
    )
    lines = _prepare_declarations(
        declarations.filter(pl.col("message_id").cast(pl.Utf8).is_in(answers["message_id"].implode()))
    )

    top = answers.filter(pl.col("reference_number").is_null())
    per_message = top.group_by("message_id").len().filter(pl.col("len") != 1)
    answered = answers.select(pl.col("message_id").unique())
    if per_message.height or top.height != answered.height:
        raise ValueError(
            "answers: every answered message_id needs exactly one declaration-level row "
            "(reference_number empty)"
        )
    declared = lines.group_by("message_id", maintain_order=True).agg(
        pl.col(_MESSAGE_LEVEL).first(), pl.col("_signed").sum().alias("_declared")
    )
    unknown = answered.join(declared, on="message_id", how="anti").height
    if unknown:
        raise ValueError(f"answers: {unknown} answered message_ids have no lines in declarations")

    rejected = answers.filter(pl.col("reference_number").is_not_null()).join(
        lines, on=["message_id", "reference_number"], how="left", suffix="_declared"
    )
    if rejected.filter(pl.col("client_bsn").is_null()).height:
        raise ValueError("answers: rejected lines must name a reference_number of the declaration")
    lines_per_client = lines.group_by(["message_id", "client_bsn"]).len("_declared_lines")
    rejected = (
        rejected.join(lines_per_client, on=["message_id", "client_bsn"], how="left")
        .with_columns(
            pl.col("_codes").list.first().alias("_first"),
            pl.col("_codes").list.slice(1).list.join(",").alias("_extra"),
        )
        .with_columns(
            (
                (pl.col("_first") == "0233").all().over(["message_id", "client_bsn"])
                & (pl.col("_extra") != "").all().over(["message_id", "client_bsn"])
                & (pl.col("_extra").n_unique().over(["message_id", "client_bsn"]) == 1)
                & (pl.len().over(["message_id", "client_bsn"]) == pl.col("_declared_lines"))
            ).alias("_client_error")
        )
        .with_columns(
            pl.when(pl.col("_client_error"))
            .then(pl.concat_list([pl.lit("0233")]))
            .otherwise(pl.col("_codes"))
            .alias("_line_codes"),
            pl.when(pl.col("_client_error"))
            .then(pl.col("_codes").list.slice(1))
            .otherwise(pl.concat_list([pl.lit("0200")]))
            .alias("_client_codes"),
        )
    )
    rejected = _escape(rejected)
    def codes_xml(name: str) -> pl.Expr:
        """<RetourCodes> with one <RetourCode> per element of a list column."""
        code = pl.concat_str(
            [pl.lit(f"<{m}:RetourCode>"), pl.element(), pl.lit(f"</{m}:RetourCode>")]
        )
        return pl.concat_str(
            [
                pl.lit(f"<{m}:RetourCodes>"),
                pl.col(name).list.eval(code).list.join(""),
                pl.lit(f"</{m}:RetourCodes>"),
            ]
        )

    line = pl.concat_str(
        [
            pl.lit(f"<{m}:Prestatie>"),
            *_prestatie_fields(m, b),
            codes_xml("_line_codes"),
            pl.lit(f"</{m}:Prestatie>"),
        ]
    )
    clients = (
        rejected.with_columns(line.alias("_xml"), codes_xml("_client_codes").alias("_client_xml"))
        .group_by(["message_id", "client_bsn"], maintain_order=True)
        .agg(
            pl.col("_xml").str.join("\n"),
            pl.col("_client_xml").first(),
            pl.col("_signed").sum().alias("_rejected"),
        )
        .with_columns(
            pl.concat_str(
                [
                    pl.lit(f"<{m}:Client>\n"),
                    _el(f"{m}:Bsn", "client_bsn"),
                    pl.lit(f"\n<{m}:Prestaties>\n"),
                    pl.col("_xml"),
                    pl.lit(f"\n</{m}:Prestaties>\n"),
                    pl.col("_client_xml"),
                    pl.lit(f"\n</{m}:Client>"),
                ]
            ).alias("_xml")
        )
        .group_by("message_id", maintain_order=True)
        .agg(pl.col("_xml").str.join("\n"), pl.col("_rejected").sum())
    )
    messages = (
        _escape(top.select("message_id", "provider_agb", "answered_on", "_codes"))
        .join(_escape(declared), on="message_id", how="left", suffix="_declared")
        .join(clients, on="message_id", how="left")
    )
    mismatch = messages.filter(pl.col("provider_agb") != pl.col("provider_agb_declared")).height
    if mismatch:
        raise ValueError(f"answers: {mismatch} answers name another provider than their declaration")
    paths = []
    for row in messages.iter_rows(named=True):
        codes = row["_codes"]
        if "0001" in codes:
            header_codes, answer_codes = codes, None
        else:
            header_codes = ["0200"]
            answer_codes = [c for c in codes if c != "0200"] or ["0200"]
        rejected_cents = row["_rejected"] or 0
        declared_cents = row["_declared"]
        voided = answer_codes is not None and any(c not in ("0200", "8001") for c in answer_codes)
        awarded = 0 if voided else declared_cents - rejected_cents
        message_id = _message_id("A", law, row["provider_agb"], row["message_id"])
        extra = (
            f"<{m}:DeclaratieIdentificatie><{b}:Identificatie>{row['message_id']}</{b}:Identificatie>"
            f"<{b}:Dagtekening>{row['declared_on']}</{b}:Dagtekening></{m}:DeclaratieIdentificatie>\n"
            f"{n.xsd_versie('XsdVersieDeclaratie')}\n{_codes_xml(m, header_codes)}\n"
        )
        header = n.header(
            row["municipality_code"], row["provider_agb"], message_id, row["answered_on"], extra
        )
        body = ""
        if answer_codes is not None:
            clients_xml = f"<{m}:Clienten>\n{row['_xml']}\n</{m}:Clienten>\n" if row["_xml"] else ""
            body = (
                f"<{m}:DeclaratieAntwoord>\n"
                f"<{m}:DeclaratieNummer>{row['declaration_number']}</{m}:DeclaratieNummer>\n"
                f"{_total(m, b, 'TotaalIngediendBedrag', declared_cents)}\n"
                f"{_total(m, b, 'TotaalToegekendBedrag', awarded)}\n"
                f"{clients_xml}{_codes_xml(m, answer_codes)}\n</{m}:DeclaratieAntwoord>\n"
            )
        paths.append(
            _write(out_dir, n, row["provider_agb"], row["message_id"], n.document(header, body))
        )
    return paths
