"""The reconciliation as one SQL query over three tables, so the same classification runs
in DuckDB here and (with the dialect notes in docs/cloudtrail.md) on Athena/Trino over an
organisation's S3 trail:

- `events`: the trail (`remit.cloudtrail.store.EVENT_COLUMNS`);
- `ledger_decisions`: the ledger's decision/grant index, one row a decision
  (`LEDGER_COLUMNS`; exported by `remit.cloudtrail.reconcile.export_rows`);
- `ai_principals`: the AI principals (`AI_COLUMNS`): an ARN, the agent it belongs to, the
  prefix of its assumed-role sessions' ARNs, and its role name.

Parameters: `$since`, `$until` (the window) and `$window_seconds` (how long after an
AccessDenied a call counts as its retry). One row per event in the window: its class and
what the finding's explanation needs. Pure text; nothing runs here.
"""

from __future__ import annotations

from typing import Final

LEDGER_COLUMNS: Final[tuple[tuple[str, str], ...]] = (
    ("decision_id", "VARCHAR"),
    ("ledger_index", "BIGINT"),
    ("agent", "VARCHAR"),
    ("action", "VARCHAR"),
    ("resources", "VARCHAR[]"),
    ("tier", "VARCHAR"),
    ("fallback", "BOOLEAN"),
    ("grant_index", "BIGINT"),
    ("granted_at", "TIMESTAMPTZ"),
    ("expires_at", "TIMESTAMPTZ"),
    ("revoked_at", "TIMESTAMPTZ"),
    ("access_key_id", "VARCHAR"),
    ("session_name", "VARCHAR"),
    ("role_arn", "VARCHAR"),
    ("role_name", "VARCHAR"),
)

AI_COLUMNS: Final[tuple[tuple[str, str], ...]] = (
    ("arn", "VARCHAR"),
    ("agent", "VARCHAR"),
    ("assumed_prefix", "VARCHAR"),
    ("role_name", "VARCHAR"),
)

TRAIL_TAMPERING: Final = (
    "cloudtrail:StopLogging",
    "cloudtrail:DeleteTrail",
    "cloudtrail:UpdateTrail",
    "cloudtrail:PutEventSelectors",
)
ROLE_CHANGES: Final = (
    "iam:UpdateAssumeRolePolicy",
    "iam:AttachRolePolicy",
    "iam:DetachRolePolicy",
    "iam:PutRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:PutRolePermissionsBoundary",
    "iam:DeleteRolePermissionsBoundary",
)
DENY_POLICY: Final = "RemitRevokedSessions"


