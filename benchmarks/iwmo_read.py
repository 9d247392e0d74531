"""Throughput of the iWmo/iJw XML route: write a ~25 MB WMO323 (the standard's maximum message
size) and a batch of small 301 messages with the writer, then read them back with read_message.

Run: .venv/bin/python benchmarks/iwmo_read.py [--megabytes 25] [--keep DIR]
Prints messages/s, lines/s and MB/s for writing and reading, and the peak resident memory.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from pipeline.ingest.iwmo import read_message
from pipeline.ingest.iwmo_writer import write_messages

# a written Prestatie line takes about 700 bytes
_BYTES_PER_LINE = 700


def synthetic_bsns(n: int) -> list[str]:
    """n distinct synthetic 9-digit numbers starting with 99 that pass the elfproef."""
    out = []
    k = 0
    while len(out) < n:
        base = f"99{k:06d}"
        k += 1
        check = sum(int(d) * w for d, w in zip(base, range(9, 1, -1))) % 11
        if check < 10:
            out.append(base + str(check))
    return out


def declaration_frame(lines: int, message_id: str = "BENCH1") -> pl.DataFrame:
    bsns = synthetic_bsns((lines + 3) // 4)
    idx = pl.int_range(0, lines, eager=True)
    return pl.DataFrame(
        {
            "provider_agb": "12345678",
            "municipality_code": "0363",
            "law": "wmo",
            "message_id": message_id,
            "declaration_number": "DN202503",
            "declaration_period_start": "2025-03-01",
            "declaration_period_end": "2025-03-31",
            "declared_on": "2025-04-04",
            "reference_number": ("R" + idx.cast(pl.Utf8).str.zfill(9)),
            "previous_reference_number": None,
            "client_bsn": pl.Series([bsns[i // 4] for i in range(lines)]),
            "allocation_number": (100000 + idx // 2).cast(pl.Utf8),
            "product_category": "02",
            "product_code": "02A01",
            "period_start": "2025-03-01",
            "period_end": "2025-03-31",
            "volume": (1 + idx % 40).cast(pl.Utf8),
            "unit": "04",
            "tariff_eur": "62.50",
            "amount_eur": ((1 + idx % 40) * 62.5).cast(pl.Utf8),
            "debit_credit": "D",
        }
    )


def allocation_frame(clients: int) -> pl.DataFrame:
    start = date(2025, 1, 1)
    rows = clients * 2
    idx = pl.int_range(0, rows, eager=True)
    return pl.DataFrame(
        {
            "municipality_code": "0363",
            "allocation_number": (500000 + idx).cast(pl.Utf8),
            "law": "wmo",
            "client_bsn": pl.Series(synthetic_bsns(clients)).gather(idx // 2),
            "provider_agb": "12345678",
            "product_category": "02",
            "product_code": "02A01",
            "decided_on": "2024-12-15 10:00:00",
            "start_date": start.isoformat(),
            "end_date": (start + timedelta(days=364)).isoformat(),
            "volume": "4",
            "unit": "04",
            "frequency": "2",
            "budget_eur": None,
            "change_reason": None,
        }
    )


def _read_in_fresh_process(path: Path) -> str:
    code = (
        "import re, sys, time\n"
        "from pipeline.ingest.iwmo import read_message\n"
        "hwm = lambda: int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))\n"
        "base = hwm()\n"
        "t = time.perf_counter(); rows = read_message(sys.argv[1]).rows.height\n"
        "dt = time.perf_counter() - t\n"
        "peak = hwm()\n"
        "print(f'{rows} lines in {dt:.2f} s, peak RSS {peak / 1024:.0f} MB '\n"
        "      f'(after imports {base / 1024:.0f} MB)')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def _timed(fn):
    t0 = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--megabytes", type=float, default=25.0)
    parser.add_argument("--allocation-messages", type=int, default=2000)
    parser.add_argument("--keep", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = args.keep or Path(tmp)
        lines = int(args.megabytes * 1024 * 1024 / _BYTES_PER_LINE)
        frame = declaration_frame(lines)
        (paths, t_write) = _timed(lambda: write_messages("declarations", frame, out, law="wmo"))
        size = paths[0].stat().st_size / 1024 / 1024
        print(f"323 write: 1 message, {lines} lines, {size:.1f} MB in {t_write:.2f} s "
              f"({lines / t_write:,.0f} lines/s)")
        message, t_read = _timed(lambda: read_message(paths[0]))
        assert message.rows.height == lines
        print(f"323 read:  1 message, {lines} lines, {size:.1f} MB in {t_read:.2f} s "
              f"({lines / t_read:,.0f} lines/s, {size / t_read:.1f} MB/s)")
        print("323 read in a fresh process (peak memory of reading alone):",
              _read_in_fresh_process(paths[0]))

        alloc = allocation_frame(args.allocation_messages)
        sub = out / "301"
        (paths, t_write) = _timed(lambda: write_messages("allocations", alloc, sub, law="wmo"))
        print(f"301 write: {len(paths)} messages, {alloc.height} lines in {t_write:.2f} s "
              f"({len(paths) / t_write:,.0f} messages/s)")
        (rows, t_read) = _timed(lambda: sum(read_message(p).rows.height for p in paths))
        assert rows == alloc.height
        print(f"301 read:  {len(paths)} messages, {rows} lines in {t_read:.2f} s "
              f"({len(paths) / t_read:,.0f} messages/s, {rows / t_read:,.0f} lines/s)")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of the process: {peak:.0f} MB")


if __name__ == "__main__":
    main()
