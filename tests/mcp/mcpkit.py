"""The MCP proxy's test world: a moto server (recording requests), an agent execution role
in it, a signed envelope, `remit serve` as a child process with the STS backend against
moto, keys made with `remit keys create`; and an MCP client (the `mcp` SDK's) that runs
`remit mcp proxy -- <upstream>` as a child process over stdio."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.support.aws_world import PROVENANCE, REPO, AwsWorld, build_world, envelope_changed

from mcp import ClientSession, StdioServerParameters, stdio_client
from remit.aws.moto_server import free_port

ACCOUNT = "123456789012"
IAM_SERVER = [sys.executable, "-m", "awslabs.iam_mcp_server.server", "--allow-write",
              "--no-confirmation"]  # fmt: skip
REASONING = {
    "summary": "Inline policy grants s3:* and the role has been unused for 42 days",
    "signals": [{"name": "unused_days", "value": 42, "source": "cloudtrail"}],
    "confidence": 0.9,
    "alternatives": [{"action": "alert-only", "rejected_because": "severity threshold exceeded"}],
}
FIND = {"workflow": {"name": "iam-hygiene", "run": "r-mcp", "step": "find-stale"}}
REVOKE = {"workflow": {"name": "iam-hygiene", "run": "r-mcp", "step": "revoke-stale"}}


@dataclass
class Served:
    url: str
    keys: dict[str, str]
    db: str
    folder: Path
    world: AwsWorld
    recording: Path
    pid: int = 0
    """`remit serve`'s process id."""


def _cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REMIT_", "AWS_"))}
    env["PYTHONPATH"] = str(REPO / "src") + os.pathsep + env.get("PYTHONPATH", "")
    env.update(COLUMNS="250", NO_COLOR="1", TERM="dumb")
    return env


def remit_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "remit.cli", *args]


def serve_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """For a module-scoped fixture: the whole world, torn down afterwards."""
    folder = tmp_path_factory.mktemp("mcp-world")
    recording = folder / "moto-recording.jsonl"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MOTO_RECORDER_FILEPATH", str(recording))
        mp.setenv("MOTO_ENABLE_RECORDING", "true")
        gen = build_world(folder, mp)
        world = next(gen)
        mp.delenv("MOTO_RECORDER_FILEPATH")  # read by the moto child at its start only
        mp.delenv("MOTO_ENABLE_RECORDING")  # read by the moto child at its start only
        try:
            with envelope_changed(world, _break_glass_is_listable):
                yield from _serve(world, folder, recording)
        finally:
            gen.close()


def _break_glass_is_listable(envelope: dict[str, Any]) -> None:
    """R9 forbids changing the break-glass role, not listing it; IAM's List* calls are
    evaluated against "*" only, so a rule says the agent may list the account; changes to
    prod-* roles wait for a human."""
    (r9,) = [r for r in envelope["rules"] if r["id"] == "R9-break-glass-role"]
    r9["actions"] = ["iam:Delete*", "iam:Put*", "iam:Attach*", "iam:Detach*", "iam:Update*"]
    envelope["rules"][:0] = [{
        "id": "R2-list-account", "agents": ["remediator"], "actions": ["iam:List*"],
        "resources": ["*"], "allow_wildcards": True, "tier": "autonomous",
    }, {
        "id": "R3-prod-roles-need-a-human", "agents": ["remediator"],
        "actions": ["iam:DeleteRolePolicy"], "resources": [f"arn:aws:iam::{ACCOUNT}:role/prod-*"],
        "tier": "approve",
    }]  # fmt: skip
    # A protected set or a regulation over some roles also covers "*": every account-wide
    # List* would then wait for a human. This envelope holds prod roles by a rule instead.
    envelope["protected"] = []
    envelope["regulations"] = []


