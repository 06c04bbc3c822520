"""Batch sizes within the envelope's blast radius: the smallest `blast_radius.max_resources`
among the envelope rules that would decide an agent's action on some of the given ARNs.

A hint for sizing requests, so a run does not ask for a batch the gate would deny for its
size; Remit's gate still decides every request (and a batch denied for its size is split
by the runner anyway). Pure: the envelope is passed in, already loaded.
"""

from __future__ import annotations

from collections.abc import Sequence

from remit.domain.envelope import Envelope
from remit.domain.patterns import glob_matches


def batch_limit(envelope: Envelope, agent: str, action: str, arns: Sequence[str]) -> int | None:
    """The smallest `max_resources` of the rules for `agent` whose actions match `action`
    and whose resources match any of `arns`; None when no such rule limits it."""
    best: int | None = None
    for rule in envelope.rules:
        br = rule.blast_radius
        if br is None or br.max_resources is None:
            continue
        if "*" not in rule.agents and agent not in rule.agents:
            continue
        if not any(glob_matches(p, action, ignore_case=True) for p in rule.actions):
            continue
        if not any(glob_matches(p, arn) for p in rule.resources for arn in arns):
            continue
        best = br.max_resources if best is None else min(best, br.max_resources)
    return best
