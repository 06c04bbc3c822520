"""Which ledger evidence bears on which control, per framework. Each control names the
classes of entries that support it (its CSV) and the checks whose failure means it was
not satisfied in the period (its OSCAL finding). A control with no failing check gets an
observation, never a "satisfied" finding: the pack claims no more than the ledger shows.
Pure data."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Control:
    """One control: its id, title, the evidence classes it draws on, the checks that fail
    it, and a sentence on how the ledger supports it."""

    id: str
    title: str
    evidence: tuple[str, ...]
    checks: tuple[str, ...]
    how: str


EVIDENCE_CLASSES = {
    "decisions": "every decision of the period (request, reasoning, provenance, verdict)",
    "held": "decisions held for a human (tier approve)",
    "denials": "decisions denied",
    "approvals": "approvals resolved: approved, rejected, or expired (counts as deny)",
    "grants": "per-step credentials issued, with their session policy, or refused",
    "revocations": "credentials revoked when the step ended or was refused",
    "outcomes": "what happened when the agent acted",
    "identity": "API keys created and revoked",
    "governance": "envelope sign-offs and organisational events",
    "notifications": "notification deliveries",
    "access": "sign-ins to the governance view and exports",
    "all": "every ledger entry of the period",
}

CHECKS = {
    "ran_without_allow": "an action was reported done for a decision that did not allow it",
    "ran_stale": "an action ran while the envelope was not fully authority "
    "(expired, review overdue, re-validation pending, unsigned)",
    "revocation_unapplied": "credentials were revoked on the ledger but the cloud never "
    "applied the revocation in the period",
    "notification_undelivered": "a notification was given up on without being delivered",
}

_D = ("decisions",)
FRAMEWORKS: dict[str, tuple[Control, ...]] = {
    "soc2": (
        Control("CC6.1", "Logical access security", ("decisions", "grants"),
                ("ran_without_allow",), "every action was decided before it ran and got "
                "credentials scoped to that one step"),
        Control("CC6.2", "User registration and authorization", ("identity", "access"), (),
                "every API key created or revoked, and every sign-in, is recorded"),
        Control("CC6.3", "Role-based access and least privilege", ("grants", "revocations"),
                ("revocation_unapplied",), "credentials carry a session policy for one "
                "step and are revoked when it ends"),
        Control("CC7.2", "Monitoring of system components for anomalies",
                ("decisions", "denials", "outcomes"), ("ran_without_allow",),
                "every AI action request and its outcome is on the ledger"),
        Control("CC7.3", "Evaluation of security events", ("held", "approvals", "notifications"),
                ("notification_undelivered",), "held actions wait for a human decision; "
                "people are told"),
        Control("CC8.1", "Change management", ("governance", "decisions"), ("ran_stale",),
                "the envelope is signed off; actions under a stale envelope are downgraded"),
    ),
    "iso27001": (
        Control("A.5.15", "Access control", ("decisions", "denials"), ("ran_without_allow",),
                "every action is decided by the signed envelope before it runs"),
        Control("A.5.18", "Access rights", ("identity", "grants", "revocations"),
                ("revocation_unapplied",), "access rights are issued per step and revoked"),
        Control("A.8.2", "Privileged access rights", ("held", "approvals", "grants"), (),
                "privileged actions are held for a named approver"),
        Control("A.8.15", "Logging", ("all",), (),
                "a tamper-evident Merkle log with signed checkpoints"),
        Control("A.8.16", "Monitoring activities", ("denials", "outcomes", "notifications"),
                ("ran_without_allow", "notification_undelivered"),
                "denials, outcomes and notifications are recorded"),
        Control("A.8.32", "Change management", ("governance",), ("ran_stale",),
                "envelope sign-offs and re-validation events are recorded"),
    ),
    "pci-dss": (
        Control("10.2.1", "Audit logs capture individual access and actions (10.2.1.x)",
                ("decisions", "outcomes", "approvals", "identity", "access"),
                ("ran_without_allow",), "each action, approval, key change and sign-in is "
                "recorded with the identity that made it"),
        Control("10.3", "Audit logs are protected from destruction and modification (10.3.x)",
                ("all",), (), "entries are leaves of a Merkle tree; checkpoints are signed; "
                "this pack proves consistency and inclusion"),
        Control("10.5.1", "Audit log history is retained", ("all",), (),
                "the ledger is append-only; the pack proves its first entry is kept"),
        Control("10.7", "Failures of critical security control systems are detected",
                ("revocations", "notifications", "denials"),
                ("revocation_unapplied", "notification_undelivered"),
                "failed revocations and deliveries are recorded and retried"),
    ),
    "eu-ai-act": (
        Control("Art.12", "Record-keeping (automatic logging)", ("decisions", "outcomes"), (),
                "every decision of the AI system is logged before it is answered"),
        Control("Art.14", "Human oversight", ("held", "approvals"), (),
                "held actions wait for a person, who can reject them"),
        Control("Art.19", "Automatically generated logs are kept", ("all",), (),
                "logs are kept on a tamper-evident ledger with signed checkpoints"),
        Control("Art.26(5)", "Deployer monitors operation", ("decisions", "denials", "outcomes"),
                ("ran_without_allow", "ran_stale"), "the deployer's envelope decides and "
                "records every action"),
        Control("Art.26(6)", "Deployer keeps logs (at least six months)", ("all",), (),
                "the pack proves the ledger's first entry is retained"),
    ),
}  # fmt: skip
"""Framework → its controls."""


def controls_of(framework: str) -> tuple[Control, ...]:
    """The controls of `framework`; ValueError naming the known ones otherwise."""
    found = FRAMEWORKS.get(framework)
    if found is None:
        raise ValueError(
            f"unknown framework {framework!r}: choose one of {', '.join(sorted(FRAMEWORKS))}"
        )
    return found