def _serve(world: AwsWorld, folder: Path, recording: Path) -> Iterator[Served]:
    import yaml

    db = str(folder / "serve.db")
    env = _cli_env()
    env.update(
        AWS_ACCESS_KEY_ID=world.boot["remit_access_key_id"],
        AWS_SECRET_ACCESS_KEY=world.boot["remit_secret_access_key"],
        AWS_DEFAULT_REGION="us-east-1",
    )
    keys = {}
    for name, role, agent in (("bot", "agent", "remediator"), ("alice", "approver", None)):
        args = ["keys", "create", "--init", "--role", role, "--name", name, "--db", db]
        args += ["--agent", agent] if agent else []
        r = subprocess.run(remit_cmd(*args), cwd=folder, env=env, capture_output=True,
                           text=True, timeout=120)  # fmt: skip
        assert r.returncode == 0, r.stdout + r.stderr
        keys[name] = r.stdout.rstrip("\n").splitlines()[-1]
    port = free_port()
    config = folder / "remit.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "envelope": str(folder / "envelope.yaml"),
                "trusted_keys": [str(folder / "ciso.pub")],
                "db": db,
                "port": port,
                "aws": {"backend": "sts", "endpoint_url": world.moto.endpoint_url},
            }
        )
    )
    log_path = folder / "serve.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(remit_cmd("serve", "--config", str(config)), cwd=folder,
                                env=env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 40
        while True:
            if proc.poll() is not None:
                pytest.fail(f"remit serve exited {proc.returncode}: {log_path.read_text()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                pytest.fail(f"remit serve not ready: {log_path.read_text()}")
            time.sleep(0.2)
        yield Served(url, keys, db, folder, world, recording, proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def proxy_params(
    served: Served,
    *options: str,
    upstream: Sequence[str] = IAM_SERVER,
    url: str | None = None,
    key: str = "bot",
) -> StdioServerParameters:
    """`remit mcp proxy` in front of `upstream`, configured through the environment."""
    env = _cli_env()
    env.update(
        REMIT_URL=url or served.url,
        REMIT_API_KEY=served.keys[key],
        REMIT_AGENT="remediator",
        AWS_ENDPOINT_URL=served.world.moto.endpoint_url,
        AWS_REGION="us-east-1",
        # The proxy's own (broad) credentials: the upstream must never get them.
        AWS_ACCESS_KEY_ID=served.world.boot["remit_access_key_id"],
        AWS_SECRET_ACCESS_KEY=served.world.boot["remit_secret_access_key"],
    )
    cmd = remit_cmd(
        "mcp", "proxy", "--account", ACCOUNT,
        "--provenance", json.dumps({"model": PROVENANCE["model"]}),
        *options, "--", *upstream,
    )  # fmt: skip
    return StdioServerParameters(command=cmd[0], args=cmd[1:], env=env, cwd=str(served.folder))


@contextlib.asynccontextmanager
async def mcp_client(params: StdioServerParameters) -> AsyncIterator[ClientSession]:
    """An initialised MCP client session over stdio to `params` (the proxy)."""
    errlog = Path(params.cwd or ".") / "proxy-stderr.log"
    with errlog.open("a") as err:
        async with stdio_client(params, errlog=err) as (r, w), ClientSession(r, w) as s:
            await s.initialize()
            yield s


def meta(provenance: dict[str, Any], reasoning: dict[str, Any] = REASONING) -> dict[str, Any]:
    return {"remit/reasoning": reasoning, "remit/provenance": provenance}


def text_of(result: Any) -> str:
    return " ".join(getattr(c, "text", "") for c in result.content)


class Approver(threading.Thread):
    """Approves (or rejects) over HTTP the first held decision that names `arn`."""

    def __init__(self, served: Served, arn: str, verb: str = "approve", timeout: float = 60):
        super().__init__(daemon=True)
        self.served, self.arn, self.verb, self.timeout = served, arn, verb, timeout
        self.seen: dict[str, Any] | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.served.keys['alice']}"}
        try:
            with httpx.Client(base_url=self.served.url, headers=headers, timeout=10) as http:
                deadline = time.monotonic() + self.timeout
                while time.monotonic() < deadline and self.seen is None:
                    for item in http.get("/v1/approvals").raise_for_status().json():
                        if any(x["arn"] == self.arn for x in item["request"]["resources"]):
                            self.seen = item["decision"]
                            break
                    else:
                        time.sleep(0.1)
                if self.seen is not None:
                    http.post(
                        f"/v1/approvals/{self.seen['id']}/{self.verb}",
                        json={"comment": f"{self.verb}d while the MCP client waited"},
                    ).raise_for_status()
        except BaseException as exc:
            self.error = exc


def ledger(served: Served, kind: str) -> list[dict[str, Any]]:
    from remit.ledger.open import open_store

    store = open_store(served.db, create=False)
    try:
        return [json.loads(e.body)["data"] for e in store.entries() if e.kind == kind]
    finally:
        store.close()


def recorded_requests(served: Served) -> list[dict[str, Any]]:
    if not served.recording.exists():
        return []
    out = []
    for line in served.recording.read_text().splitlines():
        if line:
            req = json.loads(line)
            if req.get("body_encoded"):
                req["body"] = base64.b64decode(req["body"]).decode(errors="replace")
            out.append(req)
    return out


def toy_upstream(log: Path) -> list[str]:
    """The command of tests/mcp/toy_upstream.py, recording each call it receives in `log`."""
    from tests.mcp.toy_upstream import TOY

    return [sys.executable, str(TOY), "--log", str(log)]


def toy_params(served: Served, log: Path, *options: str, **kw: Any) -> StdioServerParameters:
    """`remit mcp proxy --mapping <toy> --credentials none` in front of the toy upstream."""
    from tests.mcp.toy_upstream import TOY_MAPPING

    return proxy_params(served, "--mapping", str(TOY_MAPPING), "--credentials", "none",
                        *options, upstream=toy_upstream(log), **kw)  # fmt: skip


def received(log: Path) -> list[dict[str, Any]]:
    """The calls the toy upstream received."""
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line]
