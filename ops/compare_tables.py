#!/usr/bin/env python3
"""Compares the tables two runs published under `current/` (issue #11: behaviour unchanged).

`python3 ops/compare_tables.py OUT_A OUT_B` reads every Parquet file under `OUT_A/current/` and
its namesake under `OUT_B/current/`, drops what names the run (`run_id` everywhere; the
quarantine's `first_seen_run`; the exception register's `first_seen_run`, `last_seen_run`,
`resolved_in_run`, `status_history` — the same exceptions as
`tests/it/common.rs::assert_same_tables_except_run_id`) and requires the same schema (with its
footer metadata) and the same rows in the same order. Exits 1 on any difference.
"""
import os
import re
import sys

import pyarrow.parquet as pq

RUN_COLUMNS = {"run_id", "first_seen_run", "last_seen_run", "resolved_in_run", "status_history"}


# History tables (quarantine, metrics_history) keep one file per run, named by its run id.
RUN_FILE = re.compile(r"^\d{8}T\d{9}Z-[0-9a-f]+\.parquet$")


def files(root):
    """{key: path}: every Parquet file under current/, a run-named file keyed `<run_id>.parquet`."""
    out = {}
    for d, _, names in os.walk(os.path.join(root, "current")):
        for n in names:
            if n.endswith(".parquet"):
                key = os.path.join(d, "<run_id>.parquet" if RUN_FILE.match(n) else n)
                out[os.path.relpath(key, root)] = os.path.join(d, n)
    return out


def main():
    a, b = sys.argv[1], sys.argv[2]
    fa, fb = files(a), files(b)
    bad = 0
    if sorted(fa) != sorted(fb):
        print(f"different files: only in {a}: {sorted(set(fa) - set(fb))}, only in {b}: {sorted(set(fb) - set(fa))}")
        bad += 1
    for f in sorted(fa):
        if f not in fb:
            continue
        ta, tb = pq.read_table(fa[f]), pq.read_table(fb[f])
        drop = [c for c in ta.column_names if c in RUN_COLUMNS]
        ta, tb = ta.drop_columns(drop), tb.drop_columns([c for c in tb.column_names if c in RUN_COLUMNS])
        same_schema = ta.schema.equals(tb.schema, check_metadata=True)
        same_rows = ta.equals(tb)
        status = "same" if same_schema and same_rows else "DIFFERENT"
        if status != "same":
            bad += 1
        print(f"{status:9} {f} ({ta.num_rows} rows, {ta.num_columns} columns compared, dropped {drop})")
    print(f"{len(fa)} files compared, {bad} different")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
