"""What the ledger shows for one period, per evidence class and per check: the rows each
control's CSV lists and the entries that fail a control. Pure: it reads entries (exact
bytes, parsed by the ledger's typed records) and a period, nothing else."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field

from remit.ledger.kinds import (
    AccessRecord,
    ApprovalResolution,
    DecisionRecord,
    GrantRecord,
    GrantRefusalRecord,
    IdentityRecord,
    NotificationRecord,
    OrgEventRecord,
    OutcomeRecord,
    Record,
    RevocationRecord,
    SignoffRecord,
)
from remit.ledger.records import Recorded, StoredEntry
from remit.report.build import STALE_CODES
from remit.report.period import Period

CSV_COLUMNS = ("index", "ts", "kind", "actor", "decision_id", "agent", "action", "detail")


@dataclass
class Assessment:
    """The period's evidence rows by class, failures by check, and decisions cited."""

    rows: dict[str, list[tuple[str, ...]]] = field(default_factory=dict)
    failures: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    decisions: list[int] = field(default_factory=list)
    entries_in_period: int = 0

    def indexes(self, classes: Sequence[str]) -> list[int]:
        found = {int(r[0]) for c in classes for r in self.rows.get(c, ())}
        return sorted(found)


def _row(got: Recorded[Record], decision_id: str, agent: str, action: str,
         detail: str) -> tuple[str, ...]:  # fmt: skip
    kind = got.record.KIND
    return (str(got.index), got.ts, kind, got.actor, decision_id, agent, action, detail)


def _describe(got: Recorded[Record]) -> tuple[list[str], tuple[str, ...]]:
    """The evidence classes an entry belongs to and its CSV row."""
    r = got.record
    if isinstance(r, DecisionRecord):
        codes = ",".join(str(x.get("code")) for x in r.decision.get("reasons") or ())
        classes = ["decisions"]
        classes += ["held"] if r.tier.value == "approve" else []
        classes += ["denials"] if r.tier.value == "deny" else []
        detail = f"tier={r.tier.value}; rules={','.join(r.rules)}; reasons={codes}"
        return classes, _row(got, r.id, r.agent, r.action, detail)
    if isinstance(r, ApprovalResolution):
        detail = f"state={r.state}; comment={r.comment}"
        return ["approvals"], _row(got, r.decision_id, r.agent, r.action, detail)
    if isinstance(r, GrantRecord):
        detail = f"issued; role={r.role_arn}; can={r.effective_summary}"
        return ["grants"], _row(got, r.decision_id, r.agent, "", detail)
    if isinstance(r, GrantRefusalRecord):
        return ["grants"], _row(got, r.decision_id, "", "", f"{r.status}; {r.reason}")
    if isinstance(r, RevocationRecord):
        detail = f"applied={r.applied}; reason={r.reason}"
        return ["revocations"], _row(got, r.decision_id, "", "", detail)
    if isinstance(r, OutcomeRecord):
        detail = f"status={r.status}; ran_without_allow={r.ran_without_allow}"
        return ["outcomes"], _row(got, r.decision_id, "", "", detail)
    if isinstance(r, IdentityRecord):
        detail = f"{r.action}; key={r.key_id}; role={r.role or ''}"
        return ["identity"], _row(got, "", r.agent or "", "", detail)
    if isinstance(r, SignoffRecord | OrgEventRecord):
        what = (f"sign-off {r.id} valid={r.valid}" if isinstance(r, SignoffRecord)
                else f"event {r.event_kind} at {r.at.isoformat()}")  # fmt: skip
        return ["governance"], _row(got, "", "", "", what)
    if isinstance(r, NotificationRecord):
        detail = f"{r.notification_id}; channel={r.channel}; ok={r.ok}; final={r.final}"
        return ["notifications"], _row(got, "", "", "", detail)
    if isinstance(r, AccessRecord):
        return ["access"], _row(got, "", "", "", f"{r.action} by {r.subject} via {r.via}")
    return [], _row(got, "", "", "", "")


def assess(entries: Sequence[StoredEntry], period: Period) -> Assessment:
    """The assessment of the entries recorded in `period` (entries outside it are context:
    an approval recorded after the period still tells whether a decision in it ran)."""
    since, until = period.to_dict()["since"], period.to_dict()["until"]
    out = Assessment()
    parsed = [e.read() for e in entries]
    approvals: dict[str, str] = {}
    applied: set[str] = set()
    for got in parsed:
        if isinstance(got.record, ApprovalResolution):
            approvals[got.record.decision_id] = got.record.state
        if isinstance(got.record, RevocationRecord) and got.record.applied:
            applied.add(got.record.decision_id)
    for got in parsed:
        if not since <= got.ts < until:
            continue
        out.entries_in_period += 1
        classes, row = _describe(got)
        for c in (*classes, "all"):
            out.rows.setdefault(c, []).append(row)
        _checks(got, approvals, applied, out)
    return out


def _fail(out: Assessment, check: str, index: int, what: str) -> None:
    out.failures.setdefault(check, []).append((index, what))


def _checks(
    got: Recorded[Record], approvals: dict[str, str], applied: set[str], out: Assessment
) -> None:
    r = got.record
    if isinstance(r, DecisionRecord):
        out.decisions.append(got.index)
        ran = r.tier.value in ("autonomous", "notify") or approvals.get(r.id) == "approved"
        codes = {str(x.get("code")) for x in r.decision.get("reasons") or ()}
        if ran and codes & STALE_CODES:
            _fail(out, "ran_stale", got.index, f"{r.id}: {','.join(sorted(codes & STALE_CODES))}")
    elif isinstance(r, OutcomeRecord) and r.ran_without_allow:
        _fail(out, "ran_without_allow", got.index, f"{r.decision_id}: {r.status}")
    elif isinstance(r, RevocationRecord) and not r.applied and r.decision_id not in applied:
        _fail(out, "revocation_unapplied", got.index, f"{r.decision_id}: {r.error or ''}")
    elif isinstance(r, NotificationRecord) and r.final and not r.ok:
        _fail(out, "notification_undelivered", got.index, f"{r.notification_id}: {r.error}")


def control_csv(rows: Sequence[tuple[str, ...]]) -> bytes:
    """A control's CSV: a header and one row per supporting entry, by ledger index."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in sorted(set(rows), key=lambda r: int(r[0])):
        writer.writerow(row)
    return buf.getvalue().encode()


def index_ranges(indexes: Sequence[int]) -> str:
    """Ledger indexes as compact text: `3,5,7-9` (`none` for none)."""
    parts: list[str] = []
    run: list[int] = []
    for i in sorted(indexes):
        if run and i == run[-1] + 1:
            run.append(i)
            continue
        if run:
            parts.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
        run = [i]
    if run:
        parts.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
    return ",".join(parts) or "none"
