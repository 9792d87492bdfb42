#!/usr/bin/python3
"""(e) of the bench: the same catalog query through Python 3 and Debian's python3-pymssql.

usage: pymssql_check.py HOST PORT USER DATABASE < query.sql   (password: $MSSQL_PASSWORD)
The query text has %(db)s wherever the database name goes; pymssql quotes it. Prints the row and
exits 0 when the database is ONLINE, 1 otherwise, like a minimal check.
"""
import os
import sys

import pymssql

host, port, user, database = sys.argv[1:5]
sql = sys.stdin.read()
conn = pymssql.connect(server=host, port=port, user=user, password=os.environ["MSSQL_PASSWORD"],
                       login_timeout=5, timeout=5, tds_version="7.3", autocommit=True)
try:
    cursor = conn.cursor(as_dict=True)
    cursor.execute(sql, {"db": database})
    rows = cursor.fetchall()
finally:
    conn.close()
print(rows)
sys.exit(0 if rows and rows[0]["state_desc"] == "ONLINE" else 1)
