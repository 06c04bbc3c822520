"""What the service shows of reconciliation: the findings of the latest recorded run
(filtered by class, principal and event time) and, per AI agent, its principals, the
actions decisions justified, and the latest run's findings against it. Reads the ledger
through typed reads only; no HTTP here (the routes are `remit.server.routes.findings`).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from remit.cloudtrail.reconcile import ai_principals
from remit.domain.clock import parse_ts, ts_text
from remit.domain.envelope import Envelope
from remit.ledger.kinds import ReconciliationRecord
from remit.ledger.reads import LedgerReads
from remit.ledger.records import Recorded


def _run_header(run: Recorded[ReconciliationRecord] | None) -> dict[str, Any]:
    if run is None:
        return {"run_id": None, "ledger_index": None, "recorded_at": None, "since": None,
                "until": None, "counts": None}  # fmt: skip
    r = run.record
    return {
        "run_id": r.run_id,
        "ledger_index": run.index,
        "recorded_at": run.ts,
        "since": ts_text(r.since) if r.since else None,
        "until": ts_text(r.until) if r.until else None,
        "counts": dict(r.counts),
    }


def findings_view(
    reads: LedgerReads,
    cls: str | None = None,
    principal: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    """The latest run's findings that match every filter given (`until` exclusive)."""
    runs = reads.reconciliations(1)
    run = runs[0] if runs else None
    out = _run_header(run)
    found: list[dict[str, Any]] = []
    for f in run.record.findings if run else ():
        if cls is not None and f["class"] != cls:
            continue
        if principal is not None and f["principal"] != principal:
            continue
        at = parse_ts(str(f["event_time"]))
        if (since is not None and at < since) or (until is not None and at >= until):
            continue
        found.append(dict(f))
    out["findings"] = found
    return out


def service_accounts_view(
    envelope: Envelope, reads: LedgerReads, last_signed_off: datetime | None = None
) -> dict[str, Any]:
    """Per agent of the envelope: its service account and execution role, the actions
    its granted decisions justified (with counts), and the latest run's findings whose
    principal is one of its principals or their assumed-role sessions, by class."""
    principals = ai_principals(envelope)
    justified: dict[str, Counter[str]] = {name: Counter() for name in envelope.agents}
    for decision, grant in reads.decisions_and_grants():
        d = decision.record
        if grant is not None and d.agent in justified:
            justified[d.agent][d.action] += 1
    runs = reads.reconciliations(1)
    run = runs[0] if runs else None
    by_agent: dict[str, Counter[str]] = {name: Counter() for name in envelope.agents}
    for f in run.record.findings if run else ():
        who = str(f["principal"])
        for p in principals:
            _, _, prefix, _ = p.row()
            if who == p.arn or (prefix is not None and who.startswith(prefix)):
                by_agent[p.agent][str(f["class"])] += 1
                break
    accounts = []
    for name, agent in sorted(envelope.agents.items()):
        accounts.append(
            {
                "agent": name,
                "service_account": agent.service_account,
                "execution_role": agent.execution_role,
                "workflows": list(agent.workflows),
                "scope_justification": agent.scope_justification,
                "last_signed_off": ts_text(last_signed_off) if last_signed_off else None,
                "justified_actions": dict(sorted(justified[name].items())),
                "findings": dict(sorted(by_agent[name].items())),
            }
        )
    return {"reconciliation": _run_header(run), "service_accounts": accounts}
