"""BSN elfproef and keyed pseudonyms.

A BSN is checked with the elfproef and replaced by HMAC-SHA256(key, bsn) before anything is
stored. The HMAC is computed inside an in-memory DuckDB connection over the whole column (no
Python loop over rows) and equals Python's ``hmac.new(key, bsn, sha256).hexdigest()``. The key
lives outside the repository and the database: the environment variable ZORG_PSEUDONYM_KEY, or
the file named by ZORG_PSEUDONYM_KEY_FILE (default ``~/.config/zorgbudget/pseudonym.key``).
"""

from __future__ import annotations

import atexit
import hashlib
import os
import re
import secrets
from pathlib import Path

import duckdb
import polars as pl

_WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2, -1)
_NINE_DIGITS = re.compile(r"(?<!\d)\d{9}(?!\d)")
_BLOCK = 64  # SHA-256 block size in bytes


def elfproef_expr(col: str) -> pl.Expr:
    """True where the column holds nine digits that pass the elfproef (BSN variant)."""
    c = pl.col(col)
    weighted = pl.sum_horizontal(
        c.str.slice(i, 1).cast(pl.Int64, strict=False) * w for i, w in enumerate(_WEIGHTS)
    )
    return (c.str.contains(r"^\d{9}$").fill_null(False)) & (weighted % 11 == 0).fill_null(False) & (
        c != "000000000"
    )


def is_valid_bsn(bsn: str) -> bool:
    """Scalar elfproef, for tests and single values."""
    frame = pl.DataFrame({"b": [bsn]})
    return bool(frame.select(elfproef_expr("b")).item())


def mask_bsns(text: str) -> str:
    """Replace every nine-digit run in a message by a mask, so no BSN reaches a log or error."""
    return _NINE_DIGITS.sub("*********", text)


def mask_bsn_expr(col: str) -> pl.Expr:
    """The same mask as ``mask_bsns`` as a Polars expression over a whole column."""
    masked = pl.col(col)
    for _ in range(2):  # twice: adjacent numbers share the separator the first pass consumed
        masked = masked.str.replace_all(r"(^|\D)\d{9}(\D|$)", "${1}*********${2}")
    return masked


def default_key_file() -> Path:
    return Path(
        os.environ.get(
            "ZORG_PSEUDONYM_KEY_FILE", Path.home() / ".config" / "zorgbudget" / "pseudonym.key"
        )
    )


def load_key() -> bytes:
    """The pseudonym key, from ZORG_PSEUDONYM_KEY or the key file; never logged."""
    env = os.environ.get("ZORG_PSEUDONYM_KEY")
    if env:
        return env.encode("utf-8")
    path = default_key_file()
    if not path.exists():
        raise RuntimeError(
            f"No pseudonym key: set ZORG_PSEUDONYM_KEY or create the key file {path} "
            "(`python -m pipeline.privacy --create-key` makes one)."
        )
    return path.read_bytes().strip()


def ensure_key_file(path: Path | None = None) -> Path:
    """Create a random key file (mode 600) if none exists; return its path."""
    path = path or default_key_file()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32) + "\n", encoding="ascii")
        path.chmod(0o600)
    return path


def pseudonymise(frame: pl.DataFrame, key: bytes, column: str = "client_bsn") -> pl.Series:
    """HMAC-SHA256 hex digest of every value of ``column`` (null stays null)."""
    padded = key if len(key) <= _BLOCK else hashlib.sha256(key).digest()
    padded = padded.ljust(_BLOCK, b"\0")
    ipad = bytes(b ^ 0x36 for b in padded)
    opad = bytes(b ^ 0x5C for b in padded)
    con = _hmac_connection()
    con.register("_values", frame.select(pl.col(column).alias("v")))
    try:
        result = con.sql(
            "select case when v is null then null "
            "else sha256($o || unhex(sha256($i || encode(v)))) end as client_id from _values",
            params={"i": ipad, "o": opad},
        ).pl()
    finally:
        con.unregister("_values")
    return result["client_id"]


_HMAC: list[duckdb.DuckDBPyConnection] = []  # the one in-memory connection of this process


def _hmac_connection() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB for the HMAC, apart from the warehouse: BSNs never reach its file.

    Made once per process; at exit it is closed and dropped (a connection still referenced when
    the interpreter tears DuckDB's module down is reported by nanobind as a leaked instance)."""
    if not _HMAC:
        _HMAC.append(duckdb.connect(":memory:"))
        atexit.register(_close_hmac_connection)
    return _HMAC[0]


def _close_hmac_connection() -> None:
    while _HMAC:
        _HMAC.pop().close()


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Manage the pseudonym key")
    parser.add_argument("--create-key", action="store_true", help="create the key file if missing")
    args = parser.parse_args()
    if args.create_key:
        print(f"pseudonym key file: {ensure_key_file()}")


if __name__ == "__main__":
    main()
