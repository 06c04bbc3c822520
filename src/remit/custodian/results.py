"""What a governed Custodian run reports: one line per (policy, action, resource) with its
status — allowed (acted on with the decision's credentials), denied, held (still awaiting
approval when the wait ran out: skipped), skipped (not run because an earlier action of
the policy did not run) or failed (allowed, but AWS or c7n failed) — the decisions behind
it, and why; and the exit code the run ends with. Data only: no I/O."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Status = Literal["allowed", "denied", "held", "skipped", "failed"]
STATUSES: tuple[Status, ...] = ("allowed", "denied", "held", "skipped", "failed")


@dataclass(frozen=True)
class ResourceResult:
    """The fate of one resource under one Custodian action."""

    policy: str
    action: str
    arn: str
    status: Status
    reason: str = ""
    decisions: tuple[str, ...] = ()
    approval_link: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["decisions"] = list(self.decisions)
        return d


@dataclass
class RunReport:
    """Every resource result of a run, and the policies' match counts."""

    c7n_version: str
    matched: dict[str, int] = field(default_factory=dict)
    results: list[ResourceResult] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {s: sum(1 for r in self.results if r.status == s) for s in STATUSES}

    def exit_code(self) -> int:
        """0 when everything matched was acted on; 1 when anything was denied, held,
        skipped or failed."""
        return 0 if all(r.status == "allowed" for r in self.results) else 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "c7n_version": self.c7n_version,
            "matched": dict(self.matched),
            "counts": self.counts(),
            "results": [r.to_dict() for r in self.results],
        }
