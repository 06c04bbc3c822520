"""The error IAM policy parsing raises.

Its one job: ``PolicyError``, raised by every part of ``remit.grants.iam_eval`` for a
malformed policy document.
"""

from __future__ import annotations


class PolicyError(ValueError):
    """A policy document that is not valid IAM policy grammar (the message says what)."""
