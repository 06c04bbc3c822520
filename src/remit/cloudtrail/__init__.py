"""CloudTrail: reading real trails into DuckDB, mapping each event to the IAM action that
authorized it and the resources it touched, and reconciling AI principals' calls with the
decisions on the ledger (PRODUCT.md B2, T4, T5).

Modules: `reader` and `s3source` (files, folders and S3 objects → records, with
rejections), `normalize` (a record → one typed event row), `actions` (eventSource/
eventName → IAM action or a non-API class), `resources` (an event → resource ARNs),
`store` (the DuckDB tables), `ingest` (paths → store, idempotent), `stats` (what a stored
trail holds), `sql` (the reconciliation as SQL), `reconcile` (its inputs, explanations and
ledger record), `creep` (trust creep), `audit` (the service-account audit), `views` (what
the service shows), `moto_trail` (the embedded stack's stand-in trail).

It decides nothing; the CLI appends the reconciliation record to the ledger.
"""
