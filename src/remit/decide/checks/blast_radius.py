"""Blast-radius limits (C5): per-action scope (resources, accounts) and the cumulative
number of actions per time window, for every matched rule that sets them.

A wildcard resource counts as unbounded: it can cover any number of resources, so it
exceeds every `max_resources`; a wildcard in an ARN's account field (or the ARN `*`)
exceeds every `max_accounts`.
"""

from __future__ import annotations

from remit.decide.checks.base import NONE, Context, Finding
from remit.domain.decisions import Reason
from remit.domain.patterns import account_of, has_wildcard
from remit.domain.reasons import ReasonCode
from remit.domain.tiers import Tier


class BlastRadiusCheck:
    """Too many resources or accounts → deny; too many actions in the window → approve."""

    def findings(self, ctx: Context) -> tuple[Finding, ...]:
        out: list[Finding] = []
        resources = ctx.request.resources
        wild: list[str] | None = None
        wild_accounts: list[str] = []
        for compiled in ctx.matched:
            rule = compiled.rule
            br = rule.blast_radius
            if br is None:
                continue
            if wild is None:
                wild = [r.arn for r in resources if has_wildcard(r.arn)]
                wild_accounts = [a for a in wild if a == "*" or has_wildcard(account_of(a))]
            if br.max_resources is not None and wild:
                out.append(
                    Finding(
                        Tier.DENY,
                        Reason(
                            ReasonCode.BLAST_RADIUS_EXCEEDED,
                            f"{', '.join(wild)} can cover any number of resources; rule "
                            f"{rule.id} allows at most {br.max_resources}.",
                        ),
                    )
                )
            elif br.max_resources is not None and len(resources) > br.max_resources:
                out.append(
                    Finding(
                        Tier.DENY,
                        Reason(
                            ReasonCode.BLAST_RADIUS_EXCEEDED,
                            f"{len(resources)} resources in one action; rule {rule.id} allows "
                            f"at most {br.max_resources}.",
                        ),
                    )
                )
            if br.max_accounts is not None and wild_accounts:
                out.append(
                    Finding(
                        Tier.DENY,
                        Reason(
                            ReasonCode.BLAST_RADIUS_EXCEEDED,
                            f"{', '.join(wild_accounts)} can cover any number of accounts; "
                            f"rule {rule.id} allows at most {br.max_accounts}.",
                        ),
                    )
                )
            elif br.max_accounts is not None:
                accounts = {account_of(r.arn) for r in resources}
                if len(accounts) > br.max_accounts:
                    out.append(
                        Finding(
                            Tier.DENY,
                            Reason(
                                ReasonCode.BLAST_RADIUS_EXCEEDED,
                                f"{len(accounts)} accounts ({', '.join(sorted(accounts))}) in "
                                f"one action; rule {rule.id} allows at most {br.max_accounts}.",
                            ),
                        )
                    )
            if br.window is not None:
                since = ctx.now - br.window.per
                count = ctx.state.actions_in_window(ctx.request.agent, rule.id, since)
                if count >= br.window.max_actions:
                    out.append(
                        Finding(
                            Tier.APPROVE,
                            Reason(
                                ReasonCode.RATE_LIMIT_EXCEEDED,
                                f"{count} actions under rule {rule.id} by {ctx.request.agent} "
                                f"in the last {br.window.per}; at most "
                                f"{br.window.max_actions} run without approval.",
                            ),
                        )
                    )
        return tuple(out) if out else NONE
