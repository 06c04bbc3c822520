"""Fixtures for the adversarial regressions, shared with the suites they extend: the
grant tests' AWS world (`wc`: a real moto server and a Runtime on the STS backend with a
settable clock; `world`) and the service tests' runtime, app and keys (`rt`, `client`,
`api_keys`, `clock`, …)."""

from tests.grants.conftest import wc, world
from tests.server.conftest import (
    api_keys,
    bare_client,
    client,
    clock,
    envelope_file,
    pki,
    rt,
    server_config,
)

__all__ = [
    "api_keys",
    "bare_client",
    "client",
    "clock",
    "envelope_file",
    "pki",
    "rt",
    "server_config",
    "wc",
    "world",
]
