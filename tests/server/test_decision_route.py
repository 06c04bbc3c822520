"""`POST /v1/decisions` ahead of FastAPI's routing (`remit.server.decision_route`): it
answers exactly as the declared route does (status, headers, body) for every kind of
answer, never reaches the router for its own route and always does for every other,
decides nothing for a client that leaves before its body arrives, and leaves an
unexpected error to the error middleware (500)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.middleware.asyncexitstack import AsyncExitStackMiddleware
from fastapi.testclient import TestClient
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.types import Message, Receive, Scope, Send
from tests.server.srvkit import ApiKeys, bearer, example_request, held_request, read_request

from remit.server.app import BodyLimit, create_app
from remit.server.decision_route import DecisionRoute, _route_path
from remit.server.runtime import Runtime

DECLARED = "/declared"


def _with_declared_route(app: FastAPI, limit: int) -> Any:
    """The app, plus the declared route reached the way FastAPI reaches it (the body
    limit, the exception middleware, the exit stack and the router, without
    `DecisionRoute`) under the prefix `DECLARED`."""
    declared = BodyLimit(
        ExceptionMiddleware(
            AsyncExitStackMiddleware(app.router), handlers=dict(app.exception_handlers)
        ),
        limit,
    )

    async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(DECLARED + "/"):
            inner = {**scope, "path": scope["path"][len(DECLARED) :], "app": app}
            await declared(inner, receive, send)
        else:
            await app(scope, receive, send)

    return dispatch


@pytest.fixture
def both(rt: Runtime) -> Iterator[TestClient]:
    with TestClient(_with_declared_route(create_app(rt), rt.config.max_body_bytes)) as c:
        yield c


def _seen(r: Any) -> tuple[int, dict[str, str], Any]:
    """What a client sees, less what differs between any two decisions (id, times,
    ledger index)."""
    headers = {k: v for k, v in r.headers.items() if k in ("content-type", "www-authenticate")}
    try:
        body = r.json()
    except ValueError:
        body = r.text
    if isinstance(body, dict) and "id" in body:
        body = {k: v for k, v in body.items() if k not in ("id", "decided_at", "ledger_index")}
        body.pop("approval", None)
    return r.status_code, headers, body


@pytest.mark.parametrize(
    "case",
    [
        "autonomous",
        "notify",
        "approve",
        "invalid body",
        "not JSON",
        "no key",
        "bad key",
        "not bearer",
        "auditor key",
        "other agent",
        "over the size limit",
    ],
)
def test_the_hot_path_answers_as_the_declared_route(
    both: TestClient, rt: Runtime, api_keys: ApiKeys, case: str
) -> None:
    headers: dict[str, str] = bearer(api_keys.agent)
    body: bytes = json.dumps(example_request()).encode()
    if case == "autonomous":
        body = json.dumps(read_request()).encode()
    elif case == "approve":
        body = json.dumps(held_request()).encode()
    elif case == "invalid body":
        body = json.dumps(example_request(action=42, agent=None)).encode()
    elif case == "not JSON":
        body = b"{not json"
    elif case == "no key":
        headers = {}
    elif case == "bad key":
        headers = bearer("rk_000000000000_" + "A" * 43)
    elif case == "not bearer":
        headers = {"Authorization": f"Basic {api_keys.agent}"}
    elif case == "auditor key":
        headers = bearer(api_keys.auditor)
    elif case == "other agent":
        headers = bearer(api_keys.agent2)
    elif case == "over the size limit":
        body = b" " * (rt.config.max_body_bytes + 1)
    headers["content-type"] = "application/json"
    before = rt.store.size()
    hot = both.post("/v1/decisions", content=body, headers=headers)
    after_hot = rt.store.size()
    declared = both.post(DECLARED + "/v1/decisions", content=body, headers=headers)
    assert _seen(hot) == _seen(declared), case
    assert rt.store.size() - after_hot == after_hot - before  # both recorded alike
    if case in ("autonomous", "notify", "approve"):
        assert hot.status_code == 200 and hot.json()["tier"] == case
        assert int(hot.headers["content-length"]) == len(hot.content)
        assert after_hot == before + 1
    else:
        assert hot.status_code in (401, 403, 413, 422), hot.text
        assert after_hot == before  # nothing refused is recorded


def _drive(
    client: TestClient, app: Any, scope: dict[str, Any], messages: list[Message]
) -> list[Message]:
    """Runs `app` on the client's event loop (where the decision writer answers) with
    `messages` as what the client sends; returns what the app sent."""
    sent: list[Message] = []
    queue = list(messages)

    async def receive() -> Message:
        return queue.pop(0) if queue else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    async def run() -> None:
        await app(scope, receive, send)

    client.portal.call(run)  # type: ignore[union-attr]
    return sent


def _scope(app: FastAPI, method: str, path: str, key: str) -> dict[str, Any]:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "root_path": "",
        "query_string": b"",
        "headers": [(b"authorization", f"Bearer {key}".encode())],
        "app": app,
    }


def test_its_route_never_reaches_the_router_and_every_other_does(
    client: TestClient, rt: Runtime, api_keys: ApiKeys
) -> None:
    app = client.app
    assert isinstance(app, FastAPI)
    passed: list[tuple[str, str]] = []

    async def router(scope: Scope, receive: Receive, send: Send) -> None:
        passed.append((scope["method"], scope["path"]))
        await send({"type": "http.response.start", "status": 599, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    route = DecisionRoute(router)
    body = json.dumps(example_request()).encode()
    sent = _drive(
        client,
        route,
        _scope(app, "POST", "/v1/decisions", api_keys.agent),
        [{"type": "http.request", "body": body[:100], "more_body": True},
         {"type": "http.request", "body": body[100:], "more_body": False}],
    )  # fmt: skip
    assert passed == []
    assert sent[0]["status"] == 200
    assert (b"content-type", b"application/json") in sent[0]["headers"]
    assert json.loads(sent[1]["body"])["tier"] == "notify"
    for method, path in (
        ("GET", "/v1/decisions"),
        ("PUT", "/v1/decisions"),
        ("POST", "/v1/decisions/"),
        ("POST", "/v1/decisions/dec_1/outcome"),
        ("POST", "/v1/decision"),
    ):
        sent = _drive(client, route, _scope(app, method, path, api_keys.agent), [])
        assert sent[0]["status"] == 599
    assert passed == [
        ("GET", "/v1/decisions"),
        ("PUT", "/v1/decisions"),
        ("POST", "/v1/decisions/"),
        ("POST", "/v1/decisions/dec_1/outcome"),
        ("POST", "/v1/decision"),
    ]


def test_a_client_gone_before_its_body_arrived_gets_nothing_decided(
    client: TestClient, rt: Runtime, api_keys: ApiKeys
) -> None:
    app = client.app
    assert isinstance(app, FastAPI)
    before = rt.store.size()
    body = json.dumps(example_request()).encode()
    sent = _drive(
        client,
        app,
        _scope(app, "POST", "/v1/decisions", api_keys.agent),
        [{"type": "http.request", "body": body[:50], "more_body": True}],  # then it leaves
    )
    assert sent == []
    assert rt.store.size() == before


def test_an_unexpected_error_is_the_error_middlewares_500(
    rt: Runtime, api_keys: ApiKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(raw: bytes, who: Any) -> Any:
        raise RuntimeError("a defect")

    monkeypatch.setattr(rt, "decide_async", broken)
    with TestClient(create_app(rt), raise_server_exceptions=False) as c:
        r = c.post("/v1/decisions", json=example_request(), headers=bearer(api_keys.agent))
    assert r.status_code == 500
    assert r.text == "Internal Server Error"


def test_the_route_is_matched_below_the_apps_root_path() -> None:
    assert _route_path({"path": "/remit/v1/decisions", "root_path": "/remit"}) == "/v1/decisions"
    assert _route_path({"path": "/v1/decisions", "root_path": ""}) == "/v1/decisions"
    assert _route_path({"path": "/v1/decisions"}) == "/v1/decisions"
    assert _route_path({"path": "/other/v1/decisions", "root_path": "/remit"}) != "/v1/decisions"
