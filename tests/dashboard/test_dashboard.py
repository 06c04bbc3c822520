"""The dashboard over a real app (TestClient, SQLite ledger): sign-in and its cookie,
CSRF on every form, roles and separation of duties as in the API, the approval page and
its effect on the waiting agent, the decisions list and page (inclusion proof verified),
the overview, and text agents wrote shown escaped, never run."""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.dashboard.uikit import csrf_of, hold, sign_in
from tests.server.srvkit import ApiKeys, bearer, entries_of, held_request, read_request

from remit.identity.model import Role
from remit.server.runtime import Runtime

# -- sign-in ------------------------------------------------------------------------------


def test_sign_in_gives_a_strict_httponly_session_and_is_recorded(
    client: TestClient, rt: Runtime, api_keys: ApiKeys
) -> None:
    r = sign_in(client, api_keys.alice)
    assert r.headers["location"] == "/ui/approvals"
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("remit_session="))
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    assert "Path=/ui" in cookie
    assert "Secure" not in cookie  # plain HTTP in the test; Secure is set behind HTTPS
    assert api_keys.alice not in cookie  # the key never goes into the browser's jar
    (signed,) = entries_of(rt.store, "access")
    assert signed["data"] == {
        "action": "sign_in",
        "subject": api_keys.labels["alice"],
        "via": "dashboard",
        "detail": {"role": "approver"},
    }
    assert signed["actor"] == api_keys.labels["alice"]
    assert client.get("/ui/approvals").status_code == 200


def test_session_cookie_is_secure_behind_https(rt: Runtime, api_keys: ApiKeys) -> None:
    from remit.server.app import create_app

    with TestClient(create_app(rt), base_url="https://remit.example") as c:
        r = sign_in(c, api_keys.alice)
    cookie = next(x for x in r.headers.get_list("set-cookie") if x.startswith("remit_session="))
    assert "Secure" in cookie


def test_pages_need_a_session(client: TestClient) -> None:
    for page in ("/ui/", "/ui/approvals", "/ui/decisions", "/ui/decisions/dec_x"):
        r = client.get(page, follow_redirects=False)
        assert r.status_code == 303, page
        assert r.headers["location"].startswith("/ui/login?next=")
    assert client.get("/ui/live").status_code == 401


def test_an_invalid_key_is_refused_and_writes_nothing(
    client: TestClient, rt: Runtime, api_keys: ApiKeys
) -> None:
    before = rt.store.size()
    r = sign_in(client, "rk_000000000000_" + "x" * 43, status=401)
    assert "not a valid, unrevoked API key" in r.text
    assert "remit_session" not in r.headers.get("set-cookie", "")
    assert rt.store.size() == before  # unauthenticated input never writes to the ledger


def test_an_agent_key_cannot_sign_in(client: TestClient, rt: Runtime, api_keys: ApiKeys) -> None:
    r = sign_in(client, api_keys.agent, status=403)
    assert "cannot sign in" in r.text
    assert "remit_session" not in r.headers.get("set-cookie", "")
    (refused,) = entries_of(rt.store, "access")
    assert refused["data"]["action"] == "sign_in_refused"
    assert refused["data"]["subject"] == api_keys.labels["agent"]
    assert client.get("/ui/approvals", follow_redirects=False).status_code == 303


def test_sign_in_without_the_login_token_is_refused(
    client: TestClient, rt: Runtime, api_keys: ApiKeys
) -> None:
    client.get("/ui/login")
    before = rt.store.size()
    r = client.post("/ui/login", data={"api_key": api_keys.alice}, follow_redirects=False)
    assert r.status_code == 403
    assert "CSRF" in r.text
    r = client.post(
        "/ui/login", data={"api_key": api_keys.alice, "csrf": "guess"}, follow_redirects=False
    )
    assert r.status_code == 403
    assert rt.store.size() == before


def test_sign_out_needs_the_token_ends_the_session_and_is_recorded(
    client: TestClient, rt: Runtime, api_keys: ApiKeys
) -> None:
    sign_in(client, api_keys.auditor)
    token = csrf_of(client.get("/ui/decisions").text)
    assert client.post("/ui/logout", data={}, follow_redirects=False).status_code == 403
    r = client.post("/ui/logout", data={"csrf": token}, follow_redirects=False)
    assert r.status_code == 303
    assert client.get("/ui/decisions", follow_redirects=False).status_code == 303
    actions = [e["data"]["action"] for e in entries_of(rt.store, "access")]
    assert actions == ["sign_in", "sign_out"]


