"""Fixtures for the dashboard tests: the HTTP service's fixtures (a signed envelope, a
Runtime over SQLite with a settable clock, the app with its lifespan, keys for every role)
and a browser-like sign-in through the login form."""

from __future__ import annotations

from tests.server.conftest import (  # noqa: F401 - fixtures
    api_keys,
    bare_client,
    client,
    clock,
    envelope_file,
    mailbox,
    pki,
    receiver,
    rt,
    server_config,
)
