"""CloudTrail: reading real trails into DuckDB, mapping each event to the IAM action that
authorized it and the resources it touched, and summarising what a trail holds.

Modules: `reader` (files and S3 objects → records, with rejections), `normalize` (a
record → one typed event row), `actions` (eventSource/eventName → IAM action or a
non-API class), `resources` (an event → resource ARNs), `store` (the DuckDB tables),
`ingest` (paths → store, idempotent), `stats` (what a stored trail holds).

It does not decide anything and does not write the ledger.
"""
