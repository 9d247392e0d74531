"""Read iWmo / iJw 3.2 XML messages (301, 305, 307, 323, 325) into canonical frames.

A message is recognised by the namespace of its root element
(``http://www.istandaarden.nl/iwmo/3_2/wmo301/schema``, ``.../ijw/3_2/jw323/schema``, ...), validated
against the XSD of its type (copied under ``xsd/``, see ``xsd/PROVENANCE.md``), and turned into the
canonical columns of ``inputs.md`` for its kind, all as text, exactly as the tabular reader would see
them in a canonical CSV. Pseudonymisation, quarantine and staging are the caller's job.

How a file is read, without ever holding a DOM copy of it:

1. the prolog is scanned and any DOCTYPE is refused (``xml_forbidden_entity``) before libxml2 sees it;
2. one strict streaming pass (``lxml.etree.iterparse``, entities off, no network, no DTD loading)
   checks well-formedness and collects the values into column lists, clearing elements as it goes;
3. one streaming validation pass (``iterparse(..., schema=...)``) checks the message against its XSD,
   again clearing elements as it goes. lxml's validating iterparse can stop silently on a document
   that is not well-formed, which is why well-formedness is established by the strict pass first and
   the validation pass must reach the end of the root element and see the same number of lines.

Only the fields of the canonical columns are read: names, birth dates, addresses and other personal
data in the messages are never extracted. ``client_bsn`` carries the raw BSN for the caller to
pseudonymise; refusal texts never contain a BSN (any run of nine or more digits is masked).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import polars as pl
from lxml import etree

from pipeline.paths import XSD_DIR

__all__ = [
    "CANONICAL_COLUMNS",
    "IwmoMessage",
    "MessageRefused",
    "SUPPORTED_MESSAGES",
    "base_namespace",
    "message_namespace",
    "read_message",
    "schema_for",
]

# --- the standard -------------------------------------------------------------------------------

#: law -> (namespace standard, file/prefix stem, base prefix, xsd folder, XsdVersie of the set)
STANDARDS: dict[str, tuple[str, str, str, str, str]] = {
    "wmo": ("iwmo", "WMO", "iwmo", "iwmo-3.2", "1.0.0"),
    "jeugd": ("ijw", "JW", "ijw", "ijw-3.2", "0.1.0"),
}
_LAW_BY_STANDARD = {"iwmo": "wmo", "ijw": "jeugd"}
_PREFIX_BY_STANDARD = {"iwmo": "wmo", "ijw": "jw"}

#: message code -> canonical kind
SUPPORTED_MESSAGES: dict[str, str] = {
    "301": "allocations",
    "305": "care_events",
    "307": "care_events",
    "323": "declarations",
    "325": "answers",
}

#: (law, message code) -> BerichtCode (Vektis COD002), fixed by each XSD's pattern
BERICHT_CODES: dict[tuple[str, str], str] = {
    ("wmo", "301"): "414",
    ("wmo", "305"): "418",
    ("wmo", "307"): "420",
    ("wmo", "323"): "484",
    ("wmo", "325"): "485",
    ("jeugd", "301"): "436",
    ("jeugd", "305"): "438",
    ("jeugd", "307"): "440",
    ("jeugd", "323"): "490",
    ("jeugd", "325"): "491",
}

CANONICAL_COLUMNS: dict[str, list[str]] = {
    "allocations": [
        "municipality_code", "allocation_number", "law", "client_bsn", "provider_agb",
        "product_category", "product_code", "decided_on", "start_date", "end_date", "volume",
        "unit", "frequency", "budget_eur", "change_reason",
    ],
    "declarations": [
        "provider_agb", "municipality_code", "law", "message_id", "declaration_number",
        "declaration_period_start", "declaration_period_end", "declared_on", "reference_number",
        "previous_reference_number", "client_bsn", "allocation_number", "product_category",
        "product_code", "period_start", "period_end", "volume", "unit", "tariff_eur",
        "amount_eur", "debit_credit",
    ],
    "answers": [
        "provider_agb", "law", "message_id", "answered_on", "reference_number", "return_codes",
    ],
    "care_events": [
        "municipality_code", "law", "allocation_number", "provider_agb", "client_bsn", "event",
        "start_date", "end_date", "end_reason", "status", "sent_on",
    ],
}

_NAMESPACE_RE = re.compile(
    r"^http://www\.istandaarden\.nl/(?P<standard>[a-z]+)/(?P<release>[0-9_]+)/"
    r"(?P<prefix>[a-z]+)(?P<code>[0-9]{3})/schema$"
)
_EURO_UNIT = "83"  # WJ756: with Eenheid 83 a volume is a number of eurocents (IV042)

#: the only parser settings used on message files: no entity expansion, no DTD, no network
_PARSE_OPTIONS = dict(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, dtd_validation=False
)


def message_namespace(law: str, code: str) -> str:
    standard, _, _, _, _ = STANDARDS[law]
    return f"http://www.istandaarden.nl/{standard}/3_2/{_PREFIX_BY_STANDARD[standard]}{code}/schema"


def base_namespace(law: str) -> str:
    standard = STANDARDS[law][0]
    return f"http://www.istandaarden.nl/{standard}/3_2/basisschema/schema"


@lru_cache(maxsize=None)
def schema_for(law: str, code: str) -> etree.XMLSchema:
    """The XSD of one message type, loaded once per process (imports its basisschema.xsd)."""
    _, stem, _, folder, _ = STANDARDS[law]
    path = XSD_DIR / folder / f"{stem}{code}.xsd"
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.XMLSchema(etree.parse(str(path), parser))


# --- result and refusal -------------------------------------------------------------------------


@dataclass
class IwmoMessage:
    """One message read into the canonical rows of its kind (all columns text, plus source_row)."""

    kind: str  # 'allocations' | 'declarations' | 'answers' | 'care_events'
    law: str  # 'wmo' | 'jeugd'
    message_code: str  # '301', '305', '307', '323', '325'
    message_id: str  # Header/BerichtIdentificatie/Identificatie of this message
    rows: pl.DataFrame


class MessageRefused(Exception):
    """A message that is refused as a whole; ``reason_text`` never contains a BSN."""

    def __init__(self, reason_code: str, reason_text: str) -> None:
        self.reason_code = reason_code
        self.reason_text = mask_bsn(reason_text)
        super().__init__(f"{self.reason_code}: {self.reason_text}")


_LONG_DIGITS = re.compile(r"\d{9,}")
_BSN_VALUE = re.compile(r"(Bsn\b.*?[Vv]alue ')([^']*)(')")
_CLARK = re.compile(r"\{http://www\.istandaarden\.nl/(iwmo|ijw)/3_2/(\w+)/schema\}")


def mask_bsn(text: str) -> str:
    """Mask every run of nine or more digits, and any value quoted in an error about a Bsn."""
    text = _BSN_VALUE.sub(lambda m: m.group(1) + "<masked>" + m.group(3), text)
    return _LONG_DIGITS.sub("<masked>", text)


def _short_names(text: str) -> str:
    """'{http://www.istandaarden.nl/iwmo/3_2/wmo301/schema}Omvang' -> 'wmo301:Omvang'."""
    return _CLARK.sub(lambda m: (m.group(1) if m.group(2) == "basisschema" else m.group(2)) + ":", text)


# --- reading ------------------------------------------------------------------------------------


def read_message(path: Path) -> IwmoMessage:
    """Read, validate and convert one iWmo/iJw 3.2 message; raise MessageRefused if it cannot be."""
    path = Path(path)
    _refuse_doctype_in_prolog(path)
    law, code = _identify(path)
    kind = SUPPORTED_MESSAGES[code]
    mns, bns = message_namespace(law, code), base_namespace(law)
    columns, header, n_lines = _extract(path, code, mns, bns)
    _validate(path, law, code, mns, n_lines)
    if code == "323":
        _check_total(columns, header)
    rows = _to_frame(kind, code, law, columns, header)
    return IwmoMessage(
        kind=kind, law=law, message_code=code, message_id=header["message_id"], rows=rows
    )


def message_code(path: Path) -> str | None:
    """The message code ('301', ...) of a supported iWmo/iJw 3.2 message, read from its root
    element however far into the file it starts (comments and processing instructions before
    it are skipped by the streaming parser); None for anything else."""
    try:
        _refuse_doctype_in_prolog(Path(path))
        return _identify(Path(path))[1]
    except MessageRefused:
        return None


def _check_total(columns: dict, header: dict) -> None:
    """A 323's TotaalIngediendBedrag must equal the sum of its lines' IngediendBedrag (debits
    minus credits), as the standard requires; a message whose total does not add up is refused."""
    total, sign = header.get("total_cents"), header.get("total_debit_credit")
    if total is None:
        return
    try:
        declared = int(total.strip()) * (-1 if (sign or "D").strip() == "C" else 1)
        lines = sum(int((a or "0").strip()) * (-1 if (dc or "D").strip() == "C" else 1)
                    for a, dc in zip(columns["amount_cents"], columns["debit_credit"]))
    except ValueError:
        return  # not whole cents: the XSD pass has refused the message already
    if declared != lines:
        raise MessageRefused(
            "xml_total_mismatch",
            f"TotaalIngediendBedrag {declared / 100:.2f} does not equal the sum of the lines' IngediendBedrag "
            f"{lines / 100:.2f}; the declaration is refused as a whole, as the municipality would",
        )


def _open(path: Path):
    try:
        return open(path, "rb")
    except OSError as exc:
        raise MessageRefused("xml_unparseable", f"cannot read the file: {exc.strerror}") from None


def _refuse_doctype_in_prolog(path: Path) -> None:
    """Refuse any DOCTYPE (the carrier of entity declarations) before the XML parser sees it."""
    with _open(path) as fh:
        head = fh.read(65536)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or head[:2] in (b"<\x00", b"\x00<"):
        text = head.decode("utf-16", errors="ignore")
    else:
        text = head.decode("latin-1")
    root_start = re.search(r"<[A-Za-z_]", text)
    prolog = text if root_start is None else text[: root_start.start()]
    if "<!DOCTYPE" in prolog or "<!ENTITY" in prolog:
        raise MessageRefused(
            "xml_forbidden_entity",
            "the file declares a DOCTYPE (DTD or entities); iWmo/iJw messages never carry one, "
            "so entities are neither expanded nor fetched and the message is refused",
        )


def _parse_error(exc: etree.XMLSyntaxError) -> MessageRefused:
    message = _short_names(str(exc.msg or exc))
    if "amplification" in message or "entity reference loop" in message.lower():
        return MessageRefused("xml_forbidden_entity", f"entity expansion refused: {message}")
    return MessageRefused("xml_unparseable", f"the file is not well-formed XML: {message}")


def _identify(path: Path) -> tuple[str, str]:
    """Law and message code from the root element's namespace (reads only the first chunk)."""
    with _open(path) as fh:
        try:
            root = None
            for _, root in etree.iterparse(fh, events=("start",), **_PARSE_OPTIONS):
                break
        except etree.XMLSyntaxError as exc:
            raise _parse_error(exc) from None
    if root is None:
        raise MessageRefused("xml_unparseable", "the file contains no XML element")
    if root.getroottree().docinfo.doctype:
        raise MessageRefused("xml_forbidden_entity", "the file declares a DOCTYPE (DTD or entities)")
    try:
        qname = etree.QName(root)
    except ValueError as exc:  # e.g. a root element with an undeclared prefix
        raise MessageRefused("xml_unparseable", f"the root element is not a valid XML name: {exc}") from None
    match = _NAMESPACE_RE.match(qname.namespace or "")
    if qname.localname != "Bericht" or match is None:
        raise MessageRefused(
            "xml_unknown_message",
            f"root element '{_short_names(root.tag)}' is not an iWmo/iJw message: expected "
            "'Bericht' in a namespace like http://www.istandaarden.nl/iwmo/3_2/wmo301/schema",
        )
    standard, release, prefix, code = match.group("standard", "release", "prefix", "code")
    if standard not in _LAW_BY_STANDARD or _PREFIX_BY_STANDARD[standard] != prefix:
        raise MessageRefused(
            "xml_unknown_message", f"namespace {qname.namespace} is not an iWmo or iJw namespace"
        )
    label = f"{'iWmo' if standard == 'iwmo' else 'iJw'} {release.replace('_', '.')}"
    if release != "3_2":
        raise MessageRefused(
            "xml_unknown_message",
            f"{prefix.upper()}{code} of {label} (namespace {qname.namespace}) is not supported; "
            "only iWmo/iJw 3.2 messages are read",
        )
    if code not in SUPPORTED_MESSAGES:
        raise MessageRefused(
            "xml_unknown_message",
            f"{prefix.upper()}{code} ({label}) is not a message type this pipeline reads "
            f"(supported: {', '.join(SUPPORTED_MESSAGES)})",
        )
    return _LAW_BY_STANDARD[standard], code


