"""Fixtures for the evidence tests: the HTTP service's (a signed envelope, a Runtime over
SQLite with a settable clock, the app, keys for every role)."""

from __future__ import annotations

from tests.server.conftest import (  # noqa: F401 - fixtures
    api_keys,
    client,
    clock,
    envelope_file,
    mailbox,
    pki,
    receiver,
    rt,
    server_config,
)
