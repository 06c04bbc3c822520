"""Helpers for the HTTP service tests: a signed copy of the example envelope (with a
second agent), example requests, an injectable clock, the `remit` executable, and ledger
readers that check entries independently of the routes under test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from copy import deepcopy
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from remit.envelope import load_envelope
from remit.envelope.signoff import append_signoff, create_signoff, signoffs_path
from remit.ledger.store import LedgerStore
from remit.signing.keys import SigningKey

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
REMIT = Path(sys.executable).with_name("remit")

# The example envelope's fixed times (review every P90D, expires 2027-03-01).
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
SIGNED_AT = datetime(2026, 11, 1, tzinfo=UTC)

SECOND_AGENT = "scanner"


class Clock:
    """A settable clock for `Runtime(config, clock=...)`."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def write_envelope(
    folder: Path,
    signer: SigningKey,
    signed_at: datetime = SIGNED_AT,
    expires_at: datetime | None = None,
    approval_timeout: str | None = None,
) -> Path:
    """The example envelope in `folder`, with a second agent (`scanner`, reads only) and
    a valid CISO sign-off at `signed_at`. `expires_at` replaces the envelope's expiry (for
    runs against the real clock), `approval_timeout` the default approval timeout."""
    data = yaml.safe_load((EXAMPLES / "envelope.yaml").read_text(encoding="utf-8"))
    data["agents"][SECOND_AGENT] = {
        "service_account": "arn:aws:iam::111122223333:role/ai-scanner",
        "models": [{"name": "claude-sonnet", "version": "2026-10-01"}],
        "workflows": ["iam-hygiene"],
    }
    for rule in data["rules"]:
        if rule["id"] == "R1-read":
            rule["agents"] = ["remediator", SECOND_AGENT]
    if expires_at is not None:
        data["metadata"]["expires_at"] = expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    if approval_timeout is not None:
        data["defaults"]["approval_timeout"] = approval_timeout
    path = folder / "envelope.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    loaded = load_envelope(path)
    append_signoff(
        signoffs_path(path),
        create_signoff(loaded, signer, "ciso@example.com", "CISO", signed_at),
    )
    return path


def example_request(**changes: Any) -> dict[str, Any]:
    """The example request (tier notify: R7 with the permissions-management floor), with
    top-level, reasoning or provenance changes."""
    data: dict[str, Any] = json.loads((EXAMPLES / "request.json").read_text(encoding="utf-8"))
    data = deepcopy(data)
    for key, value in changes.items():
        if key in ("model", "workflow", "prompt_sha256", "parent_decision"):
            data["provenance"][key] = value
        elif key in ("summary", "signals", "confidence", "alternatives"):
            data["reasoning"][key] = value
        else:
            data[key] = value
    return data


def held_request(**changes: Any) -> dict[str, Any]:
    """A request the envelope holds for approval (confidence below R7's 0.8)."""
    return example_request(**{"confidence": 0.5, **changes})


def read_request(agent: str = "remediator", **changes: Any) -> dict[str, Any]:
    """A read (R1-read) in the find-stale step: tier autonomous."""
    return example_request(
        agent=agent,
        action="iam:ListRoles",
        workflow={"name": "iam-hygiene", "run": "r-123", "step": "find-stale"},
        **changes,
    )


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def entries(store: LedgerStore) -> list[dict[str, Any]]:
    """Every ledger entry as parsed JSON, with its index under `_index`."""
    return [{**e.document(), "_index": e.index} for e in store.entries()]


def entries_of(store: LedgerStore, kind: str) -> list[dict[str, Any]]:
    return [e for e in entries(store) if e["kind"] == kind]


def reason_codes(decision: dict[str, Any]) -> list[str]:
    return [r["code"] for r in decision["reasons"]]


def cli_env() -> dict[str, str]:
    """The environment for a `remit` run: no ambient ledger/key settings, wide output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REMIT_")}
    env.update(COLUMNS="250", NO_COLOR="1", TERM="dumb")
    return env


def remit(*args: str | Path, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REMIT), *map(str, args)],
        cwd=cwd,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, (
        f"{result.args} exited {result.returncode}\nstdout:\n{result.stdout}\n"
        f"stderr:\n{result.stderr}"
    )
    return result


@dataclass(frozen=True)
class ApiKeys:
    """Key texts for every role the tests use."""

    agent: str  # agent bound to remediator
    agent2: str  # agent bound to scanner
    alice: str  # approver
    bob: str  # approver
    auditor: str
    admin: str
    labels: dict[str, str]  # key attribute name -> the identity label ledger entries carry
