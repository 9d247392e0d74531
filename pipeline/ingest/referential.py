"""Referential decisions of the ingest, re-evaluated whenever the rows they depend on change.

Some rows are quarantined not for what they hold but for their relation to other rows:

- ``duplicate_reference`` (declarations, zvw_declarations): the reference number was declared
  before; the row loaded first (by the file's first load, then file name and row) keeps it;
- ``credit_without_debit``: a credit whose ``previous_reference_number`` names no loaded debit;
- ``duplicate_row`` (delivered_hours): an exact copy of a row already loaded;
- ``conflicting_version`` (allocations): two rows of one allocation with the same ``decided_on``
  but different content; no row of such a version is loaded (which is right cannot be told).

Such a row is kept, typed and pseudonymised, in ``raw.<kind>_held`` beside its quarantine
record. Each commit re-evaluates the rows that share a key with a row inserted or deleted by the
commit (one semi join of the raw and held tables on those keys, never a re-read of any file):
rows whose decision changed move between ``raw.<kind>`` and ``raw.<kind>_held`` and the
quarantine follows, so every row stays in exactly one place. The manifest counts of every file
touched are recounted, and the staging builds' record of the moved files is dropped from
``meta.build_files`` so that incremental builds rebuild their rows.

(Unknown or deleted allocations and periods outside the allocation stay in staging, marked in
``allocation_issue``, which every staging build computes again from the current allocations.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import duckdb

from pipeline.ingest.bounds import MAX_FIELD


@dataclass(frozen=True)
class Rule:
    key: tuple[str, ...]  # the columns whose rows decide together
    codes: tuple[str, ...]  # the reason codes this rule gives
    credits: bool = False  # declarations: credits and their debits


RULES: dict[str, Rule] = {
    "declarations": Rule(("provider_agb", "law", "reference_number"),
                         ("duplicate_reference", "credit_without_debit"), credits=True),
    "zvw_declarations": Rule(("insurer_code", "provider_agb", "reference_number"),
                             ("duplicate_reference", "credit_without_debit"), credits=True),
    "delivered_hours": Rule(("municipality_code", "law", "allocation_number", "provider_agb", "client_id",
                             "week", "month", "hours"), ("duplicate_row",)),
    "allocations": Rule(("municipality_code", "law", "allocation_number", "decided_on"), ("conflicting_version",)),
}

TEXTS: dict[str, dict[str, str]] = {
    "declarations": {
        "duplicate_reference": "reference_number was already declared by this provider (another file or an earlier row)",
        "credit_without_debit": "credit line whose previous_reference_number names no known debit line",
    },
    "zvw_declarations": {
        "duplicate_reference": "reference_number was already submitted by this provider to this insurer",
        "credit_without_debit": "credit line whose previous_reference_number names no known debit line",
    },
    "delivered_hours": {"duplicate_row": "an exact copy of a row already loaded (same allocation, period and hours)"},
    "allocations": {"conflicting_version": "another row of this allocation has the same decided_on but other "
                                           "content; no row of this version is loaded"},
}


def held_table(kind: str) -> str:
    return f"raw.{kind}_held"


def ensure_held(conn: duckdb.DuckDBPyConnection, kind: str, columns: dict[str, str]) -> None:
    ddl = ", ".join(f"{c} {t}" for c, t in columns.items())
    conn.execute(f"create table if not exists {held_table(kind)} ({ddl}, reason_code varchar)")
    for column, duck_type in columns.items():  # columns added to the kind since the table was made
        conn.execute(f"alter table {held_table(kind)} add column if not exists {column} {duck_type}")


def _eq(a: str, b: str, cols: tuple[str, ...]) -> str:
    return " and ".join(f"{a}.{c} is not distinct from {b}.{c}" for c in cols)


def _key_table(conn: duckdb.DuckDBPyConnection, kind: str, name: str, replace: bool = True) -> None:
    """An empty temp table of the kind's key columns, declared with their types: in duckdb 2.0 a
    temp table made empty by ``create ... as select ... limit 0`` inside a transaction loses the
    rows of its first insert at the second insert (reproduced in tests/test_hostile_corpus.py)."""
    types = dict(conn.execute(
        "select column_name, data_type from information_schema.columns where table_schema = 'raw' "
        "and table_name = ?", [kind]).fetchall())
    ddl = ", ".join(f"{c} {types[c]}" for c in RULES[kind].key)
    conn.execute(f"create {'or replace ' if replace else ''}temp table {'' if replace else 'if not exists '}{name} ({ddl})")


def note_touched(conn: duckdb.DuckDBPyConnection, kind: str, source: str) -> None:
    """Add the keys of the rows of ``source`` (a table or query with the kind's columns) to
    ``_touched``: those rows are being inserted or deleted."""
    rule = RULES[kind]
    cols = ", ".join(rule.key)
    _key_table(conn, kind, "_touched", replace=False)
    conn.execute(f"insert into _touched select distinct {cols} from ({source})")
    if rule.credits:  # a credit's debit key
        a, b, _ = rule.key
        conn.execute(f"insert into _touched select distinct {a}, {b}, previous_reference_number "
                     f"from ({source}) where previous_reference_number is not null")


def _record_sql(conn: duckdb.DuckDBPyConnection, kind: str, alias: str) -> str:
    """A held row as the quarantine's JSON record: client_id left out, each text field bounded
    (the JSON stays valid), nine-digit runs masked."""
    types = conn.execute("select column_name, data_type from information_schema.columns where table_schema = 'raw' "
                         "and table_name = ? order by ordinal_position", [f"{kind}_held"]).fetchall()
    fields = []
    for column, data_type in types:
        if column == "client_id":
            continue
        value = f"{alias}.{column}"
        if data_type == "VARCHAR":
            value = (f"case when length({value}) > {MAX_FIELD} then left({value}, {MAX_FIELD}) || '… [' || "
                     f"length({value}) || ' characters, cut]' else {value} end")
        fields.append(f"{column} := {value}")
    text = f"to_json(struct_pack({', '.join(fields)}))::varchar"
    for _ in range(2):
        text = f"regexp_replace({text}, '(^|\\D)\\d{{9}}(\\D|$)', '\\1*********\\2', 'g')"
    return text


def reevaluate(conn: duckdb.DuckDBPyConnection, kind: str, columns: list[str], new: str | None = None,
               insert_new: Callable[[], None] | None = None) -> set[str]:
    """Re-decide every row sharing a key with ``_touched``; move rows whose decision changed.
    Returns the files whose rows moved. Drops ``_touched``.

    ``new`` names a relation (a registered frame) of rows about to be inserted, whose keys are in
    ``_touched``: they are decided with the stored rows before they are written, so a row the rules
    hold goes straight to the held table and is never inserted and deleted again in the same
    transaction (a delete of rows written in the same transaction makes DuckDB's commit rewrite
    them: about two seconds per million lines). ``insert_new`` is then called to insert the rows of
    ``new`` that are not in ``_held_new`` (a temp table of their ``source_file, source_row``) into
    ``raw.<kind>``, before the stored rows move, so the table's order is that of a plain insert."""
    _decide(conn, kind, columns, new)
    if new is not None:
        conn.execute("create or replace temp table _held_new as "
                     "select source_file, source_row from _moves where _loc = 'new'")
        if insert_new is not None:
            insert_new()
        conn.execute("drop table _held_new")
    moved = {f for (f,) in conn.execute("select distinct source_file from _moves").fetchall()}
    if moved:
        _apply(conn, kind, columns, new)
    for table in ("_keys", "_cand", "_moves"):
        conn.execute(f"drop table {table}")
    return moved


def _decide(conn: duckdb.DuckDBPyConnection, kind: str, columns: list[str], new: str | None) -> None:
    """``_keys`` (every key decided again), ``_cand`` (their rows) and ``_moves`` (the rows whose
    decision changes: ``_loc`` loaded, held or new, ``_old`` and ``_new`` reason codes)."""
    rule = RULES[kind]
    held = held_table(kind)
    key = rule.key
    cols = ", ".join(key)
    _key_table(conn, kind, "_keys")
    if rule.credits:
        # the rows whose own key is touched, and the credits naming a touched debit key (their
        # own key group is decided again with them)
        a, b, ref = key
        conn.execute(f"""
            insert into _keys
            select distinct {cols} from (
                select {cols} from _touched
                union all
                select r.{a}, r.{b}, r.{ref} from (
                    select {a}, {b}, {ref}, previous_reference_number from raw.{kind}
                    where previous_reference_number is not null
                    union all select {a}, {b}, {ref}, previous_reference_number from {held}
                    where previous_reference_number is not null) r
                semi join _touched k on k.{a} = r.{a} and k.{b} = r.{b} and k.{ref} = r.previous_reference_number)""")
    else:
        conn.execute(f"insert into _keys select distinct {cols} from _touched")
    conn.execute("drop table _touched")
    extra = ", debit_credit, previous_reference_number" if rule.credits else ""
    body = [c for c in columns if c not in ("source_file", "source_row", "route")]
    hashed = not rule.credits and kind != "delivered_hours"
    content = f", hash({', '.join(body)}) as _content" if hashed else ""
    new_rows = ""
    if new is not None:
        # the batch's rows, typed as the raw table types them (their content hash must equal the
        # hash of the same row once stored)
        types = dict(conn.execute(
            "select column_name, data_type from information_schema.columns where table_schema = 'raw' "
            "and table_name = ?", [kind]).fetchall())
        typed = {c: f"{c}::{types[c]}" for c in columns}
        new_content = f", hash({', '.join(typed[c] for c in body)})" if hashed else ""
        new_extra = ", debit_credit::varchar, previous_reference_number::varchar" if rule.credits else ""
        new_rows = f"""
            union all
            select source_file::varchar, source_row::bigint, {', '.join(typed[c] for c in key)}{new_extra}{new_content},
                   'new', null::varchar
            from {new}"""
    conn.execute(f"""
        create or replace temp table _cand as
        select c.*, coalesce(m.first_loaded_at, m.loaded_at) as _first
        from (
            select source_file, source_row, {cols}{extra}{content}, 'loaded' as _loc, null::varchar as _old
            from raw.{kind} r semi join _keys k on ({_eq('r', 'k', key)})
            union all
            select source_file, source_row, {cols}{extra}{content}, 'held', reason_code
            from {held} r semi join _keys k on ({_eq('r', 'k', key)}){new_rows}
        ) c left join raw.manifest m using (source_file)""")
    order = "_first, source_file, source_row"
    # Only keys held more than once can break a rule of duplicates or versions: they alone are
    # ranked (hash joins and a grouping, not a window over every row). The verdicts are computed
    # for the rows that break a rule; every other row passes.
    if rule.credits:
        a, b, ref = key
        verdicts = f"""
            with repeated as (select {cols} from _cand group by all having count(*) > 1),
            duplicates as (
                select source_file, source_row from (
                    select source_file, source_row,
                           row_number() over (partition by {cols} order by {order}) as _rank
                    from _cand semi join repeated using ({cols}))
                where _rank > 1),
            credits as (
                select source_file, source_row, {a}, {b}, previous_reference_number from _cand
                where debit_credit = 'C'),
            debits as (
                select distinct {a}, {b}, {ref} from (
                    select c.{a}, c.{b}, c.{ref} from _cand c
                    semi join credits k on k.{a} = c.{a} and k.{b} = c.{b} and k.previous_reference_number = c.{ref}
                    anti join duplicates d using (source_file, source_row)
                    where c.debit_credit = 'D'
                    union all
                    select r.{a}, r.{b}, r.{ref} from raw.{kind} r
                    semi join (select {a}, {b}, previous_reference_number as {ref} from credits) c
                        on ({_eq('r', 'c', key)})
                    anti join _keys k on ({_eq('r', 'k', key)})
                    where r.debit_credit = 'D'))
            select source_file, source_row, 'duplicate_reference' as _new from duplicates
            union all
            select c.source_file, c.source_row, 'credit_without_debit' from credits c
            anti join duplicates d using (source_file, source_row)
            anti join debits d on d.{a} = c.{a} and d.{b} = c.{b} and d.{ref} = c.previous_reference_number"""
    elif kind == "delivered_hours":
        verdicts = f"""
            select source_file, source_row, 'duplicate_row' as _new from (
                select source_file, source_row, row_number() over (partition by {cols} order by {order}) as _rank
                from _cand semi join (select {cols} from _cand group by all having count(*) > 1) r
                    on ({_eq('_cand', 'r', key)}))
            where _rank > 1"""
    else:  # allocations
        verdicts = f"""
            select source_file, source_row, 'conflicting_version' as _new from (
                select source_file, source_row, count(distinct _content) over (partition by {cols}) as _versions
                from _cand semi join (select {cols} from _cand group by all having count(*) > 1) r
                    on ({_eq('_cand', 'r', key)}))
            where _versions > 1"""
    conn.execute(f"""
        create or replace temp table _moves as
        select c.source_file, c.source_row, c._loc, c._old, v._new
        from _cand c left join ({verdicts}) v using (source_file, source_row)
        where (v._new is not null or c._old is not null) and v._new is distinct from c._old""")


def _apply(conn: duckdb.DuckDBPyConnection, kind: str, columns: list[str], new: str | None) -> None:
    """Carry out ``_moves``: rows move between raw.<kind> and its held table, held rows of ``new``
    go to the held table, and the quarantine follows."""
    rule = RULES[kind]
    held = held_table(kind)
    texts = " ".join(f"when '{code}' then '{text}'" for code, text in TEXTS[kind].items())
    # loaded -> held
    conn.execute(f"""
        insert into {held} by name select {', '.join('r.' + c for c in columns)}, m._new as reason_code
        from raw.{kind} r join _moves m using (source_file, source_row) where m._loc = 'loaded'""")
    conn.execute(f"""
        delete from raw.{kind} r using _moves m
        where m._loc = 'loaded' and r.source_file = m.source_file and r.source_row = m.source_row""")
    if new is not None:  # new -> held
        conn.execute(f"""
            insert into {held} by name select {', '.join('n.' + c for c in columns)}, m._new as reason_code
            from {new} n join _moves m using (source_file, source_row) where m._loc = 'new'""")
    # held -> loaded
    conn.execute(f"""
        insert into raw.{kind} by name select {', '.join('h.' + c for c in columns)}
        from {held} h join _moves m using (source_file, source_row) where m._loc = 'held' and m._new is null""")
    conn.execute(f"""
        delete from {held} h using _moves m
        where m._loc = 'held' and m._new is null and h.source_file = m.source_file and h.source_row = m.source_row""")
    # held, for another reason
    conn.execute(f"""
        update {held} h set reason_code = m._new from _moves m
        where m._loc = 'held' and m._new is not null
        and h.source_file = m.source_file and h.source_row = m.source_row""")
    # the quarantine follows the held table
    codes = ", ".join(f"'{c}'" for c in rule.codes)
    conn.execute(f"""
        delete from raw.quarantine q using _moves m
        where q.kind = '{kind}' and q.source_file = m.source_file and q.source_row = m.source_row
        and q.reason_code in ({codes})""")
    conn.execute(f"""
        insert into raw.quarantine
        select t.source_file, '{kind}', t.source_row, t.reason_code, case t.reason_code {texts} end,
               {_record_sql(conn, kind, 't')}, now()
        from (select h.* from {held} h semi join
              (select * from _moves where _new is not null) m using (source_file, source_row)) t
        order by t.source_file, t.source_row""")
