"""Remit's ledger: the typed records it keeps (one class per entry kind), the stores that
persist them (SQLite, PostgreSQL) with their derived index tables, typed reads, and
verification, export and audit bundles.

The Merkle maths, signed notes and checkpoints live in ``remit.tlog``; this package
stores and reads. Import from the submodules.
"""