def _record_tag(code: str, m: str) -> str:
    return {
        "301": f"{m}ToegewezenProduct",
        "305": f"{m}StartProduct",
        "307": f"{m}StopProduct",
        "323": f"{m}Prestatie",
        "325": f"{m}Prestatie",
    }[code]


def _record_fields(code: str, m: str, b: str) -> dict[str, tuple[str, ...]]:
    """Canonical (or intermediate) column -> path of its element below the line element."""
    if code == "301":
        return {
            "allocation_number": (f"{m}ToewijzingNummer",),
            "product_category": (f"{m}Product", f"{b}Categorie"),
            "product_code": (f"{m}Product", f"{b}Code"),
            "decided_date": (f"{m}Toewijzingsdatum",),
            "decided_time": (f"{m}Toewijzingstijd",),
            "start_date": (f"{m}Ingangsdatum",),
            "end_date": (f"{m}Einddatum",),
            "change_reason": (f"{m}RedenWijziging",),
            "volume": (f"{m}Omvang", f"{b}Volume"),
            "unit": (f"{m}Omvang", f"{b}Eenheid"),
            "frequency": (f"{m}Omvang", f"{b}Frequentie"),
            "budget_cents": (f"{m}Budget",),
        }
    if code in ("305", "307"):
        fields = {
            "allocation_number": (f"{m}ToewijzingNummer",),
            "start_date": (f"{m}Begindatum",),
            "status": (f"{m}StatusAanlevering",),
        }
        if code == "307":
            fields |= {"end_date": (f"{m}Einddatum",), "end_reason": (f"{m}RedenBeeindiging",)}
        return fields
    if code == "323":
        return {
            "reference_number": (f"{m}ProductReferentie", f"{b}ReferentieNummer"),
            "previous_reference_number": (f"{m}ProductReferentie", f"{b}VorigReferentieNummer"),
            "allocation_number": (f"{m}ToewijzingNummer",),
            "product_category": (f"{m}ProductCategorie",),
            "product_code": (f"{m}ProductCode",),
            "period_start": (f"{m}ProductPeriode", f"{b}Begindatum"),
            "period_end": (f"{m}ProductPeriode", f"{b}Einddatum"),
            "volume": (f"{m}GeleverdVolume",),
            "unit": (f"{m}Eenheid",),
            "tariff_cents": (f"{m}ProductTarief",),
            "amount_cents": (f"{m}IngediendBedrag", f"{b}Bedrag"),
            "debit_credit": (f"{m}IngediendBedrag", f"{b}DebetCredit"),
        }
    return {"reference_number": (f"{m}ProductReferentie", f"{b}ReferentieNummer")}  # 325


