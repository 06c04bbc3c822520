"""A small AWS world for tests of grants, the SDK and rollback: a real moto server
process, an agent execution role bootstrapped in it, a signed envelope whose agent uses
that role, a Runtime over SQLite with the STS backend, API keys, and an SDK client routed
through the in-process app. Built once per test module by the fixtures that use it."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from fastapi.testclient import TestClient

import remit
from remit.aws import MotoServer, bootstrap_agent_role
from remit.envelope import load_envelope
from remit.envelope.signoff import append_signoff, create_signoff, signoffs_path
from remit.identity.model import Role
from remit.server.app import create_app
from remit.server.config import ServerConfig
from remit.server.runtime import Runtime
from remit.signing.keys import generate_signing_key, load_signing_key, write_key_pair

ACCOUNT = "123456789012"
ROLE_PREFIX = f"arn:aws:iam::{ACCOUNT}:role/"
REPO = Path(__file__).resolve().parents[2]
PROVENANCE = {
    "model": {"name": "claude-sonnet", "version": "2026-10-01"},
    "workflow": {"name": "iam-hygiene", "run": "r-1", "step": "revoke-stale"},
}
REASONING = {
    "summary": "Role unused for 42 days and writes to 5 buckets",
    "signals": [{"name": "unused_days", "value": 42, "source": "cloudtrail"}],
    "confidence": 0.9,
    "alternatives": [{"action": "alert-only", "rejected_because": "severity threshold exceeded"}],
}
EXTRA_RULES = """
  - id: R20-rollback-by-humans
    agents: [remediator]
    actions: ["iam:AttachRolePolicy", "iam:PutRolePolicy"]
    resources: ["arn:aws:iam::123456789012:role/*"]
    tier: approve
"""


def envelope_text(role_arn: str, extra_rules: str = EXTRA_RULES) -> str:
    """The example envelope in moto's account, with the agent's execution role set."""
    text = (REPO / "examples" / "envelope.yaml").read_text().replace("111122223333", ACCOUNT)
    text = text.replace(
        f"service_account: arn:aws:iam::{ACCOUNT}:role/ai-remediator",
        f"service_account: arn:aws:iam::{ACCOUNT}:role/ai-remediator\n"
        f"    execution_role: {role_arn}",
    )
    return text.replace("\nprotected:", extra_rules + "protected:", 1)


@dataclass
class AwsWorld:
    moto: MotoServer
    boot: dict[str, str]
    folder: Path
    runtime: Runtime
    http: TestClient
    keys: dict[str, str] = field(default_factory=dict)

    def iam(self) -> Any:
        return self.moto.client("iam")

    def client(self, key: str = "agent", **kw: Any) -> remit.Client:
        """An SDK client whose HTTP goes through the in-process app."""
        c = remit.Client(
            "http://testserver", self.keys[key], agent="remediator", provenance=PROVENANCE, **kw
        )
        c._http.close()
        # A client of its own on the same app (no lifespan: the world's client runs that).
        c._http = TestClient(self.http.app, base_url="http://testserver", headers=c.headers)
        return c

    def headers(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[key]}"}

    def role(self, name: str, *policy_arns: str) -> str:
        iam = self.iam()
        iam.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )
        for arn in policy_arns:
            iam.attach_role_policy(RoleName=name, PolicyArn=arn)
        return f"arn:aws:iam::{ACCOUNT}:role/{name}"

    def managed_policy(self, name: str) -> str:
        doc = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
        }
        return self.iam().create_policy(PolicyName=name, PolicyDocument=json.dumps(doc))["Policy"][
            "Arn"
        ]  # type: ignore[no-any-return]


def build_world(
    folder: Path, monkeypatch: Any, *, enforce_iam: bool = False, clock: Any = None
) -> Iterator[AwsWorld]:
    """Generator for a fixture: yields an AwsWorld and tears it all down afterwards."""
    with MotoServer(enforce_iam=enforce_iam, no_auth_requests=10_000 if enforce_iam else 0) as moto:
        boot = bootstrap_agent_role(moto.client("iam"))
        # The agent's execution role may change IAM role policies (the steps it is granted).
        moto.client("iam").put_role_policy(
            RoleName=boot["role_name"],
            PolicyName="remediation",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": [
                                "iam:DetachRolePolicy",
                                "iam:AttachRolePolicy",
                                "iam:DeleteRolePolicy",
                                "iam:PutRolePolicy",
                                "iam:GetRole",
                                "iam:ListRoles",
                                "iam:ListAttachedRolePolicies",
                            ],
                            "Resource": "*",
                        }
                    ],
                }
            ),
        )
        env = folder / "envelope.yaml"
        env.write_text(envelope_text(boot["role_arn"]))
        ciso = generate_signing_key("ciso.example.com")
        write_key_pair(folder / "ciso", ciso)
        append_signoff(
            signoffs_path(env),
            create_signoff(
                load_envelope(env),
                ciso,
                "ciso@example.com",
                "CISO",
                datetime.now(UTC) - timedelta(days=1),
            ),
        )
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", boot["remit_access_key_id"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", boot["remit_secret_access_key"])
        monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
        monkeypatch.delenv("AWS_PROFILE", raising=False)
        cfg = ServerConfig(
            envelope=env,
            trusted_keys=[str(folder / "ciso.pub")],
            db=str(folder / "remit.db"),
            aws={"backend": "sts", "endpoint_url": moto.endpoint_url},
        )
        rt = Runtime(cfg, clock=clock) if clock else Runtime(cfg)
        now = datetime.now(UTC)
        keys = {}
        for name, role, agent in (
            ("agent", Role.AGENT, "remediator"),
            ("approver", Role.APPROVER, None),
            ("admin", Role.ADMIN, None),
            ("auditor", Role.AUDITOR, None),
        ):
            keys[name] = rt.keys.create(name, role, agent, now, "test-setup")[1]
        with TestClient(create_app(rt), base_url="http://testserver") as http:
            yield AwsWorld(moto, boot, folder, rt, http, keys)


@contextlib.contextmanager
def envelope_changed(world: AwsWorld, change: Callable[[dict[str, Any]], None]) -> Iterator[None]:
    """Edit the world's envelope (as YAML data) and sign it off again; restored after."""
    path = world.folder / "envelope.yaml"
    original = path.read_text()
    data = yaml.safe_load(original)
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    key = load_signing_key(str(world.folder / "ciso.key"))
    signed_at = datetime.now(UTC) - timedelta(days=1)
    append_signoff(
        signoffs_path(path),
        create_signoff(load_envelope(path), key, "ciso@example.com", "CISO", signed_at),
    )
    view = world.runtime.envelope_view(force=True)
    assert view.trust.valid and view.loaded.digest == load_envelope(path).digest
    try:
        yield
    finally:
        path.write_text(original)  # its original sign-off still covers it
        view = world.runtime.envelope_view(force=True)
        assert view.trust.valid and view.loaded.digest == load_envelope(path).digest