def test_revoking_the_key_ends_its_sessions(
    client: TestClient, rt: Runtime, api_keys: ApiKeys, clock: Any
) -> None:
    sign_in(client, api_keys.bob)
    assert client.get("/ui/approvals").status_code == 200
    key_id = api_keys.labels["bob"].rsplit("#", 1)[1]
    assert rt.keys.revoke(key_id, clock(), "test")
    assert client.get("/ui/approvals", follow_redirects=False).status_code == 303


def test_a_session_idle_too_long_ends(
    client: TestClient, rt: Runtime, api_keys: ApiKeys, clock: Any
) -> None:
    sign_in(client, api_keys.auditor)
    for _ in range(3):  # an open tab polling the queue is not a person being active
        clock.advance(minutes=8)
        assert client.get("/ui/live").status_code == 200
    clock.advance(minutes=8)  # 32 minutes since the last page the person asked for
    assert client.get("/ui/live").status_code == 401
    assert client.get("/ui/decisions", follow_redirects=False).status_code == 303


# -- approvals ----------------------------------------------------------------------------


def test_approval_page_shows_everything_and_approving_releases_the_agent(
    client: TestClient, rt: Runtime, api_keys: ApiKeys
) -> None:
    d = hold(client, api_keys.agent, parent_decision="dec_parent_1")
    prompt_hash = held_request()["provenance"]["prompt_sha256"]
    sign_in(client, api_keys.alice)
    page = client.get(f"/ui/approvals/{d['id']}")
    assert page.status_code == 200
    html = page.text
    for shown in (
        "Prompt hash",
        prompt_hash,
        'href="/ui/decisions/dec_parent_1"',  # the parent decision, linked
        "Blast radius",
        "rollback: ",  # whether the credential's step can be rolled back
        "iam:DetachRolePolicy",
        "arn:aws:iam::111122223333:role/legacy-batch",
        "Role unused for 42 days and writes to 5 buckets",  # summary
        "unused_days",  # signals
        "0.5",  # confidence
        "alert-only",  # alternative
        "severity threshold exceeded",  # why it was rejected
        "claude-sonnet",  # model
        "iam-hygiene / r-123 / revoke-stale",  # workflow/run/step
        "CONFIDENCE_TOO_LOW",  # the reason it is held
        "R7",  # the rule
        "credential can do exactly: iam:DetachRolePolicy",
        d["approval"]["request_digest"],
    ):
        assert shown in html, shown
    assert 'action="/ui/approvals/' in html and "Approve" in html and "Reject" in html

    released: dict[str, Any] = {}

    def agent_waits() -> None:
        r = client.get(f"/v1/decisions/{d['id']}?wait=20", headers=bearer(api_keys.agent))
        released.update(r.json())

    waiting = threading.Thread(target=agent_waits)
    waiting.start()
    r = client.post(
        f"/ui/approvals/{d['id']}/approve",
        data={
            "csrf": csrf_of(html),
            "comment": "checked the role, go",
            "request_digest": d["approval"]["request_digest"],
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"/ui/approvals/{d['id']}?done=approved"
    waiting.join(timeout=25)
    assert not waiting.is_alive()
    assert released["status"] == "allowed"
    assert released["approval"]["resolved_by"] == api_keys.labels["alice"]
    assert released["approval"]["comment"] == "checked the role, go"
    (entry,) = entries_of(rt.store, "approval")
    assert entry["actor"] == api_keys.labels["alice"]
    assert entry["data"]["state"] == "approved"
    after = client.get(r.headers["location"]).text
    assert "Recorded: approved" in after
    assert "checked the role, go" in after


def test_reject_with_a_comment(client: TestClient, rt: Runtime, api_keys: ApiKeys) -> None:
    d = hold(client, api_keys.agent)
    sign_in(client, api_keys.bob)
    token = csrf_of(client.get("/ui/approvals").text)
    r = client.post(
        f"/ui/approvals/{d['id']}/reject",
        data={"csrf": token, "comment": "not during the freeze"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    got = client.get(f"/v1/decisions/{d['id']}", headers=bearer(api_keys.agent)).json()
    assert got["status"] == "denied"
    assert got["approval"]["comment"] == "not during the freeze"


def test_a_form_without_the_csrf_token_is_refused(
    client: TestClient, rt: Runtime, api_keys: ApiKeys
) -> None:
    d = hold(client, api_keys.agent)
    sign_in(client, api_keys.alice)
    token = csrf_of(client.get("/ui/approvals").text)
    before = rt.store.size()
    url = f"/ui/approvals/{d['id']}/approve"
    assert client.post(url, data={"comment": "x"}).status_code == 403
    assert client.post(url, data={"comment": "x", "csrf": token + "x"}).status_code == 403
    cross = client.post(
        url, data={"csrf": token}, headers={"Origin": "https://evil.example"}
    )  # a cross-site post with a stolen token is still refused
    assert cross.status_code == 403
    assert rt.store.size() == before
    assert rt.approvals.get(d["id"]) is not None
    assert (
        client.get(f"/v1/decisions/{d['id']}", headers=bearer(api_keys.agent)).json()["status"]
        == "pending"
    )


def test_an_auditor_sees_approvals_but_cannot_resolve_them(
    client: TestClient, rt: Runtime, api_keys: ApiKeys
) -> None:
    d = hold(client, api_keys.agent)
    sign_in(client, api_keys.auditor)
    html = client.get("/ui/approvals").text
    assert d["id"] in html
    assert "/approve" not in html
    assert "can read approvals but not resolve them" in html
    before = rt.store.size()
    r = client.post(f"/ui/approvals/{d['id']}/approve", data={"csrf": csrf_of(html)})
    assert r.status_code == 403
    assert "needs an approver key" in r.text
    assert rt.store.size() == before


def test_separation_of_duties_as_in_the_api(
    client: TestClient, rt: Runtime, api_keys: ApiKeys, clock: Any
) -> None:
    # the person the request was made on behalf of cannot approve it from the dashboard
    r = client.post(
        "/v1/decisions",
        json=held_request(on_behalf_of="alice", origin="human"),
        headers=bearer(api_keys.admin),
    )
    d = r.json()
    assert d["status"] == "pending", d
    sign_in(client, api_keys.alice)
    token = csrf_of(client.get(f"/ui/approvals/{d['id']}").text)
    before = rt.store.size()
    r = client.post(f"/ui/approvals/{d['id']}/approve", data={"csrf": token})
    assert r.status_code == 403
    assert "separation of duties" in r.text
    assert rt.store.size() == before


def test_resolving_twice_is_a_conflict(client: TestClient, api_keys: ApiKeys) -> None:
    d = hold(client, api_keys.agent)
    sign_in(client, api_keys.alice)
    token = csrf_of(client.get("/ui/approvals").text)
    url = f"/ui/approvals/{d['id']}/approve"
    assert client.post(url, data={"csrf": token}, follow_redirects=False).status_code == 303
    again = client.post(url, data={"csrf": token}, follow_redirects=False)
    assert again.status_code == 409
    assert "already approved" in again.text


def test_live_counts_the_pending_queue(client: TestClient, api_keys: ApiKeys) -> None:
    sign_in(client, api_keys.alice)
    assert client.get("/ui/live").json() == {"pending": 0, "newest": None}
    d = hold(client, api_keys.agent)
    assert client.get("/ui/live").json() == {"pending": 1, "newest": d["id"]}


def test_notifications_link_to_the_approval_page(rt: Runtime) -> None:
    rt.config.public_url = "https://remit.example"
    held = rt._notification({"id": "dec_1", "tier": "approve", "approval": {}}, {})
    assert held.dashboard_url == "https://remit.example/ui/approvals/dec_1"
    told = rt._notification({"id": "dec_2", "tier": "notify"}, {})
    assert told.dashboard_url == "https://remit.example/ui/decisions/dec_2"


# -- escaping -----------------------------------------------------------------------------

PAYLOADS = (
    "<script>alert('xss')</script>",
    '"><img src=x onerror=alert(1)>',
    "</textarea><svg onload=alert(2)>",
)


def test_everything_an_agent_wrote_is_escaped(client: TestClient, api_keys: ApiKeys) -> None:
    s, img, svg = PAYLOADS
    d = hold(
        client,
        api_keys.agent,
        summary=s,
        signals=[{"name": "unused_days", "value": svg, "source": img}],
        alternatives=[{"action": img, "rejected_because": svg}],
        workflow={"name": "iam-hygiene", "run": img, "step": "revoke-stale"},
        prompt_sha256=s,
        parameters={"PolicyArn": svg},
        resources=[{"arn": "arn:aws:iam::111122223333:role/legacy-batch", "tags": {"owner": img}}],
    )
    sign_in(client, api_keys.alice)
    for page in (f"/ui/approvals/{d['id']}", "/ui/approvals", f"/ui/decisions/{d['id']}",
                 "/ui/decisions"):  # fmt: skip
        r = client.get(page)
        assert r.status_code == 200, page
        html = r.text
        for payload in PAYLOADS:
            assert payload not in html, (page, payload)
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "<svg onload" not in html
        assert "&lt;script&gt;" in html or "\\u003cscript\\u003e" in html, page
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "default-src 'none'" in csp
    approval = client.get(f"/ui/approvals/{d['id']}").text
    assert "&lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt;" in approval  # the summary, shown


# -- decisions and overview ---------------------------------------------------------------


def _some_decisions(client: TestClient, keys: ApiKeys, n: int) -> list[dict[str, Any]]:
    out = []
    for _ in range(n):
        r = client.post("/v1/decisions", json=read_request(), headers=bearer(keys.agent))
        assert r.status_code == 200
        out.append(r.json())
    return out


def test_decisions_list_filters_and_pages(
    client: TestClient, rt: Runtime, api_keys: ApiKeys
) -> None:
    reads = _some_decisions(client, api_keys, 55)
    held = hold(client, api_keys.agent)
    sign_in(client, api_keys.auditor)
    page = client.get("/ui/decisions").text
    assert held["id"] in page
    assert page.count('href="/ui/decisions/dec_') == 50
    assert 'rel="next"' in page
    older = page.split('rel="next" href="')[1].split('"')[0].replace("&amp;", "&")
    rest = client.get(older).text
    assert rest.count('href="/ui/decisions/dec_') == 6
    assert reads[0]["id"] in rest
    only = client.get("/ui/decisions?tier=approve").text
    assert held["id"] in only and reads[0]["id"] not in only
    by_action = client.get("/ui/decisions?action=iam:ListRoles").text
    assert held["id"] not in by_action
    assert client.get("/ui/decisions?tier=bogus").status_code == 422
    found = client.get(f"/ui/decisions?id={held['id']}", follow_redirects=False)
    assert found.headers["location"] == f"/ui/decisions/{held['id']}"
    assert client.get("/ui/decisions?since=yesterday&until=x").status_code == 422


def test_decision_page_shows_its_life_and_a_verified_inclusion_proof(
    client: TestClient, rt: Runtime, api_keys: ApiKeys, clock: Any
) -> None:
    d = hold(client, api_keys.agent)
    sign_in(client, api_keys.alice)
    before_checkpoint = client.get(f"/ui/decisions/{d['id']}").text
    assert "not yet covered by a signed checkpoint" in before_checkpoint
    token = csrf_of(client.get("/ui/approvals").text)
    client.post(f"/ui/approvals/{d['id']}/approve", data={"csrf": token, "comment": "ok"})
    rt.ledger.checkpoint(clock())
    html = client.get(f"/ui/decisions/{d['id']}").text
    assert "Verified:" in html
    assert f"entry {d['ledger_index']} is in the log" in html
    assert "State <b>approved</b>" in html
    assert client.get("/ui/decisions/dec_nope").status_code == 404


def test_a_checkpoint_not_signed_by_the_log_key_is_shown_as_not_verified(
    client: TestClient, rt: Runtime, api_keys: ApiKeys, clock: Any
) -> None:
    from remit.dashboard.views import prove
    from remit.ledger.store import StoredCheckpoint
    from remit.signing.keys import generate_signing_key
    from remit.tlog.checkpoint import Checkpoint, sign_checkpoint

    d = hold(client, api_keys.agent)
    assert rt.ledger.log_key is not None
    impostor = generate_signing_key(rt.ledger.log_key.name)  # same name, other key
    size = rt.store.size()
    root = rt.store.root(size)
    note = sign_checkpoint(Checkpoint(impostor.name, size, root), impostor)
    rt.store.put_checkpoint(StoredCheckpoint(size, root, note, "2026-11-21T12:00:00.000000Z"))
    check = prove(rt, d["ledger_index"])
    assert not check.verified
    assert "verification FAILED" in check.detail
    sign_in(client, api_keys.auditor)
    assert "Not verified" in client.get(f"/ui/decisions/{d['id']}").text


def test_overview_tiles_count_and_drill_down(
    client: TestClient, rt: Runtime, api_keys: ApiKeys
) -> None:
    _some_decisions(client, api_keys, 3)
    hold(client, api_keys.agent)
    sign_in(client, api_keys.auditor)
    html = client.get("/ui/").text
    assert "<b>4</b> decisions" in html
    assert "<b>3</b> autonomous" in html
    assert "<b>1</b> pending now" in html
    assert "tier=approve" in html  # every number links to the decisions behind it
    assert "<svg" in html and "<rect" in html
    q4 = client.get("/ui/?period=2026-Q4").text
    assert "<b>4</b> decisions" in q4
    empty = client.get("/ui/?period=2025-Q1").text
    assert "<b>0</b> decisions" in empty and "No decisions in this period." in empty
    assert client.get("/ui/?period=2026-Q5").status_code == 422


def test_static_assets_are_served_locally(client: TestClient) -> None:
    css = client.get("/ui/static/style.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert client.get("/ui/static/live.js").status_code == 200
    assert client.get("/ui/static/../app.py").status_code == 404


@pytest.mark.parametrize("role", [Role.APPROVER, Role.AUDITOR, Role.ADMIN])
def test_people_can_sign_in(client: TestClient, rt: Runtime, role: Role, clock: Any) -> None:
    _, key = rt.keys.create(f"person-{role.value}", role, None, clock(), "test")
    sign_in(client, key)
    assert client.get("/ui/").status_code == 200


def test_envelope_page_shows_inventory_signoffs_and_dates(
    client: TestClient, rt: Runtime, api_keys: ApiKeys
) -> None:
    client.post("/v1/decisions", json=read_request(), headers=bearer(api_keys.agent))
    sign_in(client, api_keys.auditor)
    html = client.get("/ui/envelope").text
    assert "prod-security-automation v7" in html
    assert "R7-revoke-stale" in html and "confidence ≥ 0.8" in html  # the inventory
    assert "ciso@example.com" in html and "valid" in html  # the sign-off history
    assert "2027-03-01" in html  # expiry
    assert "iam:ListRoles" in html  # what it actually decided
    assert "None." in html  # no regulation conflict


def test_agents_page_shows_activity_per_agent(
    client: TestClient, rt: Runtime, api_keys: ApiKeys
) -> None:
    client.post("/v1/decisions", json=read_request(), headers=bearer(api_keys.agent))
    hold(client, api_keys.agent)
    sign_in(client, api_keys.auditor)
    html = client.get("/ui/agents").text
    assert "remediator" in html and "scanner" in html
    assert "arn:aws:iam::111122223333:role/ai-remediator" in html
    assert "<b>1</b> autonomous" in html and "<b>1</b> approve" in html
    assert "agent=remediator" in html and "<svg" in html
    assert client.get("/ui/agents?period=2026-Q4").status_code == 200
    assert client.get("/ui/agents?period=nope").status_code == 422


def test_running_counts_match_the_store_and_follow_new_decisions(
    client: TestClient, rt: Runtime, api_keys: ApiKeys, clock: Any
) -> None:
    from remit.report.aggregate import aggregates
    from remit.report.counts import DecisionCounts
    from remit.report.period import between, parse_period

    _some_decisions(client, api_keys, 3)
    counts = DecisionCounts()
    period = parse_period("2026-11")
    fast = aggregates(rt.store.reads, period, clock(), 0, None, counts)
    slow = aggregates(rt.store.reads, period, clock(), 0, None)
    assert fast.by_day == slow.by_day and fast.by_agent == slow.by_agent
    assert fast.total == 3
    held = hold(client, api_keys.agent)  # appended after: counted on the next use
    again = aggregates(rt.store.reads, period, clock(), 0, None, counts)
    assert again.total == 4 and again.by_tier["approve"] == 1
    clock.advance(seconds=30)
    r = client.post(f"/v1/approvals/{held['id']}/approve", json={"comment": "ok"},
                    headers=bearer(api_keys.alice))  # fmt: skip
    assert r.status_code == 200
    kept = aggregates(rt.store.reads, period, clock(), 0, None, counts).approvals
    counted = aggregates(rt.store.reads, period, clock(), 0, None).approvals
    assert kept.to_dict() == counted.to_dict()
    assert (kept.approved, kept.median_seconds, kept.fast_approvals) == (1, 30.0, [])
    odd = between("2026-11-21T11:00:00Z", "2026-11-21T12:30:00Z")
    assert not counts.covers(odd)  # not whole days: counted in the store
    assert aggregates(rt.store.reads, odd, clock(), 0, None, counts).total == 4


def test_api_docs_are_served_without_any_other_site(client: TestClient) -> None:
    r = client.get("/docs")
    assert r.status_code == 200
    html = r.text
    assert "/v1/decisions" in html and "/v1/approvals/{decision_id}/approve" in html
    assert "/openapi.json" in html
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing from another site
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert client.get("/redoc").status_code == 404
    assert "/ui/" not in client.get("/openapi.json").json()["paths"]
    assert not any(p.startswith("/ui") for p in client.get("/openapi.json").json()["paths"])