def _codes(element, m: str) -> list[str]:
    """The RetourCode values directly under an element's RetourCodes."""
    return [(rc.text or "").strip() for rc in element.iterfind(f"{m}RetourCodes/{m}RetourCode")]


def _drop(element) -> None:
    """Free a finished element and the finished siblings before it."""
    element.clear(keep_tail=False)
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]


def _extract(path: Path, code: str, mns: str, bns: str):
    """The strict streaming pass: well-formedness, and the values of the canonical fields.

    Returns (column lists, header values, number of lines).
    """
    m, b = f"{{{mns}}}", f"{{{bns}}}"
    record_tag = _record_tag(code, m)
    fields = _record_fields(code, m, b)
    columns: dict[str, list] = {name: [] for name in fields}
    # the field paths are one or two levels deep: walk the children once instead of searching
    direct = {steps[0]: name for name, steps in fields.items() if len(steps) == 1}
    nested: dict[str, dict[str, str]] = {}
    for name, steps in fields.items():
        if len(steps) == 2:
            nested.setdefault(steps[0], {})[steps[1]] = name
    columns["client_bsn"] = []
    header: dict[str, object] = {}
    declaration: dict[str, object] = {}
    tags = [f"{m}Header", f"{m}Bsn", f"{m}Client", record_tag]
    if code == "323":
        tags += [f"{m}DeclaratieNummer", f"{m}DeclaratiePeriode", f"{m}DeclaratieDagtekening",
                 f"{m}TotaalIngediendBedrag"]
    if code == "325":
        tags.append(f"{m}DeclaratieAntwoord")
        columns["line_codes"] = []
        columns["client_codes"] = []
    bsn = None
    client_first_row = 0
    with _open(path) as fh:
        try:
            for _, el in etree.iterparse(fh, events=("end",), tag=tags, **_PARSE_OPTIONS):
                tag = el.tag
                if tag == record_tag:
                    values = dict.fromkeys(fields)
                    for child in el:
                        name = direct.get(child.tag)
                        if name is not None:
                            values[name] = child.text
                        elif child.tag in nested:
                            below = nested[child.tag]
                            for grandchild in child:
                                name = below.get(grandchild.tag)
                                if name is not None:
                                    values[name] = grandchild.text
                    for name, value in values.items():
                        columns[name].append(value)
                    columns["client_bsn"].append(bsn)
                    if code == "325":
                        columns["line_codes"].append(_codes(el, m))
                        columns["client_codes"].append(None)
                    _drop(el)
                elif tag == f"{m}Bsn":
                    bsn = el.text
                elif tag == f"{m}Client":
                    if code == "325":
                        client_codes = _codes(el, m)
                        for i in range(client_first_row, len(columns["client_bsn"])):
                            columns["client_codes"][i] = client_codes
                    client_first_row = len(columns["client_bsn"])
                    bsn = None
                    _drop(el)
                elif tag == f"{m}Header":
                    header = {
                        "sender": el.findtext(f"{m}Afzender"),
                        "receiver": el.findtext(f"{m}Ontvanger"),
                        "message_id": el.findtext(f"{m}BerichtIdentificatie/{b}Identificatie"),
                        "sent_on": el.findtext(f"{m}BerichtIdentificatie/{b}Dagtekening"),
                        "answered_message_id": el.findtext(
                            f"{m}DeclaratieIdentificatie/{b}Identificatie"
                        ),
                        "header_codes": _codes(el, m),
                    }
                elif tag == f"{m}DeclaratieNummer":
                    declaration["declaration_number"] = el.text
                elif tag == f"{m}DeclaratiePeriode":
                    declaration["declaration_period_start"] = el.findtext(f"{b}Begindatum")
                    declaration["declaration_period_end"] = el.findtext(f"{b}Einddatum")
                elif tag == f"{m}DeclaratieDagtekening":
                    declaration["declared_on"] = el.text
                elif tag == f"{m}TotaalIngediendBedrag":
                    declaration["total_cents"] = el.findtext(f"{b}TotaalBedrag")
                    declaration["total_debit_credit"] = el.findtext(f"{b}DebetCredit")
                elif tag == f"{m}DeclaratieAntwoord":
                    header["answer_codes"] = _codes(el, m)
        except etree.XMLSyntaxError as exc:
            raise _parse_error(exc) from None
    header.update(declaration)
    return columns, header, len(columns["client_bsn"])


