"""Where an SDK client's settings come from: explicit values first, then the environment
(`REMIT_URL`, `REMIT_API_KEY`, `REMIT_AGENT`), the way cloud SDKs read theirs. Used by
`Client.from_env()`, `AsyncClient.from_env()`, the MCP proxy and the framework adapters.
This module only reads a mapping of variables; it opens nothing."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

URL_VAR = "REMIT_URL"
KEY_VAR = "REMIT_API_KEY"
AGENT_VAR = "REMIT_AGENT"


class SettingsError(ValueError):
    """A required setting is missing or malformed; the message names the flag and the
    environment variable that would provide it."""


@dataclass(frozen=True)
class RemitSettings:
    """Where Remit is, the agent key to use, and the envelope agent that asks."""

    url: str
    api_key: str
    agent: str | None


def resolve(
    url: str | None = None,
    api_key: str | None = None,
    agent: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    require_agent: bool = False,
) -> RemitSettings:
    """Explicit values override the environment; a missing URL or key (or agent, when
    `require_agent`) raises `SettingsError` naming the variable to set."""
    env = os.environ if environ is None else environ
    url = url or env.get(URL_VAR) or None
    api_key = api_key or env.get(KEY_VAR) or None
    agent = agent or env.get(AGENT_VAR) or None
    if not url:
        raise SettingsError(f"no Remit URL: pass it (--remit-url / url=) or set {URL_VAR}")
    if not url.startswith(("http://", "https://")):
        raise SettingsError(f"{URL_VAR}={url!r} is not an http(s) URL")
    if not api_key:
        raise SettingsError(f"no Remit API key: pass it (--api-key / api_key=) or set {KEY_VAR}")
    if require_agent and not agent:
        raise SettingsError(f"no agent: pass it (--agent / agent=) or set {AGENT_VAR}")
    return RemitSettings(url.rstrip("/"), api_key, agent)
