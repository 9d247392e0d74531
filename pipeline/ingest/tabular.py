"""Read tabular exports (CSV, Parquet, XLSX) through mapping profiles into canonical frames.

A profile (YAML in ``pipeline/profiles/``) names a source's columns, encoding, separator, decimal
and date conventions, and value maps, so a new municipality needs a profile, not code. Readers
return every column as text with canonical names; ``cast`` turns them into the types of
``pipeline.schemas`` and reports every value that does not convert.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import yaml

from pipeline.ingest.bounds import quote_expr
from pipeline.paths import PROFILES_DIR
from pipeline.schemas import OPTIONAL_COLUMNS, dtypes


class FileRefused(Exception):
    """A whole file cannot be loaded; ``frame`` holds its rows when they could be read."""

    def __init__(self, reason_code: str, reason_text: str, frame: pl.DataFrame | None = None):
        super().__init__(f"{reason_code}: {reason_text}")
        self.reason_code = reason_code
        self.reason_text = reason_text
        self.frame = frame


@dataclass(frozen=True)
class Profile:
    name: str
    kind: str
    match: tuple[str, ...]
    read: dict = field(default_factory=dict)
    columns: dict = field(default_factory=dict)
    values: dict = field(default_factory=dict)
    ignore: tuple[str, ...] = ()

    @property
    def is_canonical(self) -> bool:
        return not self.columns

    def applies_to(self, kind: str, path: Path) -> bool:
        return self.kind in (kind, "*") and any(fnmatch.fnmatch(path.name, g) for g in self.match)


def load_profiles(folder: Path = PROFILES_DIR) -> list[Profile]:
    """All profiles, specific ones first, the canonical profile last."""
    profiles = []
    for path in sorted(folder.glob("*.yaml")):
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        profiles.append(
            Profile(
                name=raw["name"],
                kind=raw.get("kind", "*"),
                match=tuple(raw.get("match", [])),
                read=raw.get("read", {}) or {},
                columns=raw.get("columns", {}) or {},
                values=raw.get("values", {}) or {},
                ignore=tuple(raw.get("ignore", []) or []),
            )
        )
    return sorted(profiles, key=lambda p: (p.is_canonical, p.name))


def choose_profile(kind: str, path: Path, profiles: list[Profile]) -> Profile:
    for profile in profiles:
        if profile.applies_to(kind, path):
            return profile
    raise FileRefused("no_profile", f"no mapping profile matches {path.name} for kind {kind}")


def _read_raw(path: Path, profile: Profile) -> pl.DataFrame:
    suffix = path.suffix.lower()
    opts = profile.read
    try:
        if suffix == ".parquet":
            frame = pl.read_parquet(path)
            return frame.with_columns(pl.all().cast(pl.String))
        if suffix == ".xlsx":
            frame = pl.read_excel(path, infer_schema_length=0, raise_if_empty=False)
            uncalculated = _formulas_without_values(path)
            if uncalculated:
                raise FileRefused(
                    "xlsx_formula_without_value",
                    f"the workbook has {len(uncalculated)} formula cell(s) without a stored value (first: "
                    f"{', '.join(uncalculated[:5])}); it was saved by a program that does not calculate, so "
                    "those cells would read as empty. Open and save it in a spreadsheet program, or export CSV",
                    frame.with_row_index("source_row", offset=1).with_columns(
                        pl.col("source_row").cast(pl.Int64), pl.all().exclude("source_row").cast(pl.String)),
                )
            return frame
        encoding = opts.get("encoding", "utf-8").lower().replace("_", "-")
        data = path.read_bytes()
        if b"\x00" in data[:65536] and not encoding.startswith("utf-16"):
            raise FileRefused("not_an_export", "the file holds binary data, not a text export")
        try:
            text = data.decode("utf-8-sig" if encoding in ("utf-8", "utf8", "utf-8-sig") else encoding)
        except UnicodeDecodeError as exc:
            raise FileRefused(
                "unreadable_encoding",
                f"the file is not valid {encoding} (byte {exc.start}); "
                f"profile '{profile.name}' expects {encoding}",
            ) from None
        # Decoding above checks the encoding; Polars parses UTF-8 bytes about four times faster
        # than a text stream, so hand it bytes (the original ones when they are UTF-8 already).
        utf8 = encoding in ("utf-8", "utf8", "utf-8-sig") and not data.startswith(b"\xef\xbb\xbf")
        return pl.read_csv(
            data if utf8 else text.encode("utf-8"),
            separator=opts.get("separator", ","),
            infer_schema=False,
            has_header=True,
            raise_if_empty=False,
        )
    except FileRefused:
        raise
    except Exception as exc:  # polars/fastexcel raise many kinds; the file is unreadable
        raise FileRefused("unreadable", f"cannot read {suffix or 'file'}: {type(exc).__name__}: {exc}") from None


_FORMULA_CELL = re.compile(rb'<c r="([A-Z]+[0-9]+)"[^>]*>(.*?)</c>', re.S)


def _formulas_without_values(path: Path) -> list[str]:
    """References of the first sheet's formula cells that carry no cached value (a workbook
    written by a library and never calculated): such a cell reads as empty, which is no value."""
    import zipfile

    with zipfile.ZipFile(path) as book:
        names = [n for n in book.namelist() if n.startswith("xl/worksheets/sheet") and n.endswith(".xml")]
        first = "xl/worksheets/sheet1.xml" if "xl/worksheets/sheet1.xml" in names else (sorted(names) or [None])[0]
        if first is None:
            return []
        data = book.read(first)
    if b"<f" not in data:
        return []
    return [ref.decode() for ref, body in _FORMULA_CELL.findall(data)
            if b"<f" in body and not re.search(rb"<v>[^<]+</v>", body)]


def read_file(path: Path, kind: str, profile: Profile) -> pl.DataFrame:
    """Read a file to canonical column names, every column text, plus ``source_row`` (1-based)."""
    frame = _read_raw(path, profile)
    frame = frame.rename({c: c.lstrip("\ufeff").strip() for c in frame.columns})
    if frame.width == 1 and frame.height >= 0:
        header = frame.columns[0]
        for sep in (";", ",", "\t", "|"):
            if sep in header and sep != profile.read.get("separator", ","):
                raise FileRefused(
                    "wrong_separator",
                    f"the file has one column; its header looks '{sep}'-separated, "
                    f"but profile '{profile.name}' expects '{profile.read.get('separator', ',')}'",
                )
    frame = frame.with_row_index("source_row", offset=1).with_columns(pl.col("source_row").cast(pl.Int64))
    expected = dtypes(kind)
    if profile.columns:
        unknown = [c for c in frame.columns[1:] if c not in profile.columns and c not in profile.ignore]
        mapping = {c: profile.columns[c] for c in frame.columns[1:] if c in profile.columns and c not in profile.ignore}
    else:
        unknown = [c for c in frame.columns[1:] if c not in expected and c not in profile.ignore]
        mapping = {}
    frame = frame.drop([c for c in profile.ignore if c in frame.columns]).rename(mapping)
    rows_only = frame.with_columns(pl.all().exclude("source_row").cast(pl.String))
    if unknown:
        raise FileRefused(
            "unknown_column",
            f"column(s) {unknown} are not known to profile '{profile.name}' for {kind}; "
            "map them in a profile or list them under 'ignore'",
            rows_only,
        )
    missing = [c for c in expected if c not in frame.columns and c not in OPTIONAL_COLUMNS[kind]]
    if missing:
        raise FileRefused(
            "missing_column", f"required column(s) {missing} are missing for {kind}", rows_only
        )
    # Trim text, empty strings are missing values, then apply the profile's value maps: one
    # select over the file (a missing optional column is all null)
    values = {c: {str(k): str(v) for k, v in m.items()} for c, m in profile.values.items()}

    def canonical(c: str) -> pl.Expr:
        text = (pl.col(c) if c in rows_only.columns else pl.lit(None, dtype=pl.String)).str.strip_chars().replace("", None)
        return (text.replace(values[c]) if c in values else text).alias(c)

    return rows_only.select("source_row", *(canonical(c) for c in expected))


# A number's text must fit the profile's convention exactly; anything else is no number (never
# guessed): with a decimal comma '1.234,56', '1234,5' and '12' are numbers, '264.80' or '1.5' are
# not (a dot that is no thousands separator); with a decimal point, '1234.56' and '-0.5' are, and
# '1,5', '1.234,56', 'NaN', 'inf' and '0x1F' are not.
_NUMBER_COMMA = r"^[+-]?(\d{1,3}(\.\d{3})+|\d+)(,\d+)?$"
_NUMBER_POINT = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,3})?$"


def _parse_number(col: str, decimal_comma: bool) -> pl.Expr:
    text = pl.col(col)
    if decimal_comma:
        number = text.str.replace_all(".", "", literal=True).str.replace(",", ".", literal=True)
        pattern = _NUMBER_COMMA
    else:
        number, pattern = text, _NUMBER_POINT
    return pl.when(text.str.contains(pattern)).then(number.cast(pl.Float64, strict=False))


_FORMAT_PARTS = {
    "%Y": r"\d{4}", "%m": r"\d{2}", "%d": r"\d{2}", "%-m": r"\d{1,2}", "%-d": r"\d{1,2}",
    "%H": r"\d{2}", "%M": r"\d{2}", "%S": r"\d{2}", "%.f": r"(\.\d{1,9})?", "%%": "%",
}


def format_pattern(fmt: str) -> str:
    """The regular expression of the texts a strftime format writes: a date must match its
    profile's format exactly ('1-3-25' is no '%d-%m-%Y' date: chrono would read the year 25)."""
    parts, i = [], 0
    while i < len(fmt):
        for token in ("%-m", "%-d", "%.f"):
            if fmt.startswith(token, i):
                parts.append(_FORMAT_PARTS[token])
                i += len(token)
                break
        else:
            token = fmt[i:i + 2]
            if token in _FORMAT_PARTS:
                parts.append(_FORMAT_PARTS[token])
                i += 2
            elif fmt[i] == "%":
                raise ValueError(f"date format {fmt!r}: {token} is not supported in a profile")
            else:
                parts.append(re.escape(fmt[i]))
                i += 1
    return "^" + "".join(parts) + "$"


