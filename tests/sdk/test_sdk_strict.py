"""A misspelt keyword argument is an error, never dropped: `reasonning=` used to send an
empty reasoning without a word. Every public method of `Client` and `AsyncClient` that
takes keyword arguments raises TypeError naming the unknown one, before anything is sent
(the clients here point at a port nothing listens on, so a request would fail
differently)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

import remit
from remit.aws.moto_server import free_port
from remit.sdk.calls import Calls

ROLE = "arn:aws:iam::111122223333:role/legacy-batch"
FAILURE = remit.FallbackRequired("s3:GetObject", "AccessDenied", {"id": "dec_1"})
MESSAGE = (
    r"\.{method}\(\) got an unexpected keyword argument 'reasonning' \(did you mean 'reasoning'\?\)"
)


@pytest.fixture
def url() -> str:
    return f"http://127.0.0.1:{free_port()}"


def _sync_calls(c: remit.Client) -> dict[str, Callable[..., Any]]:
    return {
        "decide": lambda **kw: c.decide("iam:GetRole", [ROLE], **kw),
        "step": lambda **kw: c.step("iam:GetRole", [ROLE], **kw),
        "governed": lambda **kw: c.governed("iam:GetRole", [ROLE], **kw),
        "fallback": lambda **kw: c.fallback(FAILURE, "s3:GetObject", ["*"], **kw),
    }


@pytest.mark.parametrize("method", ["decide", "step", "governed", "fallback"])
def test_client_refuses_a_misspelt_keyword(method: str, url: str) -> None:
    with remit.Client(url, "key", agent="remediator") as c:
        call = _sync_calls(c)[method]
        with pytest.raises(TypeError, match="Client" + MESSAGE.format(method=method)):
            call(reasoning={"summary": "x"}, reasonning={"summary": "why"})


def test_a_misspelt_keyword_among_right_ones_is_still_named(url: str) -> None:
    with remit.Client(url, "key", agent="remediator") as c:
        with pytest.raises(TypeError, match=r"'paramters' \(did you mean 'parameters'\?\)"):
            c.decide("iam:GetRole", [ROLE], reasoning={}, paramters={"RoleName": "x"})
        with pytest.raises(TypeError, match="unexpected keyword argument 'approval_timeout'"):
            c.decide("iam:GetRole", [ROLE], approval_timeout=3)  # type: ignore[call-arg]
        with pytest.raises(TypeError, match=r"Client\.fallback\(\) got an unexpected keyword"):
            c.fallback(FAILURE, "s3:GetObject", ["*"], fallback={})  # type: ignore[call-arg]


@pytest.mark.parametrize("method", ["decide", "step", "governed", "fallback"])
def test_async_client_refuses_a_misspelt_keyword(method: str, url: str) -> None:
    async def main() -> None:
        async with remit.AsyncClient(url, "key", agent="remediator") as c:
            pattern = "AsyncClient" + MESSAGE.format(method=method)
            with pytest.raises(TypeError, match=pattern):
                if method == "decide":
                    await c.decide("iam:GetRole", [ROLE], reasonning={})  # type: ignore[call-arg]
                elif method == "fallback":
                    await c.fallback(FAILURE, "s3:GetObject", ["*"], reasonning={})  # type: ignore[call-arg]
                elif method == "step":
                    c.step("iam:GetRole", [ROLE], reasonning={})  # type: ignore[call-arg]
                else:
                    c.governed("iam:GetRole", [ROLE], reasonning={})  # type: ignore[call-arg]

    asyncio.run(main())


@pytest.mark.parametrize("cls", [remit.Client, remit.AsyncClient])
def test_constructors_refuse_unknown_keywords(cls: type[Calls], url: str) -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument 'reasoning'"):
        cls(url, "key", agent="remediator", reasoning={})  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword argument 'agnet'"):
        cls(url, "key", agnet="remediator")  # type: ignore[call-arg]


def test_the_request_is_built_once_for_both_clients(url: str) -> None:
    """Both transports send the very same body for the same ask."""
    options: dict[str, Any] = {
        "reasoning": {"summary": "s"},
        "provenance": {"workflow": {"name": "w"}},
        "parameters": {"RoleName": "legacy-batch"},
        "on_behalf_of": "alice",
        "environment": "production",
    }
    sync = remit.Client(url, "key", agent="remediator", provenance={"model": {"name": "m"}})
    asynchronous = remit.AsyncClient(url, "key", agent="remediator", provenance=sync.provenance)
    bodies = [
        c.decide_call("decide", "iam:GetRole", [ROLE], options).json for c in (sync, asynchronous)
    ]
    sync.close()
    assert (
        bodies[0]
        == bodies[1]
        == {
            "agent": "remediator",
            "origin": "ai",
            "action": "iam:GetRole",
            "resources": [{"arn": ROLE, "tags": {}}],
            "reasoning": {"summary": "s"},
            "provenance": {"model": {"name": "m"}, "workflow": {"name": "w"}},
            "parameters": {"RoleName": "legacy-batch"},
            "on_behalf_of": "alice",
            "environment": "production",
        }
    )
