"""The README's SDK example runs as written: the python block under "### The SDK" is
taken from README.md as it is and run, in a fresh interpreter, against a real
`remit serve --aws-backend sts` on the demo's local moto cloud (the example envelope
signed off with the remediator's execution role, the broker's credentials, the stale
role carrying the broad policy). The policy must really be detached in moto, and the
decision, grant and outcome recorded. The block is also `ruff format` and `ruff check`
clean."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.cli.clikit import REMIT, REPO, cli_env, ok, remit

from remit.aws import MotoServer
from remit.aws.moto_server import free_port
from remit.demo.cloud import DemoCloud, build, demo_envelope
from remit.demo.scenario import ACCOUNT, POLICY
from remit.envelope import load_envelope
from remit.envelope.signoff import append_signoff, create_signoff, signoffs_path
from remit.signing.keys import generate_signing_key, write_key_pair

RUFF = Path(sys.executable).with_name("ruff")


def readme_sdk_block() -> str:
    text = (REPO / "README.md").read_text("utf-8")
    section = text.split("\n### The SDK\n", 1)[1]
    found = re.search(r"```python\n(.*?)```", section, re.S)
    assert found, "no ```python block under ### The SDK"
    return found.group(1)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("readme")
    with MotoServer(env={"MOTO_ACCOUNT_ID": ACCOUNT}, log_path=folder / "moto.log") as moto:
        cloud = build(moto)
        envelope = folder / "envelope.yaml"
        envelope.write_text(
            demo_envelope((REPO / "examples" / "envelope.yaml").read_text(), cloud.execution_role)
        )
        ciso = generate_signing_key("example.com/ciso")
        write_key_pair(folder / "ciso", ciso)
        append_signoff(
            signoffs_path(envelope),
            create_signoff(
                load_envelope(envelope),
                ciso,
                "ciso@example.com",
                "CISO",
                datetime.now(UTC) - timedelta(days=1),
            ),
        )
        env = cli_env(**cloud.remit_env)
        db = str(folder / "remit.db")
        keys = {}
        for name, args in (
            ("agent", ["--role", "agent", "--agent", "remediator", "--envelope", envelope]),
        ):
            out = ok(remit("keys", "create", "--init", "--name", name, *args, "--db", db,
                           cwd=folder, env=env))  # fmt: skip
            keys[name] = out.stdout.strip().splitlines()[-1]
        port = free_port()
        log = (folder / "serve.log").open("wb")
        proc = subprocess.Popen(
            [str(REMIT), "serve", "--envelope", str(envelope), "--trusted-keys",
             str(folder / "ciso.pub"), "--db", db, "--port", str(port),
             "--aws-backend", "sts", "--aws-endpoint-url", moto.endpoint_url],
            cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                assert proc.poll() is None, (folder / "serve.log").read_text()
                try:
                    if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, (folder / "serve.log").read_text()
                time.sleep(0.2)
            yield {"url": url, "keys": keys, "cloud": cloud, "folder": folder, "db": db}
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
            log.close()


def test_the_readme_sdk_example_runs_as_written(served: dict[str, Any]) -> None:
    cloud: DemoCloud = served["cloud"]
    assert POLICY in cloud.attached("legacy-batch")  # what the example is about to detach
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "REMIT_"))}
    # the agent has no AWS credentials of its own: only what Remit grants for the step
    env.update(REMIT_URL=served["url"], REMIT_API_KEY=served["keys"]["agent"])
    proc = subprocess.run(
        [sys.executable, "-c", readme_sdk_block()],
        cwd=served["folder"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tier, decision_id, _ = proc.stdout.split(maxsplit=2)
    assert tier == "notify" and decision_id.startswith("dec_"), proc.stdout
    assert POLICY not in cloud.attached("legacy-batch")  # really done, in the local AWS
    shown = ok(remit("decisions", "show", decision_id, "--db", served["db"], "--format", "json",
                     cwd=served["folder"]))  # fmt: skip
    view = json.loads(shown.stdout)
    assert view["grant"]["backend"] == "sts" and view["grant"]["revoked"] is True, view
    assert "iam:DetachRolePolicy" in view["grant"]["effective"], view["grant"]
    assert view["outcome"]["status"] == "succeeded", view["outcome"]


def test_the_readme_sdk_example_is_ruff_clean() -> None:
    block = readme_sdk_block()
    for args in (["format", "--check", "--diff"], ["check"]):
        proc = subprocess.run(
            [str(RUFF), *args, "--stdin-filename", "readme_sdk.py", "-"],
            input=block,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 0, f"ruff {args[0]}:\n{proc.stdout}{proc.stderr}"
