"""The Python SDK: `Client`/`AsyncClient` (decide, wait, act with scoped credentials,
report, revoke), the `@client.governed` decorator, and the boto3 hook `instrument`."""

from remit.sdk.client import AsyncClient, Client
from remit.sdk.errors import (
    ApprovalTimedOut,
    Denied,
    FallbackRequired,
    RemitError,
    RemitRefused,
    RemitUnavailable,
)
from remit.sdk.hook import instrument
from remit.sdk.settings import SettingsError

__all__ = [
    "ApprovalTimedOut",
    "AsyncClient",
    "Client",
    "Denied",
    "FallbackRequired",
    "RemitError",
    "RemitRefused",
    "RemitUnavailable",
    "SettingsError",
    "instrument",
]
