"""Remit: an accountability layer for autonomous AI actions in the cloud.

`remit.Client`, `remit.AsyncClient` and `remit.instrument` are the SDK, imported on first
use. The SDK needs only httpx and boto3, the base install (`pip install remit`); importing
`remit` itself loads nothing else, and nothing of the service, its store or the local
cloud (the `server`, `postgres` and `demo` extras).
"""

from __future__ import annotations

from typing import Any

_SDK = {
    "Client",
    "AsyncClient",
    "instrument",
    "Denied",
    "ApprovalTimedOut",
    "FallbackRequired",
    "RemitUnavailable",
    "RemitRefused",
    "RemitError",
    "SettingsError",
}


def __getattr__(name: str) -> Any:
    if name in _SDK:
        import remit.sdk

        return getattr(remit.sdk, name)
    raise AttributeError(f"module 'remit' has no attribute {name!r}")
