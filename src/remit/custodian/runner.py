"""A governed Custodian run: for each policy's matched resources and each of its actions,
ask Remit (one decision per IAM step of the action, per batch of resources), split a batch
that is denied for what some of its resources are (blast radius, protected resources,
rules) until the allowed ones stand alone, wait up to the run's budget for held batches,
then act on the allowed batches with c7n's action classes through `DecisionSessions` —
every AWS call signed with the granted credentials of the decision covering it — and
report each decision's outcome (which revokes its credentials).

What it does not do: decide (Remit does), load policies or talk to c7n directly
(`policies.py`), or print (the CLI).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from remit.custodian.actions import Step, Unmapped, steps_for
from remit.custodian.limits import batch_limit
from remit.custodian.policies import (
    Found,
    act,
    attached_policies,
    inline_policies,
    instance_profiles,
    policy_arn,
)
from remit.custodian.results import ResourceResult, RunReport, Status
from remit.custodian.sessions import DecisionSessions, NoDecision, Route, route_for
from remit.domain.envelope import Envelope
from remit.sdk import Client
from remit.sdk.calls import LONG_POLL_MAX
from remit.sdk.errors import RemitUnavailable

NO_SPLIT = frozenset(
    {
        "ENVELOPE_SIGNATURE_INVALID",
        "ENVELOPE_UNSIGNED_INSECURE",
        "UNKNOWN_AGENT",
        "ENVELOPE_EXPIRED",
        "ENVELOPE_REVIEW_OVERDUE",
        "ENVELOPE_REVALIDATION_PENDING",
        "MODEL_UNVALIDATED",
        "OUT_OF_WORKFLOW",
        "UNKNOWN_ACTION",
        "CONFIDENCE_TOO_LOW",
        "REASONING_INCOMPLETE",
        "LEDGER_UNAVAILABLE",
        "RATE_LIMIT_EXCEEDED",
    }
)
"""Reason codes about the whole request, not about some of its resources: a batch denied
for one of these is not split (smaller batches would be denied the same way)."""


@dataclass(frozen=True)
class RunOptions:
    """How the run asks: batch size (None: a whole action's resources at once), seconds to
    wait for held batches, what every request carries, and the approval link template."""

    batch_size: int | None = None
    wait: float = 0.0
    provenance: Mapping[str, Any] = field(default_factory=dict)
    confidence: float = 1.0
    region: str = "us-east-1"
    link_template: str = "{remit_url}/v1/decisions/{decision_id}"
    environment: str | None = None
    envelope: Envelope | None = None
    """When given, batches are sized within its blast radius (`limits.batch_limit`)."""


@dataclass
class Ask:
    """One request of a step: the ARNs it names and, for a decision about one exact call,
    that call's parameters (the credentials then cover only calls carrying them)."""

    arns: list[str]
    call: dict[str, str] = field(default_factory=dict)


@dataclass
class Asked:
    """A step, the request made for it, and Remit's decision (as it stands)."""

    step: Step
    ask: Ask
    decision: dict[str, Any]


@dataclass
class Batch:
    """Resources asked about together under one action, and the decision for each step."""

    resources: list[dict[str, Any]]
    arns: list[str]
    asked: list[Asked] = field(default_factory=list)

    def ids(self) -> tuple[str, ...]:
        return tuple(a.decision["id"] for a in self.asked)

    def status(self) -> str:
        states = {a.decision["status"] for a in self.asked}
        if "denied" in states:
            return "denied"
        if "pending" in states:
            return "pending"
        return "allowed"

    def reasons(self) -> str:
        out = []
        for a in self.asked:
            step, d = a.step, a.decision
            if d["status"] == "denied":
                state = (d.get("approval") or {}).get("state")
                why = "; ".join(r["message"] for r in d.get("reasons", []))
                what = f"approval {state}" if state in ("rejected", "expired") else "denied"
                out.append(f"{step.iam_action} {what}: {why}")
        return " | ".join(out)

    def splittable(self) -> bool:
        if len(self.resources) < 2:
            return False
        for a in self.asked:
            d = a.decision
            if d["status"] == "denied" and any(r["code"] in NO_SPLIT for r in d["reasons"]):
                return False
        return True


def _tags(resource: Mapping[str, Any]) -> dict[str, str]:
    tags = resource.get("Tags") or []
    if isinstance(tags, dict):
        return {str(k): str(v) for k, v in tags.items()}
    return {str(t["Key"]): str(t.get("Value", "")) for t in tags if "Key" in t}


class Runner:
    """Runs the dry-run results of a policy file through Remit and acts on what is allowed."""

    def __init__(
        self,
        client: Client,
        options: RunOptions,
        *,
        progress: Callable[[str], None] = lambda _: None,
    ) -> None:
        self.client = client
        self.options = options
        self.progress = progress

    # asking ---------------------------------------------------------------------------

    def _request(
        self, found: Found, action: dict[str, Any], step: Step, batch: Batch, ask: Ask
    ) -> dict[str, Any]:
        by_arn = dict(zip(batch.arns, batch.resources, strict=True))
        resources = [{"arn": a, "tags": _tags(by_arn.get(a, {}))} for a in ask.arns]
        summary = (
            f"Cloud Custodian policy {found.name!r} ({found.resource_type}) would "
            f"{action['type']} {len(batch.resources)} resource(s)"
            + (f": {found.description}" if found.description else "")
        )
        filters = found.policy.data.get("filters") or []
        reasoning = {
            "summary": summary,
            "signals": [
                {"name": "custodian_policy", "value": found.name, "source": "c7n"},
                {"name": "matched_resources", "value": len(found.resources), "source": "c7n"},
                {"name": "filters", "value": repr(filters)[:500], "source": "c7n dry-run"},
            ],
            "confidence": self.options.confidence,
            "alternatives": [
                {
                    "action": "report only (c7n dry-run)",
                    "rejected_because": "the policy declares this action",
                }
            ],
        }
        parameters: dict[str, Any] = {
            **ask.call,
            "custodian": {
                "policy": found.name,
                "resource": found.resource_type,
                "action": dict(action),
                "step": step.iam_action,
                "operations": list(step.covers()),
            },
        }
        extra: dict[str, Any] = {}
        if self.options.environment:
            extra["environment"] = self.options.environment
        return self.client.decide(
            step.iam_action,
            resources,
            reasoning=reasoning,
            provenance=dict(self.options.provenance),
            parameters=parameters,
            **extra,
        )

    def _asks(self, found: Found, action: dict[str, Any], step: Step, batch: Batch) -> list[Ask]:
        """The requests `step` takes for `batch` (none when it has nothing to act on, e.g.
        a role in no instance profile: c7n then makes no such call either)."""
        if step.scope == "instance-profiles":
            profiles = instance_profiles(found, batch.resources)
            return [Ask(profiles)] if profiles else []
        if step.per == "batch":
            return [Ask(list(batch.arns))]
        out = []
        for arn, role in zip(batch.arns, batch.resources, strict=True):
            name = str(role["RoleName"])
            if step.per == "attached-policy":
                out += [Ask([arn], {"RoleName": name, "PolicyArn": p})
                        for p in attached_policies(found, role)]  # fmt: skip
            elif step.per == "inline-policy":
                out += [Ask([arn], {"RoleName": name, "PolicyName": p})
                        for p in inline_policies(found, role)]  # fmt: skip
            else:  # policy-arg
                managed = policy_arn(found, str(action["arn"]))
                out.append(Ask([arn], {"RoleName": name, "PolicyArn": managed}))
        return out

    def _ask(
        self, found: Found, action: dict[str, Any], steps: Sequence[Step], batch: Batch
    ) -> list[Batch]:
        """Ask every step for `batch`; a denied batch that can be split is asked again in
        halves. Returns the batches as finally asked."""
        batch.asked = []
        for step in steps:
            for ask in self._asks(found, action, step, batch):
                d = self._request(found, action, step, batch, ask)
                batch.asked.append(Asked(step, ask, d))
                if d["status"] == "denied":
                    break  # the batch cannot run; ask no further steps of it
            if batch.status() == "denied":
                break
        if batch.status() == "denied" and batch.splittable():
            half = len(batch.resources) // 2
            self.progress(
                f"{found.name}: {action['type']} on {len(batch.resources)} resources denied "
                f"as a batch; asking in halves"
            )
            out = []
            for part in (slice(None, half), slice(half, None)):
                sub = Batch(batch.resources[part], batch.arns[part])
                out += self._ask(found, action, steps, sub)
            return out
        return [batch]

    def _wait(self, held: Sequence[Batch], deadline: float) -> None:
        """Long-poll each pending decision until it is resolved or `deadline` passes."""
        for batch in held:
            for asked in batch.asked:
                while asked.decision["status"] == "pending":
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    asked.decision = self.client.get(
                        asked.decision["id"], wait=min(left, LONG_POLL_MAX)
                    )

    # acting ---------------------------------------------------------------------------

    def _execute(self, found: Found, index: int, batch: Batch) -> tuple[Status, str]:
        """Grant every step's decision, act with c7n through the decision sessions, and
        report each decision's outcome (which revokes its credentials)."""
        routes: dict[str, list[Route]] = {}
        granted: list[str] = []
        endpoint = None
        error: str | None = None
        sessions: DecisionSessions | None = None
        try:
            for asked in batch.asked:
                did = asked.decision["id"]
                grant = self.client.grant(did)
                granted.append(did)
                endpoint = endpoint or grant.get("endpoint_url")
                route = route_for(did, grant, asked.ask.call)
                for op in asked.step.covers():
                    routes.setdefault(op, []).append(route)
            sessions = DecisionSessions(routes, self.options.region, endpoint)
            act(found, index, batch.resources, sessions)
            if sessions.refused:  # c7n swallowed the refusal; the action did not all run
                raise NoDecision(
                    f"{', '.join(sorted(set(sessions.refused)))} not covered by an allowed "
                    "decision of this batch"
                )
        except RemitUnavailable:
            raise
        except NoDecision as exc:
            error = f"refused before sending: {exc}"
        except Exception as exc:  # c7n and AWS fail in many ways; each is reported
            error = f"{type(exc).__name__}: {exc}"
        status = "failed" if error else "succeeded"
        for did in granted:
            ids = sessions.request_ids.get(did, []) if sessions is not None else []
            self.client.report_outcome(did, status, error[:3900] if error else None, ids)
        return ("failed", error) if error else ("allowed", "")

    # the run --------------------------------------------------------------------------

    def _link(self, batch: Batch) -> str | None:
        for asked in batch.asked:
            if asked.decision["status"] == "pending":
                return self.options.link_template.format(
                    remit_url=self.client.base_url, decision_id=asked.decision["id"]
                )
        return None

    def _results(
        self, found: Found, kind: str, batch: Batch, status: Status, reason: str
    ) -> list[ResourceResult]:
        link = self._link(batch) if status == "held" else None
        return [
            ResourceResult(found.name, kind, arn, status, reason, batch.ids(), link)
            for arn in batch.arns
        ]

    def _batch_size(self, steps: Sequence[Step], arns: list[str]) -> int:
        """--batch-size, within the envelope's `max_resources` for the agent's steps."""
        size = self.options.batch_size or len(arns)
        env, agent = self.options.envelope, self.client.agent
        if env is not None and agent:
            for step in steps:
                limit = batch_limit(env, agent, step.iam_action, arns)
                if limit is not None and limit < size:
                    size = limit
        return max(size, 1)

    def run_policy(self, found: Found, report: RunReport) -> None:
        """Every action of one policy, in order; a resource an action did not act on is
        skipped by the later actions."""
        eligible = list(zip(found.arns, found.resources, strict=True))
        report.matched[found.name] = len(found.resources)
        for index, action in enumerate(found.actions):
            kind = str(action.get("type"))
            if not eligible:
                break
            arns = [a for a, _ in eligible]
            res = [r for _, r in eligible]
            try:
                steps = steps_for(found.resource_type, action)
            except Unmapped as exc:
                report.results += [
                    ResourceResult(found.name, kind, a, "denied", str(exc)) for a in arns
                ]
                eligible = []
                for later in found.actions[index + 1 :]:
                    report.results += [
                        ResourceResult(
                            found.name, str(later.get("type")), a, "skipped",
                            f"not run: the earlier action {kind!r} did not run",
                        )
                        for a in arns
                    ]  # fmt: skip
                break
            size = self._batch_size(steps, arns)
            batches: list[Batch] = []
            for start in range(0, len(arns), size):
                first = Batch(res[start : start + size], arns[start : start + size])
                batches += self._ask(found, action, steps, first)
            held = [b for b in batches if b.status() == "pending"]
            if held:
                self.progress(
                    f"{found.name}: {len(held)} batch(es) of {kind} held for approval; "
                    f"waiting up to {self.options.wait:g}s"
                )
                self._wait(held, time.monotonic() + self.options.wait)
            done: set[str] = set()
            for batch in batches:
                state = batch.status()
                if state == "denied":
                    report.results += self._results(found, kind, batch, "denied", batch.reasons())
                elif state == "pending":
                    why = f"still awaiting approval after {self.options.wait:g}s: skipped"
                    report.results += self._results(found, kind, batch, "held", why)
                else:
                    self.progress(f"{found.name}: {kind} on {len(batch.arns)} resource(s)")
                    status, why = self._execute(found, index, batch)
                    report.results += self._results(found, kind, batch, status, why)
                    if status == "allowed":
                        done.update(batch.arns)
            not_done = [a for a in arns if a not in done]
            for later in found.actions[index + 1 :]:
                report.results += [
                    ResourceResult(
                        found.name, str(later.get("type")), a, "skipped",
                        f"not run: the earlier action {kind!r} did not run on it",
                    )
                    for a in not_done
                ]  # fmt: skip
            eligible = [(a, r) for a, r in eligible if a in done]

    def run(self, found: Sequence[Found], c7n_version: str) -> RunReport:
        report = RunReport(c7n_version)
        for f in found:
            self.run_policy(f, report)
        return report
