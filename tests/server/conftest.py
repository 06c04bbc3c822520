"""Fixtures for the HTTP service tests: a signed copy of the example envelope (plus a
second agent) in tmp_path, a Runtime over SQLite with an injected clock, a TestClient
running the app's lifespan, API keys for every role, and a fresh PostgreSQL database.

PostgreSQL is the server on 127.0.0.1:5432 (trust auth). When it is unreachable the
PostgreSQL tests skip with the reason, except under CI (the CI environment variable set),
where they fail: a CI run must not pass by silently skipping the shared store.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.notify.conftest import (  # the real local HTTP and SMTP receivers
    mailbox,  # noqa: F401
    receiver,  # noqa: F401
)
from tests.server.srvkit import SECOND_AGENT, ApiKeys, Clock, write_envelope
from tests.support.postgres import fresh_database

from remit.identity.model import Role
from remit.server.app import create_app
from remit.server.config import ServerConfig
from remit.server.runtime import Runtime
from remit.signing.keys import SigningKey, generate_signing_key, write_key_pair


@dataclass(frozen=True)
class Pki:
    """The CISO's sign-off key and the ledger's log key, as files and objects."""

    folder: Path
    ciso: SigningKey
    ciso_pub: Path
    log: SigningKey
    log_key: Path
    log_pub: Path


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    ciso = generate_signing_key("example.com/ciso")
    log = generate_signing_key("example.com/remit-test-log")
    write_key_pair(folder / "ciso", ciso)
    write_key_pair(folder / "log", log)
    return Pki(folder, ciso, folder / "ciso.pub", log, folder / "log.key", folder / "log.pub")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def envelope_file(tmp_path: Path, pki: Pki) -> Path:
    folder = tmp_path / "envelope"
    folder.mkdir()
    return write_envelope(folder, pki.ciso)


@pytest.fixture
def server_config(tmp_path: Path, envelope_file: Path, pki: Pki) -> ServerConfig:
    return ServerConfig(
        envelope=envelope_file,
        trusted_keys=[str(pki.ciso_pub)],
        db=str(tmp_path / "ledger" / "remit.db"),
        log_key=str(pki.log_key),
    )


@pytest.fixture
def rt(server_config: ServerConfig, clock: Clock) -> Iterator[Runtime]:
    runtime = Runtime(server_config, clock=clock)
    try:
        yield runtime
    finally:
        runtime.close()  # closing twice (after the app's lifespan) is harmless


@pytest.fixture
def client(rt: Runtime) -> Iterator[TestClient]:
    """The app with its lifespan running (background expiry and checkpoints)."""
    with TestClient(create_app(rt)) as c:
        yield c


@pytest.fixture
def bare_client(rt: Runtime) -> TestClient:
    """The app without its lifespan: no background task touches the ledger."""
    return TestClient(create_app(rt))


@pytest.fixture
def api_keys(rt: Runtime, clock: Clock) -> ApiKeys:
    made = {
        "agent": ("bot", Role.AGENT, "remediator"),
        "agent2": ("scan-bot", Role.AGENT, SECOND_AGENT),
        "alice": ("alice", Role.APPROVER, None),
        "bob": ("bob", Role.APPROVER, None),
        "auditor": ("audit", Role.AUDITOR, None),
        "admin": ("root", Role.ADMIN, None),
    }
    texts: dict[str, str] = {}
    labels: dict[str, str] = {}
    for attr, (name, role, agent) in made.items():
        record, text = rt.keys.create(name, role, agent, clock(), "test-setup")
        texts[attr] = text
        labels[attr] = record.identity().label
    return ApiKeys(**texts, labels=labels)


# -- PostgreSQL ------------------------------------------------------------------------


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database of its own; dropped (with its sessions) after."""
    with fresh_database("remit_srv") as url:
        yield url
