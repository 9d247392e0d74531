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


def reevaluate(conn: duckdb.DuckDBPyConnection, kind: str, columns: list[str]) -> set[str]:
    """Re-decide every row sharing a key with ``_touched``; move rows whose decision changed.
    Returns the files whose rows moved. Drops ``_touched``."""
    rule = RULES[kind]
    held = held_table(kind)
    key = rule.key
    cols = ", ".join(key)
    _key_table(conn, kind, "_keys")
    conn.execute(f"insert into _keys select distinct {cols} from _touched")
    conn.execute("drop table _touched")
    if rule.credits:
        # the rows whose own key is touched, and the credits naming a touched debit key (their
        # own key group is decided again with them)
        a, b, ref = key
        conn.execute(f"""
            insert into _keys
            select distinct r.{a}, r.{b}, r.{ref} from (
                select {a}, {b}, {ref}, previous_reference_number from raw.{kind} where previous_reference_number is not null
                union all select {a}, {b}, {ref}, previous_reference_number from {held}
                where previous_reference_number is not null) r
            semi join _keys k on k.{a} = r.{a} and k.{b} = r.{b} and k.{ref} = r.previous_reference_number""")
        conn.execute(f"create or replace temp table _distinct_keys as select distinct {cols} from _keys")
        _key_table(conn, kind, "_keys")
        conn.execute(f"insert into _keys select {cols} from _distinct_keys")
        conn.execute("drop table _distinct_keys")
    extra = ", debit_credit, previous_reference_number" if rule.credits else ""
    body = [c for c in columns if c not in ("source_file", "source_row", "route")]
    content = "" if rule.credits or kind == "delivered_hours" else f", hash({', '.join(body)}) as _content"
    conn.execute(f"""
        create or replace temp table _cand as
        select c.*, coalesce(m.first_loaded_at, m.loaded_at) as _first
        from (
            select source_file, source_row, {cols}{extra}{content}, 'loaded' as _loc, null::varchar as _old
            from raw.{kind} r semi join _keys k on ({_eq('r', 'k', key)})
            union all
            select source_file, source_row, {cols}{extra}{content}, 'held', reason_code
            from {held} r semi join _keys k on ({_eq('r', 'k', key)})
        ) c left join raw.manifest m using (source_file)""")
    order = "_first, source_file, source_row"
    if rule.credits:
        a, b, ref = key
        # hash joins and a grouping, not a window over every row: only keys held more than once
        # are ranked, and credits find their debit by a join
        conn.execute(f"""
            create or replace temp table _eval as
            with repeated as (select {cols} from _cand group by all having count(*) > 1),
            duplicates as (
                select source_file, source_row from (
                    select source_file, source_row,
                           row_number() over (partition by {cols} order by {order}) as _rank
                    from _cand semi join repeated using ({cols}))
                where _rank > 1),
            ranked as (
                select c.*, d.source_row is not null as _dup from _cand c
                left join duplicates d using (source_file, source_row)),
            debits as (
                select distinct {a}, {b}, {ref} from (
                    select {a}, {b}, {ref} from ranked where not _dup and debit_credit = 'D'
                    union all
                    select r.{a}, r.{b}, r.{ref} from raw.{kind} r
                    semi join (select {a}, {b}, previous_reference_number as {ref} from ranked
                               where debit_credit = 'C') c on ({_eq('r', 'c', key)})
                    anti join _keys k on ({_eq('r', 'k', key)})
                    where r.debit_credit = 'D')),
            credited as (
                select c.source_file, c.source_row from ranked c
                join debits d on d.{a} = c.{a} and d.{b} = c.{b} and d.{ref} = c.previous_reference_number
                where c.debit_credit = 'C')
            select r.source_file, r.source_row, r._loc, r._old,
                   case when r._dup then 'duplicate_reference'
                        when r.debit_credit = 'C' and k.source_row is null then 'credit_without_debit'
                   end as _new
            from ranked r left join credited k using (source_file, source_row)""")
    elif kind == "delivered_hours":
        conn.execute(f"""
            create or replace temp table _eval as
            select source_file, source_row, _loc, _old,
                   case when row_number() over (partition by {cols} order by {order}) > 1 then 'duplicate_row' end as _new
            from _cand""")
    else:  # allocations
        conn.execute(f"""
            create or replace temp table _eval as
            select source_file, source_row, _loc, _old,
                   case when count(distinct _content) over (partition by {cols}) > 1 then 'conflicting_version' end as _new
            from _cand""")
    conn.execute("create or replace temp table _moves as select * from _eval where _new is distinct from _old")
    moved = {f for (f,) in conn.execute("select distinct source_file from _moves").fetchall()}
    if moved:
        texts = " ".join(f"when '{code}' then '{text}'" for code, text in TEXTS[kind].items())
        # loaded -> held
        conn.execute(f"""
            insert into {held} by name select {', '.join('r.' + c for c in columns)}, m._new as reason_code
            from raw.{kind} r join _moves m using (source_file, source_row) where m._loc = 'loaded'""")
        conn.execute(f"""
            delete from raw.{kind} r using _moves m
            where m._loc = 'loaded' and r.source_file = m.source_file and r.source_row = m.source_row""")
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
    for table in ("_keys", "_cand", "_eval", "_moves"):
        conn.execute(f"drop table {table}")
    return moved
