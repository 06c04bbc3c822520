"""What the ledger shows for one period, per evidence class and per check: the rows each
control's CSV lists and the entries that fail a control. Pure: it reads entries (exact
bytes, parsed by the ledger's typed records) and a period, nothing else."""

from __future__ import annotations

import csv
from array import array
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


Evidence = tuple[str, ...]
"""The evidence classes one control draws on (its CSV lists every entry of any of them)."""


@dataclass
class Assessment:
    """The period's evidence rows for each control's evidence classes (CSV text without the
    header, in ledger order) and the ledger indexes behind them; failures by check; the
    decisions cited. Held as bytes and integer arrays, not as a million row tuples: a large
    pass is cut into chunks on worker processes and this is what they hand back."""

    csv_rows: dict[Evidence, tuple[bytes, ...]] = field(default_factory=dict)
    """Consecutive parts (one per chunk of the pass: joined only when written)."""
    cited: dict[Evidence, array[int]] = field(default_factory=dict)
    failures: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    decisions: array[int] = field(default_factory=lambda: array("q"))
    entries_in_period: int = 0

    def indexes(self, evidence: Evidence) -> array[int]:
        """The ledger indexes of the entries a control with `evidence` cites."""
        return self.cited.get(evidence, array("q"))

    @staticmethod
    def join(parts: Sequence[Assessment]) -> Assessment:
        """The assessment of consecutive runs of entries, given theirs in ledger order."""
        out = Assessment()
        for ev in dict.fromkeys(ev for p in parts for ev in p.csv_rows):
            out.csv_rows[ev] = tuple(b for p in parts for b in p.csv_rows.get(ev, ()))
        for p in parts:
            for ev, indexes in p.cited.items():
                out.cited.setdefault(ev, array("q")).extend(indexes)
            for check, items in p.failures.items():
                out.failures.setdefault(check, []).extend(items)
            out.decisions.extend(p.decisions)
            out.entries_in_period += p.entries_in_period
        return out


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


class _Echo:
    """A file for `csv.writer` that hands back what it is given (one row's text)."""

    def write(self, text: str) -> str:
        return text


_CSV = csv.writer(_Echo(), lineterminator="\n")


def _csv_line(row: Sequence[str]) -> str:
    line: str = _CSV.writerow(row)
    return line


CSV_HEADER = _csv_line(CSV_COLUMNS).encode()


class Assessor:
    """Builds the assessment one parsed entry at a time, in ledger order (so a pack reads
    and parses each entry once); `context` first gives what later entries tell. `evidence`:
    the evidence classes of each control whose rows are wanted."""

    def __init__(
        self,
        period: Period,
        approvals: dict[str, str],
        applied: set[str],
        evidence: Iterable[Evidence],
    ) -> None:
        p = period.to_dict()
        self.since, self.until = p["since"], p["until"]
        self.approvals, self.applied = approvals, applied
        self.result = Assessment()
        self._evidence = tuple(dict.fromkeys(tuple(ev) for ev in evidence))
        self._rows: dict[Evidence, list[str]] = {ev: [] for ev in self._evidence}
        self._cited: dict[Evidence, array[int]] = {ev: array("q") for ev in self._evidence}
        self._targets: dict[tuple[str, ...], list[Evidence]] = {}

    def add(self, got: Recorded[Record]) -> bool:
        """Take in one entry; whether it is in the period."""
        if not self.since <= got.ts < self.until:
            return False
        out = self.result
        out.entries_in_period += 1
        classes, row = _describe(got)
        key = tuple(classes)
        targets = self._targets.get(key)
        if targets is None:
            of = {*classes, "all"}
            targets = self._targets[key] = [ev for ev in self._evidence if of.intersection(ev)]
        if targets:
            line = _csv_line(row)
            for ev in targets:
                self._rows[ev].append(line)
                self._cited[ev].append(got.index)
        _checks(got, self.approvals, self.applied, out)
        return True

    def finish(self) -> Assessment:
        """The assessment of every entry taken in (call once, at the end)."""
        out = self.result
        out.csv_rows = {ev: ("".join(rows).encode(),) for ev, rows in self._rows.items()}
        out.cited = self._cited
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


def control_csvs(found: Assessment, controls: Sequence[Evidence]) -> list[tuple[bytes, ...]]:
    """Each control's CSV, as consecutive parts: a header and one row per supporting entry,
    by ledger index."""
    return [(CSV_HEADER, *found.csv_rows.get(tuple(ev), ())) for ev in controls]


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
