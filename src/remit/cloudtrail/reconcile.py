"""Reconciliation: every event of an AI principal in a window joined to the ledger and
given exactly one class (`explained`, `out_of_scope`, `after_revocation`, `unexplained`,
`unauthorized_escalation`), plus `governance_tampering` by any principal, `denied` for
AccessDenied-like errors of AI principals and `not_ai` for the rest.

The classification is the SQL of `remit.cloudtrail.sql`, run in DuckDB over the trail
store and an export of the ledger's decision/grant index (`export_rows`) into a temporary
table, from which the counts, the findings and the AI calls are read (never every row). This module
builds those inputs, explains each finding in a sentence, and makes the typed ledger
record of the run (`ReconciliationRecord`); the CLI appends it. It does not ingest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from remit.bulk_load import paused_collection
from remit.cloudtrail.creep import USED, Seen
from remit.cloudtrail.sql import AI_COLUMNS, CLASSIFY_SQL, LEDGER_COLUMNS
from remit.cloudtrail.store import TrailStore
from remit.domain.clock import ts_text
from remit.domain.envelope import Envelope
from remit.ledger.kinds import DecisionRecord, ReconciliationRecord
from remit.ledger.kinds.cloudtrail import COUNT_NAMES
from remit.ledger.reads import LedgerReads

ESCALATION_SECONDS: Final = 300
"""How long after an AccessDenied a call by the same agent counts as its retry."""

QUIET: Final = ("explained", "denied", "not_ai")
"""Classes that are counted but are not findings."""

_FAR_PAST: Final = datetime(1970, 1, 1, tzinfo=UTC)
_FAR_FUTURE: Final = datetime(9999, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class AiPrincipal:
    """An AI principal: an IAM role or user ARN and the agent it acts for."""

    arn: str
    agent: str

    @property
    def role_name(self) -> str | None:
        """The role's name (no path) when the ARN is a role's."""
        account, _, rest = self.arn.partition(":role/")
        return rest.rsplit("/", 1)[-1] if rest and account.startswith("arn:") else None

    def row(self) -> tuple[str, str, str | None, str | None]:
        name = self.role_name
        prefix = None
        if name:
            account = self.arn.split(":")[4]
            prefix = f"arn:aws:sts::{account}:assumed-role/{name}/"
        return (self.arn, self.agent, prefix, name)


def ai_principals(envelope: Envelope | None, extra: Iterable[str] = ()) -> list[AiPrincipal]:
    """The envelope's agents' service accounts and execution roles, plus `extra` ARNs
    (each its own agent), without duplicates, sorted."""
    found: dict[str, AiPrincipal] = {}
    if envelope is not None:
        for name, agent in envelope.agents.items():
            for arn in (agent.service_account, agent.execution_role):
                if arn:
                    found.setdefault(arn, AiPrincipal(arn, name))
    for arn in extra:
        found.setdefault(arn, AiPrincipal(arn, arn))
    return sorted(found.values(), key=lambda p: p.arn)


def export_rows(reads: LedgerReads) -> list[tuple[Any, ...]]:
    """The ledger's decision/grant index as `ledger_decisions` rows (`LEDGER_COLUMNS`)."""
    return ledger_export(reads)[0]


def ledger_export(
    reads: LedgerReads,
) -> tuple[list[tuple[Any, ...]], dict[str, DecisionRecord]]:
    """`export_rows`, and every decision by id (for the trust-creep report)."""
    revoked = reads.revocation_times()
    rows: list[tuple[Any, ...]] = []
    decisions: dict[str, DecisionRecord] = {}
    with paused_collection():
        for decision, grant in reads.decisions_and_grants():
            d = decision.record
            decisions[d.id] = d
            g = grant.record if grant else None
            rows.append((
                d.id, decision.index, d.agent, d.action, d.resource_arns, d.tier.value,
                d.request.get("fallback") is not None,
                grant.index if grant else None,
                grant.ts if grant else None,
                ts_text(g.expires_at) if g else None,
                ts_text(revoked[d.id]) if d.id in revoked else None,
                (g.access_key_id or None) if g else None,
                g.session_name if g else None,
                g.role_arn if g else None,
                g.role_arn.rsplit("/", 1)[-1] if g else None,
            ))  # fmt: skip
    return rows, decisions


@dataclass(frozen=True, slots=True)
class Outcome:
    """A run's result: counts per class, the findings, the digest of the trail files read."""

    counts: dict[str, int]
    findings: list[dict[str, Any]]
    trail_digest: str
    trail_files: int
    events: int
    calls: list[Seen]