def _validate(path: Path, law: str, code: str, mns: str, n_lines: int) -> None:
    """The streaming XSD pass; refuses the message with the validator's first error."""
    m = f"{{{mns}}}"
    record_tag = _record_tag(code, m)
    root_tag = f"{m}Bericht"
    label = f"{STANDARDS[law][1]}{code}"
    seen_lines, seen_root = 0, False
    with _open(path) as fh:
        try:
            for _, el in etree.iterparse(
                fh,
                events=("end",),
                tag=[record_tag, f"{m}Client", root_tag],
                schema=schema_for(law, code),
                **_PARSE_OPTIONS,
            ):
                if el.tag == record_tag:
                    seen_lines += 1
                    _drop(el)
                elif el.tag == root_tag:
                    seen_root = True
                else:
                    _drop(el)
        except etree.XMLSyntaxError as exc:
            raise MessageRefused(
                "xml_invalid", f"{label} does not validate against {label}.xsd: "
                f"{_short_names(str(exc.msg or exc))}"
            ) from None
    if not seen_root or seen_lines != n_lines:
        raise MessageRefused(
            "xml_invalid", f"{label} validation against {label}.xsd stopped before the end of the message"
        )


# --- conversion to canonical text ---------------------------------------------------------------


def _integer_text(value: pl.Expr) -> pl.Expr:
    """An xs:integer as canonical text: '007' -> '7', '+12' -> '12'."""
    return value.str.strip_chars_start("+").cast(pl.Int64).cast(pl.Utf8)


