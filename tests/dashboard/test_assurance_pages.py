"""The assurance pages over a real app (TestClient, SQLite ledger): reconciliation findings
by class with their filters and links, the CloudTrail joined to a decision, review samples
with verdict entry (CSRF, roles and the API's refusals), an agent's drift and
service-account audit, one ledger entry with its proof, and the diff between two recorded
envelope versions. Roles as in the API; text from agents and trails shown escaped; every
page has its empty state."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from tests.dashboard.uikit import csrf_of, sign_in
from tests.server.srvkit import (
    NOW,
    ApiKeys,
    Clock,
    bearer,
    entries_of,
    example_request,
    held_request,
    read_request,
)

from remit.identity.model import Role
from remit.ledger.kinds import ReconciliationRecord
from remit.ledger.kinds.cloudtrail import COUNT_NAMES
from remit.ledger.records import make_entry
from remit.server.runtime import Runtime

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'
PRINCIPAL = "arn:aws:sts::111122223333:assumed-role/ai-remediator/s1"


def _key(rt: Runtime, clock: Clock, role: Role, name: str) -> str:
    _, text = rt.keys.create(name, role, None, clock(), "test-setup")
    return text


def _decide(c: TestClient, keys: ApiKeys, body: dict[str, Any]) -> str:
    r = c.post("/v1/decisions", json=body, headers=bearer(keys.agent))
    assert r.status_code == 200, r.text
    return str(r.json()["id"])


def _finding(cls: str, decision_id: str | None, index: int | None, **more: Any) -> dict[str, Any]:
    return {
        "class": cls, "event_id": more.get("event_id", f"ev-{cls}"),
        "event_time": more.get("event_time", "2026-11-21T12:30:00.000000Z"),
        "principal": more.get("principal", PRINCIPAL), "action": "iam:DetachRolePolicy",
        "resources": more.get("resources", ["arn:aws:iam::111122223333:role/app"]),
        "decision_id": decision_id, "ledger_index": index,
        "why": more.get("why", f"{cls} finding"),
    }  # fmt: skip


def _reconcile(rt: Runtime, findings: list[dict[str, Any]]) -> int:
    counts = dict.fromkeys(COUNT_NAMES, 0)
    counts["explained"] = 3
    for f in findings:
        counts[f["class"]] += 1
    record = ReconciliationRecord(
        "rec-test", NOW - timedelta(hours=1), NOW + timedelta(hours=2),
        {"trail": "ab" * 32, "ledger_size": rt.store.size()},
        ("arn:aws:iam::111122223333:role/ai-remediator",), counts, tuple(findings),
    )  # fmt: skip
    return rt.store.append([make_entry(record, rt.clock(), "cli:reconcile")])[0]


# -- findings -----------------------------------------------------------------------------


def test_findings_page_is_for_auditors_and_says_when_there_is_no_run(
    client: TestClient, rt: Runtime, api_keys: ApiKeys, clock: Clock
) -> None:
    sign_in(client, api_keys.alice)
    page = client.get("/ui/findings")
    assert page.status_code == 403 and "may not read reconciliation findings" in page.text
    assert 'href="/ui/findings"' not in client.get("/ui/decisions").text  # not in the nav
    reviewer = TestClient(client.app)
    sign_in(reviewer, _key(rt, clock, Role.REVIEWER, "rita"))
    assert reviewer.get("/ui/findings").status_code == 403
    auditor = TestClient(client.app)
    sign_in(auditor, api_keys.auditor)
    page = auditor.get("/ui/findings")
    assert page.status_code == 200
    assert "No reconciliation run is recorded" in page.text
    assert 'href="/ui/findings"' in page.text


def test_findings_by_class_filtered_linked_and_escaped(
    client: TestClient, rt: Runtime, api_keys: ApiKeys
) -> None:
    did = _decide(client, api_keys, example_request())
    index = rt.store.reads.decision(did)
    assert index is not None
    run = _reconcile(rt, [
        _finding("out_of_scope", did, index.index, why=XSS, resources=[XSS]),
        _finding("unexplained", None, None, principal=XSS, event_id="ev-2",
                 event_time="2026-11-21T13:30:00.000000Z"),
    ])  # fmt: skip
    sign_in(client, api_keys.auditor)
    html = client.get("/ui/findings").text
    assert "<script>" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert f'href="/ui/decisions/{did}"' in html
    assert f'href="/ui/ledger/{index.index}"' in html and f'href="/ui/ledger/{run}"' in html
    assert "out of scope (1)" in html and "unexplained (1)" in html
    only = client.get("/ui/findings", params={"class": "unexplained"}).text
    assert "unexplained (1)" in only and "out of scope (1)" not in only
    by_principal = client.get("/ui/findings", params={"principal": PRINCIPAL}).text
    assert "out of scope (1)" in by_principal and "unexplained (1)" not in by_principal
    late = client.get("/ui/findings", params={"since": "2026-11-21T13:00:00Z"}).text
    assert "unexplained (1)" in late and "out of scope (1)" not in late
    none = client.get("/ui/findings", params={"until": "2026-11-21T00:00:00Z"}).text
    assert "No finding matches these filters" in none
    bad = client.get("/ui/findings", params={"class": "sneaky"})
    assert bad.status_code == 422 and "class must be one of" in bad.text
    bad = client.get("/ui/findings", params={"since": "2026-11-21T13:00:00"})
    assert bad.status_code == 422 and "since" in bad.text and "time zone" in bad.text
    bad = client.get("/ui/findings", params={"until": "0001-01-01T00:00:00+00:01"})
    assert bad.status_code == 422 and "until" in bad.text and "out of range" in bad.text


def test_a_decision_shows_the_cloudtrail_joined_to_it(
    client: TestClient, rt: Runtime, api_keys: ApiKeys
) -> None:
    did = _decide(client, api_keys, example_request())
    clean = _decide(client, api_keys, read_request())
    sign_in(client, api_keys.auditor)
    assert "No reconciliation run is recorded" in client.get(f"/ui/decisions/{did}").text
    _reconcile(rt, [_finding("after_revocation", did, 0, why=XSS)])
    html = client.get(f"/ui/decisions/{did}").text
    assert "after revocation" in html and "rec-test" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert (
        "every CloudTrail event joined to it in the window, if it made any call, was explained"
        in (client.get(f"/ui/decisions/{clean}").text)
    )
    approver = TestClient(client.app)
    sign_in(approver, api_keys.alice)
    shown = approver.get(f"/ui/decisions/{did}").text
    assert "shown to auditor and admin keys" in shown and "after revocation" not in shown


# -- reviews ------------------------------------------------------------------------------


def _sampled(
    c: TestClient, rt: Runtime, keys: ApiKeys, clock: Clock
) -> tuple[str, dict[str, str], str]:
    """Three decisions (one held and approved by alice), a closed period, a checkpoint
    after it, and a sample drawn by a reviewer: (sample id, decision ids, reviewer key)."""
    ids = {"read": _decide(c, keys, read_request()), "revoke": _decide(c, keys, example_request())}
    ids["held"] = _decide(c, keys, held_request())
    r = c.post(f"/v1/approvals/{ids['held']}/approve", json={}, headers=bearer(keys.alice))
    assert r.status_code == 200, r.text
    rita = _key(rt, clock, Role.REVIEWER, "rita")
    clock.advance(hours=3)
    c.get("/v1/ledger/checkpoint", headers=bearer(keys.auditor))
    body = {"since": (NOW - timedelta(hours=1)).isoformat(),
            "until": (NOW + timedelta(hours=2)).isoformat(),
            "tiers": ["autonomous", "notify", "approve"]}  # fmt: skip
    r = c.post("/v1/reviews/samples", json=body, headers=bearer(rita))
    assert r.status_code == 200, r.text
    return str(r.json()["sample_id"]), ids, rita


def test_reviews_pages_for_readers_with_empty_state(
    client: TestClient, rt: Runtime, api_keys: ApiKeys, clock: Clock
) -> None:
    sign_in(client, api_keys.alice)
    assert client.get("/ui/reviews").status_code == 403
    auditor = TestClient(client.app)
    sign_in(auditor, api_keys.auditor)
    page = auditor.get("/ui/reviews")
    assert page.status_code == 200 and "No review sample is recorded yet" in page.text
    missing = auditor.get("/ui/reviews/rs-nope")
    assert missing.status_code == 404 and "no review sample" in missing.text


def test_verdict_entry_with_csrf_roles_and_the_api_refusals(
    client: TestClient, rt: Runtime, api_keys: ApiKeys, clock: Clock
) -> None:
    sid, ids, rita = _sampled(client, rt, api_keys, clock)
    sign_in(client, rita)
    listing = client.get("/ui/reviews").text
    assert sid in listing and "0 of 3 reviewed" in listing
    page = client.get(f"/ui/reviews/{sid}")
    assert page.status_code == 200
    assert page.text.count('action="/ui/reviews/') == 3  # a form per unreviewed decision
    token = csrf_of(page.text)
    url = f"/ui/reviews/{sid}/verdicts"
    verdict = {"decision_id": ids["revoke"], "verdict": "inappropriate", "comment": XSS}
    size = rt.store.size()
    assert client.post(url, data=verdict, follow_redirects=False).status_code == 403
    assert client.post(url, data={**verdict, "csrf": "guess"}).status_code == 403
    cross = client.post(url, data={**verdict, "csrf": token},
                        headers={"Origin": "https://evil.example"})  # fmt: skip
    assert cross.status_code == 403
    assert rt.store.size() == size  # nothing recorded without the token
    r = client.post(url, data={**verdict, "csrf": token}, follow_redirects=False)
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"/ui/reviews/{sid}?done={ids['revoke']}"
    (recorded,) = entries_of(rt.store, "review_verdict")
    assert recorded["data"]["verdict"] == "inappropriate"
    assert recorded["actor"].startswith("reviewer:rita#")
    html = client.get(r.headers["location"]).text
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "1 of 1 inappropriate" in html  # the stratum and the rule suggestion
    size = rt.store.size()
    again = client.post(url, data={**verdict, "csrf": token})
    assert again.status_code == 409 and "already has a verdict" in again.text
    unsampled = client.post(url, data={**verdict, "decision_id": "dec_nope", "csrf": token})
    assert unsampled.status_code == 404
    bad = client.post(url, data={**verdict, "decision_id": ids["read"], "verdict": "fine",
                                 "csrf": token})  # fmt: skip
    assert bad.status_code == 422 and "verdict must be one of" in bad.text
    assert rt.store.size() == size
    # alice approved the held decision: as a reviewer she may not judge it
    alice = TestClient(client.app)
    sign_in(alice, _key(rt, clock, Role.REVIEWER, "alice"))
    own = {"decision_id": ids["held"], "verdict": "appropriate"}
    own_token = csrf_of(alice.get(f"/ui/reviews/{sid}").text)
    size = rt.store.size()
    r = alice.post(url, data={**own, "csrf": own_token})
    assert r.status_code == 403 and "own decision" in r.text
    assert rt.store.size() == size
    # an auditor reads the sample but gets no form and cannot post one
    auditor = TestClient(client.app)
    sign_in(auditor, api_keys.auditor)
    seen = auditor.get(f"/ui/reviews/{sid}").text
    assert 'action="/ui/reviews/' not in seen and "given with a reviewer key" in seen
    size = rt.store.size()
    r = auditor.post(url, data={**own, "csrf": csrf_of(seen)})
    assert r.status_code == 403 and "needs a reviewer key" in r.text
    assert rt.store.size() == size


def test_not_sampled_is_refused_like_the_api(
    client: TestClient, rt: Runtime, api_keys: ApiKeys, clock: Clock
) -> None:
    sid, _, rita = _sampled(client, rt, api_keys, clock)
    later = _decide(client, api_keys, read_request())  # after the period: never sampled
    sign_in(client, rita)
    token = csrf_of(client.get(f"/ui/reviews/{sid}").text)
    form = {"decision_id": later, "verdict": "appropriate", "csrf": token}
    r = client.post(f"/ui/reviews/{sid}/verdicts", data=form)
    assert r.status_code == 422 and "was not sampled" in r.text


# -- agents, ledger entries, envelope versions --------------------------------------------


def test_agents_show_drift_and_service_account_audit_by_role(
    client: TestClient, rt: Runtime, api_keys: ApiKeys
) -> None:
    did = _decide(client, api_keys, example_request())
    sign_in(client, api_keys.auditor)
    html = client.get("/ui/agents").text
    assert "Learning its baseline" in html  # remediator decided once
    assert "No decisions of this agent yet" in html  # scanner never decided
    assert "Latest reconciliation's findings against its principals: none" in html
    _reconcile(rt, [_finding("out_of_scope", did, 0)])
    html = client.get("/ui/agents").text
    assert 'href="/ui/findings?class=out_of_scope"' in html
    approver = TestClient(client.app)
    sign_in(approver, api_keys.alice)
    html = approver.get("/ui/agents").text
    assert "Drift status is shown to auditor, reviewer and admin keys" in html
    assert "service-account audit is shown to auditor and admin keys" in html


def test_a_ledger_entry_with_its_proof_for_auditors(
    client: TestClient, rt: Runtime, api_keys: ApiKeys
) -> None:
    did = _decide(client, api_keys, example_request(summary=XSS))
    found = rt.store.reads.decision(did)
    assert found is not None
    client.get("/v1/ledger/checkpoint", headers=bearer(api_keys.auditor))
    sign_in(client, api_keys.auditor)
    html = client.get(f"/ui/ledger/{found.index}").text
    assert "Ledger entry" in html and "decision" in html and "Verified" in html
    assert "<script>" not in html and "\\u003cscript\\u003e" in html  # JSON, HTML-safe
    assert client.get("/ui/ledger/999999").status_code == 404
    approver = TestClient(client.app)
    sign_in(approver, api_keys.alice)
    assert approver.get(f"/ui/ledger/{found.index}").status_code == 403


def test_envelope_versions_are_recorded_once_and_diffed(
    client: TestClient, rt: Runtime, api_keys: ApiKeys, envelope_file: Path
) -> None:
    sign_in(client, api_keys.auditor)
    assert "One version is recorded so far" in client.get("/ui/envelope").text
    data = yaml.safe_load(envelope_file.read_text(encoding="utf-8"))
    data["metadata"]["version"] = "2"
    data["metadata"]["threat_model"] = XSS
    for rule in data["rules"]:
        if rule["id"] == "R1-read":
            rule["tier"] = "approve"
    envelope_file.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    rt.envelope_view(force=True)
    rt.envelope_view(force=True)
    versions = rt.store.reads.envelope_versions()
    assert len(versions) == 2 and len(entries_of(rt.store, "envelope_version")) == 2
    new, old = versions
    assert new.version == "2"
    page = client.get("/ui/envelope")
    assert 'name="old"' in page.text and 'name="new"' in page.text
    html = client.get("/ui/envelope", params={"old": old.digest, "new": new.digest}).text
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "rule R1-read: tier" in html
    assert "loses autonomy" in html  # reads no longer run unattended
    same = client.get("/ui/envelope", params={"old": old.digest, "new": old.digest}).text
    assert "No changes." in same
    r = client.get("/ui/envelope", params={"old": "sha256:nope", "new": new.digest})
    assert r.status_code == 404 and "no envelope version" in r.text


@pytest.mark.parametrize("page", ["/ui/findings", "/ui/reviews", "/ui/reviews/x", "/ui/ledger/0"])
def test_new_pages_need_a_session(client: TestClient, page: str) -> None:
    r = client.get(page, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/ui/login?next=")
