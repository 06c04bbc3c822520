"""Item 0 for the adapters: REMIT_URL, REMIT_API_KEY and REMIT_AGENT configure them;
parameters override the environment; a missing setting names the variable to set."""

from __future__ import annotations

import pytest
from tests.adapters.drivers import TOOLS

from remit.adapters.base import Governance
from remit.sdk import SettingsError


def test_settings_come_from_the_environment_and_parameters_override() -> None:
    env = {"REMIT_URL": "http://remit.example:8700/", "REMIT_API_KEY": "rk_env",
           "REMIT_AGENT": "remediator"}  # fmt: skip
    g = Governance(TOOLS, framework="t", account="123456789012", environ=env)
    assert (g.settings.url, g.settings.api_key, g.settings.agent) == (
        "http://remit.example:8700", "rk_env", "remediator")  # fmt: skip
    g = Governance(TOOLS, framework="t", account="123456789012", environ=env,
                   url="http://127.0.0.1:9", api_key="rk_flag", agent="other")  # fmt: skip
    assert (g.settings.url, g.settings.api_key, g.settings.agent) == (
        "http://127.0.0.1:9", "rk_flag", "other")  # fmt: skip


def test_the_process_environment_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REMIT_URL", "http://127.0.0.1:8700")
    monkeypatch.setenv("REMIT_API_KEY", "rk_proc")
    monkeypatch.setenv("REMIT_AGENT", "remediator")
    g = Governance(TOOLS, framework="t", account="123456789012")
    assert g.settings.api_key == "rk_proc" and g.settings.agent == "remediator"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"REMIT_API_KEY": "k", "REMIT_AGENT": "a"}, "REMIT_URL"),
        ({"REMIT_URL": "http://x", "REMIT_AGENT": "a"}, "REMIT_API_KEY"),
        ({"REMIT_URL": "http://x", "REMIT_API_KEY": "k"}, "REMIT_AGENT"),
        ({"REMIT_URL": "ftp://x", "REMIT_API_KEY": "k", "REMIT_AGENT": "a"}, "REMIT_URL"),
    ],
)
def test_a_missing_setting_names_its_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        Governance(TOOLS, framework="t", account="123456789012", environ=env)


def test_a_bad_declaration_or_hold_is_refused_up_front() -> None:
    env = {"REMIT_URL": "http://x", "REMIT_API_KEY": "k", "REMIT_AGENT": "a"}
    with pytest.raises(ValueError, match=r"tools\.drop_table\.action"):
        Governance({"drop_table": {"action": "drop", "resources": ["*"]}}, framework="t",
                   account="123456789012", environ=env)  # fmt: skip
    with pytest.raises(SettingsError, match="hold"):
        Governance(TOOLS, framework="t", account="123456789012", environ=env, hold=999)
