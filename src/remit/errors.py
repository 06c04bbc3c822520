"""Remit's one error model: `RemitError` and the few kinds of failure a caller can act on.

Services raise these kinds; they carry a message a person can act on, never an HTTP
status. Each edge maps the kinds once: the HTTP app to status codes, the CLI to exit
codes. This module imports nothing of Remit and does no I/O.
"""

from __future__ import annotations


class RemitError(Exception):
    """Base of every error Remit raises on purpose. `kind` names the failure class."""

    kind = "error"


class NotFound(RemitError):
    """What was asked about does not exist (no such decision, approval, key)."""

    kind = "not_found"


class Conflict(RemitError):
    """The request is valid but the recorded state forbids it now (already granted,
    already resolved, not allowed)."""

    kind = "conflict"


class Forbidden(RemitError):
    """The caller's identity or role may not do this."""

    kind = "forbidden"


class Gone(RemitError):
    """It existed but its time is over (a grant window passed, an approval expired)."""

    kind = "gone"


class Unprocessable(RemitError):
    """The input is well-formed but cannot be acted on as it stands."""

    kind = "unprocessable"


class Upstream(RemitError):
    """A service Remit depends on outside itself (the cloud) refused or failed."""

    kind = "upstream"


class Unavailable(RemitError):
    """Remit's own state cannot be read or written right now (ledger, envelope, writer);
    nothing was allowed because of it."""

    kind = "unavailable"
