"""The HTTP service fixtures of `tests/server` (a signed envelope, a Runtime over SQLite
with a settable clock, a client, API keys), for the oversight routes' tests."""

from tests.server.conftest import (  # noqa: F401
    api_keys,
    bare_client,
    clock,
    envelope_file,
    pki,
    rt,
    server_config,
)
