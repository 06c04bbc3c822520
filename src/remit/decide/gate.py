"""`Gate.decide(request, now, state) -> Decision`: the single place tiers are decided.

Order: signature trust → agent → action → base tier (rules whose resources touch the
request's, strictest wins, plus the `unmatched` default unless one rule covers them all;
or fallbacks for a fallback request) → floors from the checks (wildcard resources,
staleness, model, drift demotion, workflow, severity, protected resources, blast radius,
confidence) →
regulations (on the tier so far) → reasoning completeness (on the final tier). Checks
can only make a decision stricter.

The first reason reads as the answer: it states the final tier and the reason that set
it (the later reasons keep their codes and say what each check found).
"""

from __future__ import annotations

from datetime import UTC, datetime

from remit.catalog import ActionCatalog, default_catalog
from remit.decide.checks.base import Check, Context, Finding
from remit.decide.checks.blast_radius import BlastRadiusCheck
from remit.decide.checks.confidence import ConfidenceCheck
from remit.decide.checks.drift import DemotionCheck
from remit.decide.checks.fallback import fallback_tier
from remit.decide.checks.model import ModelCheck
from remit.decide.checks.reasoning import ReasoningCheck
from remit.decide.checks.resources import ProtectedResourceCheck, RegulationCheck
from remit.decide.checks.reversibility import ReversibilityCheck
from remit.decide.checks.severity import SeverityFloorCheck
from remit.decide.checks.staleness import ExpiryCheck, RevalidationCheck, ReviewCheck
from remit.decide.checks.wildcards import WildcardCheck
from remit.decide.checks.workflow import WorkflowCheck
from remit.decide.index import RuleIndex
from remit.decide.state import GateState
from remit.domain.decisions import Decision, EnvelopeRef, Reason
from remit.domain.envelope import Envelope
from remit.domain.ids import new_id
from remit.domain.reasons import ReasonCode
from remit.domain.requests import ActionRequest
from remit.domain.tiers import Tier
from remit.domain.trust import EnvelopeTrust

FLOOR_CHECKS: tuple[Check, ...] = (
    WildcardCheck(),
    ExpiryCheck(),
    ReviewCheck(),
    RevalidationCheck(),
    ModelCheck(),
    DemotionCheck(),
    WorkflowCheck(),
    SeverityFloorCheck(),
    ReversibilityCheck(),
    ProtectedResourceCheck(),
    BlastRadiusCheck(),
    ConfidenceCheck(),
)
LATE_CHECKS: tuple[Check, ...] = (RegulationCheck(), ReasoningCheck())


