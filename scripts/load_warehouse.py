"""Load the cleaned sales into a small SQLite warehouse table, for the SQL step after it.

Usage: load_warehouse.py CLEAN_CSV WAREHOUSE_DB (the demo passes both from its work_dir).
"""

import csv
import sqlite3
import sys

from nbflow import glue

source, target = sys.argv[1], sys.argv[2]
with open(source, newline="") as fh:
    rows = [
        (r["order_id"], r["date"], r["region"], r["product"], int(r["units"]), float(r["revenue"]))
        for r in csv.DictReader(fh)
    ]
with sqlite3.connect(target) as db:
    db.execute("drop table if exists sales")
    db.execute(
        "create table sales (order_id text, date text, region text, product text,"
        " units integer, revenue real)"
    )
    db.executemany("insert into sales values (?, ?, ?, ?, ?, ?)", rows)
print(f"loaded {len(rows)} rows into {target}")
glue("rows_loaded", len(rows))
