"""`Client.from_env()` / `AsyncClient.from_env()`: REMIT_URL, REMIT_API_KEY and REMIT_AGENT
configure a client; explicit arguments override them; a missing one is named."""

from __future__ import annotations

import asyncio

import pytest

import remit
from remit.sdk.settings import resolve

ENV = {
    "REMIT_URL": "http://remit.internal:8700/",
    "REMIT_API_KEY": "rk_agent_from_env",
    "REMIT_AGENT": "remediator",
}


def test_client_reads_the_three_variables() -> None:
    with remit.Client.from_env(environ=ENV) as c:
        assert c.base_url == "http://remit.internal:8700"
        assert c.headers["Authorization"] == "Bearer rk_agent_from_env"
        assert c.agent == "remediator"
        assert str(c._http.base_url).rstrip("/") == "http://remit.internal:8700"


def test_arguments_override_the_environment() -> None:
    with remit.Client.from_env(
        "http://other:1", api_key="rk_explicit", agent="auditor-bot", environ=ENV
    ) as c:
        assert c.base_url == "http://other:1"
        assert c.headers["Authorization"] == "Bearer rk_explicit"
        assert c.agent == "auditor-bot"


def test_os_environ_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    with remit.Client.from_env() as c:
        assert c.agent == "remediator"


def test_async_client_from_env() -> None:
    async def run() -> None:
        c = remit.AsyncClient.from_env(environ=ENV, approval_timeout=5)
        assert isinstance(c, remit.AsyncClient)
        assert c.base_url == "http://remit.internal:8700" and c.approval_timeout == 5
        await c.aclose()

    asyncio.run(run())


@pytest.mark.parametrize(
    ("missing", "named"), [("REMIT_URL", "REMIT_URL"), ("REMIT_API_KEY", "REMIT_API_KEY")]
)
def test_a_missing_setting_is_named(missing: str, named: str) -> None:
    env = {k: v for k, v in ENV.items() if k != missing}
    with pytest.raises(remit.SettingsError, match=named):
        remit.Client.from_env(environ=env)


def test_agent_is_optional_for_the_client_but_can_be_required() -> None:
    env = {k: v for k, v in ENV.items() if k != "REMIT_AGENT"}
    with remit.Client.from_env(environ=env) as c:
        assert c.agent is None
    with pytest.raises(remit.SettingsError, match="REMIT_AGENT"):
        resolve(environ=env, require_agent=True)


def test_a_url_that_is_not_http_is_refused() -> None:
    with pytest.raises(remit.SettingsError, match="not an http"):
        remit.Client.from_env(environ={**ENV, "REMIT_URL": "remit.internal:8700"})
