"""The dashboard in a real browser against a real `remit serve`: Debian's headless
Chromium (/usr/bin/chromium) driven by Playwright — never a downloaded browser. An
approver signs in, sees the approval an agent is waiting on, approves it with a comment,
and the agent's long-poll returns allowed; an agent key cannot sign in, so cannot approve;
a form posted without its CSRF token is refused and changes nothing. A reviewer records a
verdict on a drawn sample through the review page, and an auditor reads the findings of a
`remit reconcile` run over a trail, the decision they name, the agents' drift and audit,
and the diff between two envelope versions. Screenshots of each page go to
docs/screenshots/.

Run: scripts/test-browser.sh (pytest -m browser tests/dashboard/test_browser.py).
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from tests.server.conftest import Pki
from tests.server.srvkit import REMIT, bearer, cli_env, held_request, ok, read_request, remit
from tests.server.srvkit import write_envelope as signed_envelope

from remit.aws.moto_server import free_port

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@dataclass
class Served:
    url: str
    agent: str
    alice: str
    auditor: str
    reviewer: str
    envelope: Path
    db: str
    proc: subprocess.Popen[bytes]
    log: Path


def _key(db: str, cwd: Path, *args: str) -> str:
    out = ok(remit("keys", "create", *args, "--db", db, cwd=cwd)).stdout
    return out.rstrip("\n").splitlines()[-1]


@pytest.fixture
def served(tmp_path: Path, pki: Pki) -> Iterator[Served]:
    """`remit serve` as a user starts it, over a fresh SQLite ledger; stopped after."""
    now = datetime.now(UTC)  # a real process uses the real clock
    envelope = signed_envelope(
        tmp_path, pki.ciso, signed_at=now - timedelta(days=1), expires_at=now + timedelta(days=365)
    )
    db = str(tmp_path / "remit.db")
    agent = _key(
        db, tmp_path, "--init", "--role", "agent", "--agent", "remediator", "--name", "bot"
    )  # the first key starts the ledger
    alice = _key(db, tmp_path, "--role", "approver", "--name", "alice")
    auditor = _key(db, tmp_path, "--role", "auditor", "--name", "audit")
    reviewer = _key(db, tmp_path, "--role", "reviewer", "--name", "rita")
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            [
                str(REMIT), "serve", "--envelope", str(envelope),
                "--trusted-keys", str(pki.ciso_pub), "--db", db,
                "--log-key", str(pki.log_key), "--port", str(port),
                "--checkpoint-every", "1",
            ],
            cwd=tmp_path, env=cli_env(), stdout=fh, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 40
        while True:
            if proc.poll() is not None:
                pytest.fail(f"remit serve exited {proc.returncode}:\n{log.read_text()}")
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"remit serve not ready:\n{log.read_text()}")
            time.sleep(0.2)
        yield Served(url, agent, alice, auditor, reviewer, envelope, db, proc, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is not installed: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield b
        finally:
            b.close()


def _hold(s: Served, **changes: Any) -> dict[str, Any]:
    r = httpx.post(
        f"{s.url}/v1/decisions", json=held_request(**changes), headers=bearer(s.agent), timeout=30
    )
    assert r.status_code == 200, r.text
    d: dict[str, Any] = r.json()
    assert d["status"] == "pending", d
    return d


def _status(s: Served, decision_id: str) -> str:
    r = httpx.get(f"{s.url}/v1/decisions/{decision_id}", headers=bearer(s.agent), timeout=10)
    return str(r.json()["status"])


def _sign_in(page: Any, s: Served, key: str, target: str = "/ui/approvals") -> None:
    page.goto(f"{s.url}{target}")
    assert "/ui/login" in page.url  # not signed in: sent to the sign-in page first
    page.fill("input[name=api_key]", key)
    page.click("button[type=submit]")


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_approver_approves_in_the_browser_and_the_agent_is_released(
    served: Served, browser: Any
) -> None:
    s = served
    for _ in range(3):  # some history for the overview and the decisions list
        httpx.post(f"{s.url}/v1/decisions", json=read_request(), headers=bearer(s.agent))
    d = _hold(s)
    released: dict[str, Any] = {}

    def agent_waits() -> None:  # the agent blocks on its held decision, as the SDK does
        r = httpx.get(
            f"{s.url}/v1/decisions/{d['id']}?wait=60", headers=bearer(s.agent), timeout=70
        )
        released.update(r.json())

    waiting = threading.Thread(target=agent_waits)
    waiting.start()

    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{s.url}/ui/login")
    _shot(page, "login")
    _sign_in(page, s, s.alice)
    page.wait_for_load_state()
    assert page.url == f"{s.url}/ui/approvals", page.content()
    card = page.locator(f"#approval-{d['id']}")
    card.wait_for()
    text = card.inner_text()
    assert "iam:DetachRolePolicy" in text
    assert "Role unused for 42 days" in text
    assert "CONFIDENCE_TOO_LOW" in text
    assert "credential can do exactly: iam:DetachRolePolicy" in text
    _shot(page, "approvals")

    page.goto(f"{s.url}/ui/approvals/{d['id']}")  # where notifications link to
    page.fill("textarea[name=comment]", "checked in the browser")
    page.click("button.approve")
    page.wait_for_url(f"{s.url}/ui/approvals/{d['id']}?done=approved")
    assert "Recorded: approved" in page.inner_text("main")
    _shot(page, "approval")

    waiting.join(timeout=60)
    assert not waiting.is_alive(), "the waiting agent was not released"
    assert released["status"] == "allowed"
    assert released["approval"]["comment"] == "checked in the browser"
    assert released["approval"]["resolved_by"].startswith("approver:alice#")

    time.sleep(1.5)  # one checkpoint period: the decision page proves inclusion
    page.goto(f"{s.url}/ui/decisions/{d['id']}")
    assert "Verified:" in page.inner_text("main")
    _shot(page, "decision")
    page.goto(f"{s.url}/ui/decisions")
    assert d["id"] in page.content()
    _shot(page, "decisions")
    page.goto(f"{s.url}/ui/")
    assert "4" in page.inner_text(".tiles")
    _shot(page, "overview")
    page.goto(f"{s.url}/ui/envelope")
    assert "ciso@example.com" in page.inner_text("main")
    _shot(page, "envelope")
    page.goto(f"{s.url}/ui/agents")
    assert "remediator" in page.inner_text("main")
    _shot(page, "agents")


def test_an_agent_key_cannot_approve_and_a_form_without_csrf_is_refused(
    served: Served, browser: Any, pki: Pki
) -> None:
    s = served
    d = _hold(s)

    agent_page = browser.new_context().new_page()
    _sign_in(agent_page, s, s.agent)
    assert "cannot sign in" in agent_page.inner_text("main")
    agent_page.goto(f"{s.url}/ui/approvals/{d['id']}")
    assert "/ui/login" in agent_page.url  # no session: the approval page is not reachable
    assert _status(s, d["id"]) == "pending"

    auditor_page = browser.new_context().new_page()
    _sign_in(auditor_page, s, s.auditor, f"/ui/approvals/{d['id']}")
    auditor_page.wait_for_url(f"{s.url}/ui/approvals/{d['id']}")
    assert auditor_page.locator("button.approve").count() == 0

    page = browser.new_context().new_page()
    _sign_in(page, s, s.alice, f"/ui/approvals/{d['id']}")
    page.wait_for_url(f"{s.url}/ui/approvals/{d['id']}")
    page.evaluate("document.querySelectorAll('input[name=csrf]').forEach(e => e.remove())")
    page.fill("textarea[name=comment]", "no token")
    page.click("button.approve")
    page.wait_for_load_state()
    assert "Form refused" in page.inner_text("main")
    assert _status(s, d["id"]) == "pending"
    db = str(s.log.parent / "remit.db")  # sign-ins on the ledger, and it verifies
    ok(remit("ledger", "verify", "--db", db, "--public-key", pki.log_pub, cwd=s.log.parent))


XSS = '<script>document.title="pwned"</script>'


def _trail(folder: Path, decision_id: str, at: datetime) -> Path:
    """A CloudTrail file: the AI role used outside Remit (unexplained), a call naming the
    decision that it did not allow (out of scope), and a human stopping the trail."""
    account = "111122223333"
    role = f"arn:aws:iam::{account}:role/ai-remediator"

    def event(n: int, action: str, arn: str, params: dict[str, Any], **ctx: Any) -> Any:
        service, name = action.split(":")
        ident: dict[str, Any] = {"arn": arn, "accountId": account, "type": "AssumedRole"}
        if ctx:
            ident["sessionContext"] = {"sessionIssuer": {"type": "Role", "arn": role}, **ctx}
        return {
            "eventVersion": "1.09", "eventID": f"ev-{n}", "awsRegion": "us-east-1",
            "eventTime": (at + timedelta(seconds=n)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "eventSource": f"{service}.amazonaws.com", "eventName": name,
            "eventType": "AwsApiCall", "recipientAccountId": account,
            "userIdentity": ident, "requestParameters": params,
        }  # fmt: skip

    session = f"arn:aws:sts::{account}:assumed-role/ai-remediator"
    events = [
        event(1, "s3:ListBuckets", f"{session}/manual-run", {}, sourceIdentity="manual"),
        event(2, "iam:DeleteRole", f"{session}/{XSS}", {"roleName": XSS},
              sourceIdentity=decision_id),
        event(3, "cloudtrail:StopLogging", f"arn:aws:iam::{account}:user/mallory",
              {"name": "org-trail"}),
    ]  # fmt: skip
    path = folder / "trail.json"
    path.write_text(json.dumps({"Records": events}), encoding="utf-8")
    return path


def test_reviewer_and_auditor_pages_in_the_browser(
    served: Served, browser: Any, tmp_path: Path
) -> None:
    s = served
    start = datetime.now(UTC) - timedelta(seconds=5)
    for _ in range(3):
        httpx.post(f"{s.url}/v1/decisions", json=read_request(), headers=bearer(s.agent))
    d = _hold(s)
    r = httpx.post(f"{s.url}/v1/approvals/{d['id']}/approve", json={"comment": "ok"},
                   headers=bearer(s.alice), timeout=30)  # fmt: skip
    assert r.status_code == 200, r.text
    until = datetime.now(UTC) + timedelta(seconds=1)
    time.sleep(1.5)  # the period closes; a decision after it, and a checkpoint covering it
    httpx.post(f"{s.url}/v1/decisions", json=read_request(), headers=bearer(s.agent))
    time.sleep(2)
    body = {"since": start.isoformat(), "until": until.isoformat(),
            "tiers": ["autonomous", "notify", "approve"]}  # fmt: skip
    r = httpx.post(f"{s.url}/v1/reviews/samples", json=body, headers=bearer(s.reviewer),
                   timeout=30)  # fmt: skip
    assert r.status_code == 200, r.text
    sample = r.json()["sample_id"]

    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    _sign_in(page, s, s.reviewer, "/ui/reviews")
    page.wait_for_url(f"{s.url}/ui/reviews")
    assert sample in page.inner_text("main")
    _shot(page, "reviews")
    page.click(f"text={sample}")
    page.wait_for_url(f"{s.url}/ui/reviews/{sample}")
    form = page.locator("form.verdict").first
    form.locator("select[name=verdict]").select_option("policy_gap")
    form.locator("input[name=comment]").fill(XSS)
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert "recorded" in page.inner_text("main")
    assert page.title() != "pwned" and XSS in page.inner_text("main")  # shown, not run
    _shot(page, "review")

    trail = _trail(tmp_path, d["id"], datetime.now(UTC))
    ok(remit("cloudtrail", "ingest", trail, "--trail-db", "t.duckdb", cwd=tmp_path))
    found = remit("reconcile", "--envelope", s.envelope, "--db", s.db, "--trail-db",
                  "t.duckdb", "--format", "json", cwd=tmp_path)  # fmt: skip
    assert found.returncode == 1, found.stderr  # findings: a check failed

    data = yaml.safe_load(s.envelope.read_text(encoding="utf-8"))
    data["metadata"]["version"] = 8
    data["rules"][0]["tier"] = "notify"
    s.envelope.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    time.sleep(1)  # the service notices the new file and records the version

    auditor = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    _sign_in(auditor, s, s.auditor, "/ui/findings")
    auditor.wait_for_url(f"{s.url}/ui/findings")
    text = auditor.inner_text("main")
    assert "unexplained" in text and "governance tampering" in text
    assert auditor.title() != "pwned"
    _shot(auditor, "findings")
    auditor.goto(f"{s.url}/ui/decisions/{d['id']}")
    assert "CloudTrail" in auditor.inner_text("main")
    _shot(auditor, "decision-cloudtrail")
    auditor.goto(f"{s.url}/ui/agents")
    text = auditor.inner_text("main")
    assert "Drift" in text and "Service-account audit" in text
    _shot(auditor, "agents-assurance")
    auditor.goto(f"{s.url}/ui/envelope")
    assert auditor.locator("select[name=old]").count() == 1, auditor.inner_text("main")
    auditor.click("text=Compare")
    auditor.wait_for_load_state()
    assert "→" in auditor.inner_text("article.diff")
    _shot(auditor, "envelope-diff")