def _strptime(text: pl.Expr, dtype, fmt: str) -> pl.Expr:
    return pl.when(text.str.contains(format_pattern(fmt))).then(text.str.strptime(dtype, fmt, strict=False))


_TYPED_DATE = r"^\d{4}-\d{2}-\d{2}[ T]00:00:00(\.0+)?$"


def _parse_date(col: str, fmt: str, typed_cells: bool = True) -> pl.Expr:
    text = pl.col(col)
    if not typed_cells:  # no value of the column looks like a typed cell: the profile's format only
        return _strptime(text, pl.Date, fmt)
    # Excel cells typed as dates arrive as 'YYYY-MM-DD 00:00:00' (a typed cell, not text to guess).
    typed = text.str.contains(_TYPED_DATE)
    return pl.when(typed).then(_strptime(text.str.slice(0, 10), pl.Date, "%Y-%m-%d")).otherwise(
        _strptime(text, pl.Date, fmt))


def _datetime_candidates(col: str, fmt: str | None, typed_cells: bool = True) -> list[pl.Expr]:
    """The readings of a timestamp column, first match wins: the profile's format, the ISO forms,
    then a date alone (midnight)."""
    text = pl.col(col)
    candidates = [f for f in (fmt, "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S%.f") if f]
    return [*(_strptime(text, pl.Datetime("us"), f) for f in candidates),
            _parse_date(col, "%Y-%m-%d", typed_cells).cast(pl.Datetime("us"))]


