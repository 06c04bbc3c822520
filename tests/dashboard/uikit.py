"""Helpers for the dashboard tests: sign in through the login form as a browser would, read
the CSRF token a page carries, and make held decisions through the API."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from tests.server.srvkit import bearer, held_request

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page carries no CSRF token"
    return found[1]


def sign_in(client: TestClient, key: str, status: int = 303) -> Any:
    page = client.get("/ui/login")
    assert page.status_code == 200, page.text
    r = client.post(
        "/ui/login",
        data={"csrf": csrf_of(page.text), "api_key": key, "next": "/ui/approvals"},
        follow_redirects=False,
    )
    assert r.status_code == status, r.text
    return r


def hold(client: TestClient, agent_key: str, **changes: Any) -> dict[str, Any]:
    r = client.post("/v1/decisions", json=held_request(**changes), headers=bearer(agent_key))
    assert r.status_code == 200, r.text
    d: dict[str, Any] = r.json()
    assert (d["tier"], d["status"]) == ("approve", "pending"), d
    return d
