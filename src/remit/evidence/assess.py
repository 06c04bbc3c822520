"""What the ledger shows for one period, per evidence class and per check: the rows each
control's CSV lists and the entries that fail a control. Pure: it reads entries (exact
bytes, parsed by the ledger's typed records) and a period, nothing else."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
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
    ordered: list[tuple[int, frozenset[str], tuple[str, ...]]] = field(default_factory=list)
    """Every entry of the period in ledger order: its index, classes (with "all"), CSV row."""

    def indexes(self, classes: Sequence[str]) -> list[int]:
        wanted = frozenset(classes)
        return [i for i, of, _ in self.ordered if of & wanted]


def _row(got: Recorded[Record], decision_id: str, agent: str, action: str,
         detail: str) -> tuple[str, ...]:  # fmt: skip
    kind = got.record.KIND
    return (str(got.index), got.ts, kind, got.actor, decision_id, agent, action, detail)


def _describe(got: Recorded[Record]) -> tuple[list[str], tuple[str, ...]]:
    """The evidence classes an entry belongs to and its CSV row."""
    r = got.record
    if isinstance(r, DecisionRecord):
        codes = ",".join(str(x.get("code")) for x in r.decision.get("reasons") or ())
        tier = r.tier.value
        classes = ["decisions"]
        classes += ["held"] if tier == "approve" else []
        classes += ["denials"] if tier == "deny" else []
        detail = f"tier={tier}; rules={','.join(r.rules)}; reasons={codes}"
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


def context(entries: Iterable[StoredEntry]) -> tuple[dict[str, str], set[str]]:
    """What later entries tell about earlier ones: each decision's approval state and the
    decisions whose revocation was applied (only those two kinds are read)."""
    approvals: dict[str, str] = {}
    applied: set[str] = set()
    for e in entries:
        if e.kind not in _CONTEXT_KINDS:
            continue
        got = e.read()
        if isinstance(got.record, ApprovalResolution):
            approvals[got.record.decision_id] = got.record.state
        if isinstance(got.record, RevocationRecord) and got.record.applied:
            applied.add(got.record.decision_id)
    return approvals, applied


_CONTEXT_KINDS = frozenset({ApprovalResolution.KIND, RevocationRecord.KIND})


class Assessor:
    """Builds the assessment one parsed entry at a time, in ledger order (so a pack reads
    and parses each entry once); `context` first gives what later entries tell."""

    def __init__(self, period: Period, approvals: dict[str, str], applied: set[str]) -> None:
        p = period.to_dict()
        self.since, self.until = p["since"], p["until"]
        self.approvals, self.applied = approvals, applied
        self.result = Assessment()
        self._classes: dict[tuple[str, ...], frozenset[str]] = {}

    def add(self, got: Recorded[Record]) -> bool:
        """Take in one entry; whether it is in the period."""
        if not self.since <= got.ts < self.until:
            return False
        out = self.result
        out.entries_in_period += 1
        classes, row = _describe(got)
        for c in (*classes, "all"):
            out.rows.setdefault(c, []).append(row)
        key = tuple(classes)
        of = self._classes.get(key)
        if of is None:
            of = self._classes[key] = frozenset((*classes, "all"))
        out.ordered.append((got.index, of, row))
        _checks(got, self.approvals, self.applied, out)
        return True


def assess(entries: Sequence[StoredEntry], period: Period) -> Assessment:
    """The assessment of the entries recorded in `period` (entries outside it are context:
    an approval recorded after the period still tells whether a decision in it ran)."""
    assessor = Assessor(period, *context(entries))
    for e in entries:
        assessor.add(e.read())
    return assessor.result


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


class _Echo:
    """A file for `csv.writer` that hands back what it is given (one row's text)."""

    def write(self, text: str) -> str:
        return text


def control_csvs(found: Assessment, controls: Sequence[Sequence[str]]) -> list[bytes]:
    """`control_csv` of each control's evidence classes (the same bytes), rendering each
    entry's row once however many controls cite it."""
    writer = csv.writer(_Echo(), lineterminator="\n")
    header: str = writer.writerow(CSV_COLUMNS)
    lines = [(of, writer.writerow(row)) for _, of, row in found.ordered]
    out = []
    for classes in controls:
        wanted = frozenset(classes)
        out.append("".join([header, *(line for of, line in lines if of & wanted)]).encode())
    return out


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