def classify(
    store: TrailStore,
    ledger_rows: Sequence[tuple[Any, ...]],
    principals: Sequence[AiPrincipal],
    since: datetime | None,
    until: datetime | None,
    window_seconds: int = ESCALATION_SECONDS,
) -> Outcome:
    """Run the reconciliation SQL over the store and the exported ledger index."""
    store.load_temp("ledger_decisions", LEDGER_COLUMNS, ledger_rows)
    store.load_temp("ai_principals", AI_COLUMNS, (p.row() for p in principals))
    params = {
        "since": since or _FAR_PAST,
        "until": until or _FAR_FUTURE,
        "window_seconds": float(window_seconds),
    }
    con = store.con
    con.execute(f"CREATE OR REPLACE TEMP TABLE reconciled AS {CLASSIFY_SQL}", params)
    counts = dict.fromkeys(COUNT_NAMES, 0)
    for cls, n in con.execute("SELECT class, count(*) FROM reconciled GROUP BY class").fetchall():
        counts[str(cls)] += int(n)
    cur = con.execute(
        "SELECT * FROM reconciled WHERE NOT list_contains($quiet, class) "
        "ORDER BY event_time, event_key",
        {"quiet": list(QUIET)},
    )
    names = [c[0] for c in cur.description or ()]
    findings = [_finding(dict(zip(names, r, strict=True))) for r in cur.fetchall()]
    with paused_collection():
        calls = [
            Seen(*r)
            for r in con.execute(
                "SELECT agent, iam_action, class, event_id, event_time, decision_id "
                "FROM reconciled WHERE list_contains($used, class) "
                "AND agent <> '' AND iam_action <> '' "
                "ORDER BY event_time, event_key",
                {"used": sorted(USED)},
            ).fetchall()
        ]
    con.execute("DROP TABLE reconciled")
    digests = store.con.execute(
        "SELECT DISTINCT file_digest FROM events WHERE event_time >= $since "
        "AND event_time < $until ORDER BY 1",
        {"since": params["since"], "until": params["until"]},
    ).fetchall()
    h = hashlib.sha256()
    for (d,) in digests:
        h.update(str(d).encode() + b"\n")
    return Outcome(counts, findings, h.hexdigest(), len(digests), sum(counts.values()), calls)


def _finding(row: dict[str, Any]) -> dict[str, Any]:
    cls = str(row["class"])
    action = row["iam_action"] or f"{row['event_source']}:{row['event_name']}"
    return {
        "class": cls,
        "event_id": row["event_id"],
        "event_time": ts_text(row["event_time"]),
        "principal": row["principal"],
        "action": action,
        "resources": list(row["resources"] or ()),
        "decision_id": row["decision_id"],
        "ledger_index": row["ledger_index"],
        "why": why(cls, row, action),
    }


def why(cls: str, row: dict[str, Any], action: str) -> str:
    """The finding's explanation, in a sentence."""
    did = row["decision_id"]
    scope = (
        ""
        if row["resources"]
        else " (no resource could be derived from the event: checked at action level)"
    )
    if cls == "governance_tampering":
        what = {
            "trail": "stops or blinds the CloudTrail trail",
            "deny_list": "removes or edits Remit's RemitRevokedSessions deny policy outside "
            "a recorded revocation",
            "ai_role": f"changes the AI role {row['target_role']} (trust or policies) "
            "outside a decision",
        }[str(row["tampering"])]
        return f"{action} {what}."
    if cls == "after_revocation":
        if row["revoked_at"] is not None and row["event_time"] >= row["revoked_at"]:
            return (
                f"{action} used decision {did}'s credentials at {ts_text(row['event_time'])}, "
                f"after they were revoked at {ts_text(row['revoked_at'])}."
            )
        return (
            f"{action} used decision {did}'s credentials at {ts_text(row['event_time'])}, "
            f"after they expired at {ts_text(row['expires_at'])}."
        )
    if cls == "out_of_scope":
        if row["granted_at"] is None:
            return f"{action} names decision {did} ({row['tier']}), which was never granted."
        if row["iam_action"] is None or action.lower() != str(row["decided_action"]).lower():
            return f"{action} is not the action decision {did} allowed ({row['decided_action']})."
        outside = sorted(set(row["resources"]) - set(row["decided_resources"] or ()))
        return (
            f"{action} touched {', '.join(outside)}, which decision {did} did not allow "
            f"(it allowed {', '.join(row['decided_resources'] or ())})."
        )
    if cls == "unauthorized_escalation":
        return (
            f"{action} follows an AccessDenied for {row['denied_action']} "
            f"(event {row['denied_event_id']}) by the same agent within "
            f"the escalation window, with no fallback decision{scope}."
        )
    return f"{action} by an AI principal joins to no decision on the ledger{scope}."


def run_id(inputs: dict[str, Any], since: datetime | None, until: datetime | None) -> str:
    """A run's id: a digest of its inputs and window (one run of the same inputs, one id)."""
    text = repr((sorted(inputs.items()), since and ts_text(since), until and ts_text(until)))
    return "rec-" + hashlib.sha256(text.encode()).hexdigest()[:24]


def make_record(
    outcome: Outcome,
    principals: Sequence[AiPrincipal],
    since: datetime | None,
    until: datetime | None,
    ledger_size: int,
    ledger_root: str,
    at: datetime,
    trust_creep: dict[str, Any] | None = None,
) -> ReconciliationRecord:
    """The ledger record of a run made at `at`."""
    inputs: dict[str, Any] = {
        "trail": outcome.trail_digest,
        "trail_files": outcome.trail_files,
        "events": outcome.events,
        "ledger_size": ledger_size,
        "ledger_root": ledger_root,
        "at": ts_text(at),
    }
    return ReconciliationRecord(
        run_id(inputs, since, until),
        since,
        until,
        inputs,
        tuple(p.arn for p in principals),
        outcome.counts,
        tuple(outcome.findings),
        trust_creep,
    )