def _euro_text(value: pl.Expr) -> pl.Expr:
    """Whole eurocents as decimal euro text: '1250' -> '12.50'."""
    cents = value.str.strip_chars_start("+").cast(pl.Int64)
    return pl.concat_str(
        [(cents // 100).cast(pl.Utf8), pl.lit("."), (cents % 100).cast(pl.Utf8).str.zfill(2)]
    )


def _volume_text(unit: pl.Expr, volume: pl.Expr) -> pl.Expr:
    """GeleverdVolume / Omvang Volume: eurocents -> euros for Eenheid 83, else the integer."""
    return pl.when(unit == _EURO_UNIT).then(_euro_text(volume)).otherwise(_integer_text(volume))


def _to_frame(kind: str, code: str, law: str, columns: dict, header: dict) -> pl.DataFrame:
    """The message's rows as canonical text: one eager ``select`` over a frame that carries the
    message's constants, with expressions built once per message type.

    A message holds a handful of lines, so what costs is Polars' fixed cost per query: a lazy plan
    built per message cost about 5 ms, most of the reading of the 301/305/307 messages."""
    if code == "325":
        return _answers_frame(law, columns, header)
    n = len(columns["client_bsn"])
    raw = {k: v for k, v in columns.items() if k not in ("line_codes", "client_codes")}
    constants = {"law": law}
    if code == "301":
        constants |= {"municipality_code": header["sender"], "provider_agb": header["receiver"]}
    elif code in ("305", "307"):
        constants |= {
            "municipality_code": header["receiver"],
            "provider_agb": header["sender"],
            "event": "start" if code == "305" else "stop",
            "sent_on": header["sent_on"],  # BerichtIdentificatie/Dagtekening: when the message was sent
        }
        if code == "305":
            constants |= {"end_date": None, "end_reason": None}
    else:  # 323
        constants |= {
            "provider_agb": header["sender"],
            "municipality_code": header["receiver"],
            "message_id": header["message_id"],
            "declaration_number": header.get("declaration_number"),
            "declaration_period_start": header.get("declaration_period_start"),
            "declaration_period_end": header.get("declaration_period_end"),
            "declared_on": header.get("declared_on"),
        }
    fixed = {name: [_strip(value)] * n for name, value in constants.items()}
    frame = pl.DataFrame(
        {**raw, **fixed, "source_row": range(1, n + 1)},
        schema={**{k: pl.Utf8 for k in raw}, **{k: pl.Utf8 for k in fixed}, "source_row": pl.Int64},
    )
    return frame.select(_conversion(kind, code, tuple(raw), tuple(fixed)))


@lru_cache(maxsize=None)
def _conversion(kind: str, code: str, raw: tuple[str, ...], fixed: tuple[str, ...]) -> tuple[pl.Expr, ...]:
    """The canonical columns of a message type, from its raw columns (trimmed, empty text null;
    integers and eurocents converted) and its constant columns (taken as they are)."""
    clean = {c: pl.col(c).str.strip_chars().replace("", None) for c in raw}
    derived: dict[str, pl.Expr] = {}
    if code == "301":
        derived = {
            "allocation_number": _integer_text(clean["allocation_number"]),
            "volume": _volume_text(clean["unit"], clean["volume"]),
            "budget_eur": _euro_text(clean["budget_cents"]),
            "decided_on": pl.concat_str([clean["decided_date"], pl.lit(" "), clean["decided_time"]]),
        }
    elif code in ("305", "307"):
        derived = {"allocation_number": _integer_text(clean["allocation_number"])}
    else:  # 323
        derived = {
            "allocation_number": _integer_text(clean["allocation_number"]),
            "volume": _volume_text(clean["unit"], clean["volume"]),
            "tariff_eur": _euro_text(clean["tariff_cents"]),
            "amount_eur": _euro_text(clean["amount_cents"]),
        }
    exprs = {**clean, **{k: pl.col(k) for k in fixed}, **derived}
    return (*(exprs[c].alias(c) for c in CANONICAL_COLUMNS[kind]), pl.col("source_row"))


def _strip(value):
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def _unique(codes: list[str]) -> list[str]:
    return list(dict.fromkeys(c for c in codes if c))


def _answers_frame(law: str, columns: dict, header: dict) -> pl.DataFrame:
    """325: one declaration-level row, then one row per rejected Prestatie.

    The declaration-level row carries the header codes followed by the DeclaratieAntwoord codes
    ('0200,8001' all approved; '0001' technical refusal; '0200,9333' a declaration-level error).
    A Prestatie of a client with an error of its own (client codes other than 0200) is not
    assessed: its row reads '0233' followed by the client's codes.
    """
    declaration_codes = _unique(header["header_codes"] + header.get("answer_codes", []))
    line_codes = []
    for own, client in zip(columns["line_codes"], columns["client_codes"]):
        client_errors = [c for c in (client or []) if c != "0200"]
        if client_errors:
            line_codes.append(",".join(_unique(["0233", *own, *client_errors])))
        else:
            line_codes.append(",".join(_unique(own)))
    constants = {
        "provider_agb": header["receiver"],
        "law": law,
        "message_id": header["answered_message_id"],
        "answered_on": header["sent_on"],
    }
    n = len(columns["reference_number"]) + 1
    frame = pl.DataFrame(
        {
            "reference_number": [None, *columns["reference_number"]],
            "return_codes": [",".join(declaration_codes), *line_codes],
            **{name: [_strip(value)] * n for name, value in constants.items()},
            "source_row": range(1, n + 1),
        },
        schema={"reference_number": pl.Utf8, "return_codes": pl.Utf8, **{k: pl.Utf8 for k in constants},
                "source_row": pl.Int64},
    )
    return frame.select(
        *(pl.col(c).str.strip_chars().replace("", None) if c == "reference_number" else pl.col(c)
          for c in CANONICAL_COLUMNS["answers"]),
        "source_row",
    )