def _parse_datetime(col: str, fmt: str | None) -> pl.Expr:
    return pl.coalesce(_datetime_candidates(col, fmt))


def _first_reading(frame: pl.DataFrame, col: str, candidates: list[pl.Expr]) -> pl.Series:
    """``pl.coalesce(candidates)`` over ``frame``, computed one reading at a time on the rows no
    earlier reading parsed (most columns hold one format: the other readings then cost nothing)."""
    result = frame.select(candidates[0].alias(col)).to_series()
    for candidate in candidates[1:]:
        open_rows = frame.select(pl.col(col).is_not_null() & result.is_null()).to_series()
        if not open_rows.any():
            break
        rows = open_rows.arg_true()
        later = frame[rows].select(candidate.alias(col)).to_series()
        result = result.scatter(rows, later)  # these rows are null so far
    return result


def cast(frame: pl.DataFrame, kind: str, profile: Profile) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Typed frame and a frame of conversion errors (source_row, reason_code, reason_text)."""
    opts = profile.read
    date_fmt = opts.get("date_format", "%Y-%m-%d")
    temporal = [c for c, t in dtypes(kind).items() if t in (pl.Date, pl.Datetime) and c in frame.columns]
    # a column none of whose values has the form of a typed Excel cell needs no typed reading
    # (the same result for every row; a CSV export has none)
    typed_cells = frame.select(pl.col(c).str.contains(_TYPED_DATE).any() for c in temporal).row(0) if temporal else ()
    typed_cells = dict(zip(temporal, typed_cells))
    exprs, later = [], {}
    for col, dtype in dtypes(kind).items():
        if dtype == pl.String:
            exprs.append(pl.col(col))
        elif dtype == pl.Date:
            exprs.append(_parse_date(col, date_fmt, typed_cells.get(col, True)).alias(col))
        elif dtype == pl.Datetime:
            later[col] = _datetime_candidates(col, opts.get("datetime_format"), typed_cells.get(col, True))
            exprs.append(pl.lit(None, pl.Datetime("us")).alias(col))
        elif dtype == pl.Float64:
            exprs.append(_parse_number(col, opts.get("decimal_comma", False)).alias(col))
        else:
            number = _parse_number(col, opts.get("decimal_comma", False))
            # an integer column takes whole numbers only: '2025.5' is no year (never truncated)
            exprs.append(pl.when(number == number.floor()).then(number).cast(dtype, strict=False).alias(col))
    typed = frame.select("source_row", *exprs)
    if later:
        typed = typed.with_columns(_first_reading(frame, col, candidates) for col, candidates in later.items())
    failures = []
    for col, dtype in dtypes(kind).items():
        if dtype == pl.String:
            continue
        bad = frame[col].is_not_null() & typed[col].is_null()
        if bad.any():
            number = ("a number in this profile's format (decimal comma, as 1.234,56: a dot only between "
                      "groups of three digits)" if opts.get("decimal_comma", False) else "a number (as 1234.56)")
            if dtype.base_type() == pl.Int64:
                number = "a whole number"
            what = {pl.Date: f"a date in the profile's format ({date_fmt})",
                    pl.Datetime: f"a timestamp ({opts.get('datetime_format') or 'YYYY-MM-DD HH:MM:SS'})"}.get(
                dtype.base_type(), number)
            failures.append(
                frame.filter(bad).select(
                    "source_row",
                    reason_code=pl.lit("invalid_type"),
                    # concat_str, not pl.format: polars 2.1 panics ("i < self.len()") in
                    # pl.format over a filtered frame holding long strings of the CSV reader
                    reason_text=pl.concat_str([pl.lit(f"column {col}: '"), quote_expr(col), pl.lit(f"' is not {what}")]),
                )
            )
    errors = pl.concat(failures) if failures else pl.DataFrame(
        schema={"source_row": pl.Int64, "reason_code": pl.String, "reason_text": pl.String}
    )
    return typed, errors