class Gate:
    """Decides requests against one envelope, with the trust its sign-offs establish."""

    def __init__(
        self,
        envelope: Envelope,
        digest: str,
        trust: EnvelopeTrust,
        catalog: ActionCatalog | None = None,
    ) -> None:
        self.envelope = envelope
        self.trust = trust
        self.catalog = catalog or default_catalog()
        self.ref = EnvelopeRef(envelope.metadata.name, envelope.metadata.version, digest)
        self.index = RuleIndex(envelope.rules)

    def decide(
        self,
        request: ActionRequest,
        now: datetime,
        state: GateState,
        decision_id: str | None = None,
    ) -> Decision:
        """The decision for `request` at `now` given recorded `state`."""
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        now = now.astimezone(UTC)
        did = decision_id or new_id("dec", now)
        reasons: list[Reason] = []
        deciding: list[Reason] = []  # the reason that set the tier as it stands

        def finish(
            tier: Tier,
            rules: tuple[str, ...] = (),
            access: str | None = None,
            fallback: str | None = None,
        ) -> Decision:
            return Decision(
                did,
                tier,
                _headed(tier, reasons, deciding[-1] if deciding else None),
                rules,
                self.ref,
                now,
                request.agent,
                request.action,
                fallback,
                access,
            )

        trust = self.trust
        if trust.insecure:
            reasons.append(
                Reason(
                    ReasonCode.ENVELOPE_UNSIGNED_INSECURE,
                    "Envelope signatures were not checked (--insecure-unsigned); "
                    "for experiments only.",
                )
            )
        elif not trust.valid:
            reasons.append(
                Reason(
                    ReasonCode.ENVELOPE_SIGNATURE_INVALID,
                    f"Envelope is not authority: {trust.detail}. Everything is denied until "
                    "a trusted key signs off the current envelope.",
                )
            )
            deciding.append(reasons[-1])
            return finish(Tier.DENY)

        agent = self.envelope.agents.get(request.agent)
        if agent is None:
            reasons.append(
                Reason(
                    ReasonCode.UNKNOWN_AGENT,
                    f"Agent {request.agent!r} is not declared in envelope "
                    f"{self.ref.name} v{self.ref.version}.",
                )
            )
            deciding.append(reasons[-1])
            return finish(Tier.DENY)

        action = self.catalog.get(request.action)
        if action is None:
            reasons.append(
                Reason(
                    ReasonCode.UNKNOWN_ACTION,
                    f"{request.action} is not an action in the IAM action database.",
                )
            )
            deciding.append(reasons[-1])
            return finish(Tier.DENY)

        fallback_ids: list[str] = []
        if request.fallback is not None:
            tier, reason, fallback_ids = fallback_tier(self.envelope, request)
            reasons.append(reason)
            deciding.append(reason)
            matched = []
        else:
            hit = self.index.matching(request.agent, request.action, request.resources)
            matched = list(hit.rules)
            default = self.envelope.defaults.unmatched
            if matched:
                tier = Tier.strictest([c.rule.tier for c in matched])
                ids = ", ".join(c.rule.id for c in matched)
                reasons.append(
                    Reason(
                        ReasonCode.RULE_MATCHED,
                        f"Matched {ids}; the strictest of the matched rules' tiers is "
                        f"{tier.value}.",
                    )
                )
                deciding.append(reasons[-1])
            else:
                tier = default
            ruled = tier if matched else None
            if not hit.covered:
                tier = default if ruled is None else ruled.at_least(default)
                what = "these resources" if not matched else "all of these resources"
                reasons.append(
                    Reason(
                        ReasonCode.NO_MATCHING_RULE,
                        f"No rule lets {request.agent} do {action.name} on {what}; "
                        f"the envelope's default is {default.value}.",
                    )
                )
                if ruled is None or tier is not ruled:
                    deciding.append(reasons[-1])
        rule_ids = tuple(c.rule.id for c in matched)
        fb_id = ", ".join(fallback_ids) or None
        if tier is Tier.DENY:
            return finish(tier, rule_ids, action.access_level, fb_id)

        ctx = Context(request, now, state, self.envelope, trust, agent, action, matched, tier)
        for group in (FLOOR_CHECKS, LATE_CHECKS):
            for check in group:
                found = check.findings(ctx)
                if found:
                    ctx.tier = _apply(ctx.tier, found, reasons, deciding)
                if ctx.tier is Tier.DENY:
                    return finish(Tier.DENY, rule_ids, action.access_level, fb_id)
        return finish(ctx.tier, rule_ids, action.access_level, fb_id)


def _apply(
    tier: Tier, found: tuple[Finding, ...], reasons: list[Reason], deciding: list[Reason]
) -> Tier:
    for f in found:
        reasons.append(f.reason)
        raised = tier.at_least(f.floor)
        if raised is not tier:
            deciding.append(f.reason)
        tier = raised
    return tier


_ANSWER = {
    Tier.AUTONOMOUS: "Autonomous",
    Tier.NOTIFY: "Notify (runs now, people are told)",
    Tier.APPROVE: "Approve (held for a person)",
    Tier.DENY: "Deny",
}


def _headed(tier: Tier, reasons: list[Reason], deciding: Reason | None) -> tuple[Reason, ...]:
    """The reasons with the first one restated as the answer: the final tier and the
    reason that set it (the first reason's own finding follows)."""
    if not reasons:
        return ()
    head = reasons[0]
    if deciding is None or deciding is head:
        text = f"{_ANSWER[tier]}: {head.message}"
    else:
        text = f"{_ANSWER[tier]}, set by {deciding.code.value}: {deciding.message} " + (
            f"First finding: {head.message}"
        )
    return (Reason(head.code, text), *reasons[1:])