def _list(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


CLASSIFY_SQL: Final = f"""
WITH win AS (
  SELECT * FROM events
  WHERE event_time >= $since AND event_time < $until
),
joined AS (
  SELECT w.*,
    COALESCE(
      (SELECT d.decision_id FROM ledger_decisions d WHERE d.decision_id = w.source_identity),
      (SELECT min(d.decision_id) FROM ledger_decisions d
        WHERE d.access_key_id = w.access_key_id),
      (SELECT min(d.decision_id) FROM ledger_decisions d
        WHERE d.session_name = w.session_name)
    ) AS decision_id,
    (SELECT min(p.agent) FROM ai_principals p
      WHERE w.principal_arn = p.arn OR w.role_arn = p.arn
         OR starts_with(w.principal_arn, p.assumed_prefix)) AS principal_agent
  FROM win w
),
k AS (
  SELECT j.*,
    d.ledger_index, d.action AS decided_action, d.resources AS decided_resources,
    d.tier, d.granted_at, d.expires_at, d.revoked_at,
    COALESCE(d.agent, j.principal_agent) AS agent,
    (j.decision_id IS NOT NULL OR j.principal_agent IS NOT NULL) AS is_ai,
    (j.error_code IS NOT NULL AND (lower(j.error_code) LIKE '%accessdenied%'
      OR lower(j.error_code) LIKE '%unauthorized%'
      OR lower(j.error_code) IN ('forbidden', 'authorizationerror'))) AS is_denied,
    CASE WHEN j.iam_action IN ({_list(ROLE_CHANGES)})
      THEN json_extract_string(j.raw, '$.requestParameters.roleName') END AS target_role,
    CASE WHEN j.iam_action IN ({_list(ROLE_CHANGES)})
      THEN json_extract_string(j.raw, '$.requestParameters.policyName') END AS policy_name
  FROM joined j LEFT JOIN ledger_decisions d ON d.decision_id = j.decision_id
),
t AS (
  SELECT k.*,
    CASE
      WHEN error_code IS NULL AND iam_action IN ({_list(TRAIL_TAMPERING)}) THEN 'trail'
      WHEN error_code IS NULL AND iam_action IN ('iam:PutRolePolicy', 'iam:DeleteRolePolicy')
        AND policy_name = '{DENY_POLICY}'
        AND NOT (iam_action = 'iam:PutRolePolicy' AND EXISTS (
          SELECT 1 FROM ledger_decisions r
          WHERE r.role_name = k.target_role AND r.revoked_at IS NOT NULL
            AND r.revoked_at BETWEEN k.event_time - INTERVAL 10 MINUTE
                                 AND k.event_time + INTERVAL 1 MINUTE))
        THEN 'deny_list'
      WHEN error_code IS NULL AND iam_action IN ({_list(ROLE_CHANGES)})
        AND target_role IN (SELECT role_name FROM ai_principals WHERE role_name IS NOT NULL)
        AND coalesce(policy_name, '') <> '{DENY_POLICY}'
        AND NOT (decision_id IS NOT NULL AND lower(decided_action) = lower(iam_action))
        THEN 'ai_role'
    END AS tampering
  FROM k
),
retry AS (
  SELECT c.event_key,
    arg_max(x.event_id, x.event_time) AS denied_event_id,
    arg_max(x.iam_action, x.event_time) AS denied_action,
    max(x.event_time) AS denied_at
  FROM t c JOIN t x
    ON x.is_ai AND x.is_denied AND x.agent = c.agent
   AND x.event_time <= c.event_time
   AND x.event_time >= c.event_time - to_seconds($window_seconds)
   AND split_part(x.iam_action, ':', 1) = split_part(c.iam_action, ':', 1)
   AND x.event_key <> c.event_key
  WHERE c.is_ai AND NOT c.is_denied AND c.decision_id IS NULL
  GROUP BY c.event_key
)
SELECT t.event_key, t.event_id, t.event_time, t.principal, t.iam_action, t.event_source,
  t.event_name, t.resources, t.decision_id, t.ledger_index, t.decided_action,
  t.decided_resources, t.tier, t.granted_at, t.expires_at, t.revoked_at, t.tampering,
  t.target_role, retry.denied_event_id, retry.denied_action, retry.denied_at, t.agent,
  CASE
    WHEN t.tampering IS NOT NULL THEN 'governance_tampering'
    WHEN NOT t.is_ai THEN 'not_ai'
    WHEN t.is_denied THEN 'denied'
    WHEN t.decision_id IS NOT NULL THEN CASE
      WHEN t.granted_at IS NULL THEN 'out_of_scope'
      WHEN t.revoked_at IS NOT NULL AND t.event_time >= t.revoked_at THEN 'after_revocation'
      WHEN t.event_time >= t.expires_at THEN 'after_revocation'
      WHEN t.iam_action IS NULL OR lower(t.iam_action) <> lower(t.decided_action)
        THEN 'out_of_scope'
      WHEN len(list_filter(t.resources, lambda r:
             NOT len(list_filter(t.decided_resources, lambda p: r GLOB p)) > 0)) > 0
        THEN 'out_of_scope'
      ELSE 'explained' END
    WHEN retry.event_key IS NOT NULL THEN 'unauthorized_escalation'
    ELSE 'unexplained'
  END AS class
FROM t LEFT JOIN retry ON retry.event_key = t.event_key
"""
"""Every event in the window with its class (`explained`, the finding classes, `denied`,
`not_ai`) and the columns its explanation uses, in no particular order. The request's
role and policy names are read from `raw` only for the role changes that need them."""

RECONCILE_SQL: Final = CLASSIFY_SQL + "ORDER BY t.event_time, t.event_key\n"
"""`CLASSIFY_SQL` in time order: the query docs/cloudtrail.md gives."""
