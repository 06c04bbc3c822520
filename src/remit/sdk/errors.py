"""The SDK's typed errors. Each carries the decision (when there is one) and its reasons,
so an agent can say exactly why it did not act."""

from __future__ import annotations

from typing import Any


class RemitError(Exception):
    """Base of every error the SDK raises."""


class RemitUnavailable(RemitError):
    """Remit could not be reached or could not record; nothing may proceed (fail closed)."""


class RemitRefused(RemitError):
    """Remit refused the call itself (bad key, wrong agent, bad input, already granted…)."""

    def __init__(self, status: int, detail: object) -> None:
        self.status = status
        self.detail = detail
        super().__init__(f"Remit refused ({status}): {detail}")


class DecisionError(RemitError):
    """An error about one decision."""

    def __init__(self, message: str, decision: dict[str, Any] | None = None) -> None:
        self.decision = decision or {}
        self.reasons: list[dict[str, str]] = list(self.decision.get("reasons", []))
        why = "; ".join(f"{r['code']}: {r['message']}" for r in self.reasons)
        super().__init__(f"{message}" + (f" — {why}" if why else ""))

    @property
    def decision_id(self) -> str | None:
        return self.decision.get("id")


class Denied(DecisionError):
    """The decision is deny (or the approval was rejected or expired)."""


class ApprovalTimedOut(DecisionError):
    """A human did not approve within the time the agent was willing to wait."""


class FallbackRequired(DecisionError):
    """AWS refused a call for lack of permission inside a governed step. Nothing is
    retried automatically: ask again with `client.fallback(...)`."""

    def __init__(
        self, failed_action: str, error: str, decision: dict[str, Any] | None = None
    ) -> None:
        self.failed_action = failed_action
        self.error = error
        super().__init__(
            f"{failed_action} was refused by AWS ({error}); a fallback must be requested", decision
        )
