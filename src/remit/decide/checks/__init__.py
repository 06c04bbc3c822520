"""The gate's checks, one per file. Each is a small object whose `findings(ctx)` returns
(floor tier, reason) pairs; the gate raises the tier to the strictest floor. A check can
only make a decision stricter, never looser.
"""

from remit.decide.checks.base import Check, Context, Finding

__all__ = ["Check", "Context", "Finding"]
