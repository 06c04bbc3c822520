"""The ledger's tables, in the SQL both SQLite and PostgreSQL accept.

`entries` is the log itself; everything else is derived from it (nodes, index rows) or
signed over it (checkpoints) and can be rebuilt or checked against it.
"""

from __future__ import annotations

ENTRY_COLUMNS = ("idx", "ts", "kind", "body", "leaf_hash")
NODE_COLUMNS = ("id", "hash")
INDEX_TABLES: dict[str, tuple[str, ...]] = {
    "decisions": ("id", "idx", "agent", "action", "tier", "ts", "actor"),
    "window_actions": ("agent", "rule_id", "ts", "idx"),
    "events": ("idx", "kind", "at", "note"),
    "signoffs": ("id", "idx"),
    "approvals": (
        "decision_id",
        "idx",
        "requested_by",
        "on_behalf_of",
        "request_digest",
        "expires_at",
        "agent",
    ),
    "approval_actions": ("decision_id", "idx", "state", "actor", "comment", "ts"),
    "outcomes": ("decision_id", "idx", "status", "ts"),
    "grants": ("decision_id", "idx", "agent", "role_arn", "expires_at", "revoke_at", "ts"),
    "revocations": ("decision_id", "idx", "reason", "applied", "ts"),
    "previews": ("decision_id", "idx"),
    "grant_claims": ("decision_id", "idx", "released", "ts"),
    "access": ("idx", "action", "subject", "ts"),
    "reconciliations": ("id", "idx", "since", "until", "findings", "ts"),
    "review_samples": ("sample_id", "idx", "since", "until", "ts"),
    "review_items": ("sample_id", "decision_id", "tier", "agent", "idx"),
    "review_verdicts": ("sample_id", "decision_id", "idx", "verdict", "actor", "ts"),
    "drift_findings": ("finding_id", "idx", "agent", "ts"),
    "demotions": ("finding_id", "idx", "agent", "floor", "ts"),
    "drift_reviews": ("finding_id", "idx", "agent", "actor", "ts"),
    "change_reviews": ("since", "until", "idx", "actor", "ts"),
    "envelope_versions": ("digest", "idx", "name", "version", "ts"),
}
"""Derived index tables and their columns, in insert order."""


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
            tier TEXT NOT NULL, ts TEXT NOT NULL, actor TEXT NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS window_actions (
            agent TEXT NOT NULL, rule_id TEXT NOT NULL, ts TEXT NOT NULL, idx BIGINT NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS window_actions_by_rule ON window_actions (agent, rule_id, ts)",
        """CREATE TABLE IF NOT EXISTS events (
            idx BIGINT PRIMARY KEY, kind TEXT NOT NULL, at TEXT NOT NULL, note TEXT NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS events_by_kind ON events (kind, at)",
        "CREATE TABLE IF NOT EXISTS signoffs (id TEXT PRIMARY KEY, idx BIGINT NOT NULL)",
        """CREATE TABLE IF NOT EXISTS approvals (
            decision_id TEXT PRIMARY KEY, idx BIGINT NOT NULL, requested_by TEXT NOT NULL,
            on_behalf_of TEXT, request_digest TEXT NOT NULL, expires_at TEXT NOT NULL,
            agent TEXT NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS approvals_by_expiry ON approvals (expires_at)",
        """CREATE TABLE IF NOT EXISTS approval_actions (
            decision_id TEXT PRIMARY KEY, idx BIGINT NOT NULL, state TEXT NOT NULL,
            actor TEXT NOT NULL, comment TEXT NOT NULL, ts TEXT NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS outcomes (
            decision_id TEXT NOT NULL, idx BIGINT PRIMARY KEY, status TEXT NOT NULL,
            ts TEXT NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS outcomes_by_decision ON outcomes (decision_id)",
        """CREATE TABLE IF NOT EXISTS grants (
            decision_id TEXT PRIMARY KEY, idx BIGINT NOT NULL, agent TEXT NOT NULL,
            role_arn TEXT NOT NULL, expires_at TEXT NOT NULL, revoke_at TEXT NOT NULL,
            ts TEXT NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS revocations (
            decision_id TEXT NOT NULL, idx BIGINT PRIMARY KEY, reason TEXT NOT NULL,
            applied BOOLEAN NOT NULL, ts TEXT NOT NULL)""",
        "CREATE TABLE IF NOT EXISTS previews (decision_id TEXT PRIMARY KEY, idx BIGINT NOT NULL)",
        """CREATE TABLE IF NOT EXISTS grant_claims (
            decision_id TEXT NOT NULL, idx BIGINT PRIMARY KEY, released BOOLEAN NOT NULL,
            ts TEXT NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS grant_claims_by_decision ON grant_claims (decision_id)",
        """CREATE TABLE IF NOT EXISTS access (
            idx BIGINT PRIMARY KEY, action TEXT NOT NULL, subject TEXT NOT NULL,
            ts TEXT NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS decisions_by_ts ON decisions (ts)",
        "CREATE INDEX IF NOT EXISTS decisions_by_idx ON decisions (idx)",
        "CREATE INDEX IF NOT EXISTS approvals_by_idx ON approvals (idx)",
        "CREATE INDEX IF NOT EXISTS approval_actions_by_idx ON approval_actions (idx)",
        """CREATE TABLE IF NOT EXISTS reconciliations (
            id TEXT PRIMARY KEY, idx BIGINT NOT NULL, since TEXT, until TEXT,
            findings BIGINT NOT NULL, ts TEXT NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS review_samples (
            sample_id TEXT PRIMARY KEY, idx BIGINT NOT NULL, since TEXT NOT NULL,
            until TEXT NOT NULL, ts TEXT NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS review_items (
            sample_id TEXT NOT NULL, decision_id TEXT NOT NULL, tier TEXT NOT NULL,
            agent TEXT NOT NULL, idx BIGINT NOT NULL, PRIMARY KEY (sample_id, decision_id))""",
        "CREATE INDEX IF NOT EXISTS review_items_by_decision ON review_items (decision_id)",
        """CREATE TABLE IF NOT EXISTS review_verdicts (
            sample_id TEXT NOT NULL, decision_id TEXT NOT NULL, idx BIGINT NOT NULL,
            verdict TEXT NOT NULL, actor TEXT NOT NULL, ts TEXT NOT NULL,
            PRIMARY KEY (sample_id, decision_id))""",
        """CREATE TABLE IF NOT EXISTS drift_findings (
            finding_id TEXT PRIMARY KEY, idx BIGINT NOT NULL, agent TEXT NOT NULL,
            ts TEXT NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS demotions (
            finding_id TEXT PRIMARY KEY, idx BIGINT NOT NULL, agent TEXT NOT NULL,
            floor TEXT NOT NULL, ts TEXT NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS demotions_by_agent ON demotions (agent)",
        """CREATE TABLE IF NOT EXISTS drift_reviews (
            finding_id TEXT PRIMARY KEY, idx BIGINT NOT NULL, agent TEXT NOT NULL,
            actor TEXT NOT NULL, ts TEXT NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS change_reviews (
            since TEXT NOT NULL, until TEXT NOT NULL, idx BIGINT NOT NULL, actor TEXT NOT NULL,
            ts TEXT NOT NULL, PRIMARY KEY (since, until))""",
        """CREATE TABLE IF NOT EXISTS envelope_versions (
            digest TEXT PRIMARY KEY, idx BIGINT NOT NULL, name TEXT NOT NULL,
            version TEXT NOT NULL, ts TEXT NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS api_keys (
            id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, agent TEXT,
            secret_hash TEXT NOT NULL, created_at TEXT NOT NULL, revoked_at TEXT)""",
    ]
