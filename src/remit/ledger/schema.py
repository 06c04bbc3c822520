"""The ledger's tables, in the SQL both SQLite and PostgreSQL accept.

`entries` is the log itself; everything else is derived from it (nodes, index rows) or
signed over it (checkpoints) and can be rebuilt or checked against it.
"""

from __future__ import annotations


def ddl(blob: str) -> list[str]:
    """CREATE statements, with the dialect's binary type name."""
    return [
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        f"""CREATE TABLE IF NOT EXISTS entries (
            idx BIGINT PRIMARY KEY, ts TEXT NOT NULL, kind TEXT NOT NULL,
            body {blob} NOT NULL, leaf_hash {blob} NOT NULL)""",
        f"CREATE TABLE IF NOT EXISTS nodes (id BIGINT PRIMARY KEY, hash {blob} NOT NULL)",
        f"""CREATE TABLE IF NOT EXISTS checkpoints (
            size BIGINT PRIMARY KEY, root {blob} NOT NULL, note TEXT NOT NULL, ts TEXT NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS decisions (
            id TEXT PRIMARY KEY, idx BIGINT NOT NULL, agent TEXT NOT NULL, action TEXT NOT NULL,
            tier TEXT NOT NULL, ts TEXT NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS window_actions (
            agent TEXT NOT NULL, rule_id TEXT NOT NULL, ts TEXT NOT NULL, idx BIGINT NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS window_actions_by_rule ON window_actions (agent, rule_id, ts)",
        """CREATE TABLE IF NOT EXISTS events (
            idx BIGINT PRIMARY KEY, kind TEXT NOT NULL, at TEXT NOT NULL, note TEXT NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS events_by_kind ON events (kind, at)",
        "CREATE TABLE IF NOT EXISTS signoffs (id TEXT PRIMARY KEY, idx BIGINT NOT NULL)",
    ]
