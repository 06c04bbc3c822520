"""`remit serve --config FILE`: the `notify:` section accepts everything the notifier
supports (one model, `remit.notify.settings`), and the settings reach the notifier the
service builds; unknown keys are refused by path; `REMIT_WEBHOOK_URL` still works; the
example in docs/service.md is a valid file and names every setting."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel
from tests.notify.conftest import (  # the real local HTTP and SMTP receivers
    PASSWORD,
    USER,
    Mailbox,
    Receiver,
    Recorder,
    auth_mailbox,  # noqa: F401
    decision_json,  # noqa: F401
    make_notification,  # noqa: F401
    recorder,  # noqa: F401 (a fixture)
    request_json,  # noqa: F401
)

from remit.notify import (
    Notification,
    Notifier,
    NotifySettings,
    RetrySettings,
    SmtpChannel,
    SmtpSettings,
    WebhookChannel,
    WebhookSettings,
)
from remit.server.config import ConfigError, ServerConfig, load_config
from remit.server.runtime import Runtime

DOCS = Path(__file__).resolve().parents[2] / "docs" / "service.md"
HOOK = {"url": "https://hooks.example.com/services/T0/B0/secret"}
SMTP = {
    "host": "127.0.0.1",
    "port": 8025,
    "sender": "remit@example.com",
    "recipients": ["oncall@example.com"],
}


def _file(tmp_path: Path, envelope: Path, notify: Any) -> Path:
    path = tmp_path / "remit.yaml"
    path.write_text(yaml.safe_dump({"envelope": str(envelope), "notify": notify}))
    return path


def _notifier(cfg: ServerConfig, record: Recorder) -> Notifier:
    """The notifier as `Runtime` builds it."""
    return Notifier.from_config(cfg.notify_dict(), record=record)


def _headers(channel: object) -> dict[str, str]:
    assert isinstance(channel, WebhookChannel)
    return channel._headers


# Each of these was refused by the service's own copy of the schema before issue 10.
PREVIOUSLY_REFUSED: dict[str, tuple[dict[str, Any], Callable[[Notifier], bool]]] = {
    "headers": (
        {"webhook": {**HOOK, "headers": {"Authorization": "Bearer 0123456789"}}},
        lambda n: _headers(n.channels[0])["Authorization"] == "Bearer 0123456789",
    ),
    "password_env": (
        {"smtp": {**SMTP, "username": "remit", "password_env": "REMIT_TEST_SMTP_PASSWORD"}},
        lambda n: isinstance(c := n.channels[0], SmtpChannel) and c._password == "from-env",
    ),
    "retry": (
        {"webhook": HOOK, "retry": {"max_attempts": 2, "base_delay": 0.1, "max_delay": 1}},
        lambda n: (n.max_attempts, n.base_delay, n.max_delay) == (2, 0.1, 1.0),
    ),
    "list of webhooks": (
        {"webhook": [HOOK, {**HOOK, "url": "https://other.example.com/x"}]},
        lambda n: [c.name for c in n.channels] == ["webhook[0]", "webhook[1]"],
    ),
    "name": (
        {"webhook": {**HOOK, "name": "slack"}, "smtp": [{**SMTP, "name": "secops"}]},
        lambda n: [c.name for c in n.channels] == ["slack", "secops"],
    ),
    "queue_size and jitter": (
        {"webhook": HOOK, "queue_size": 3, "retry": {"jitter": 0}},
        lambda n: n._queue.maxsize == 3 and n.jitter == 0,
    ),
}


@pytest.mark.parametrize("setting", list(PREVIOUSLY_REFUSED))
def test_a_setting_the_notifier_supports_is_accepted_and_reaches_it(
    setting: str,
    tmp_path: Path,
    envelope_file: Path,
    recorder: Recorder,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REMIT_TEST_SMTP_PASSWORD", "from-env")
    notify, reached = PREVIOUSLY_REFUSED[setting]
    cfg = load_config(_file(tmp_path, envelope_file, notify), {})
    notifier = _notifier(cfg, recorder)
    try:
        assert reached(notifier)
    finally:
        notifier.close()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_the_running_service_delivers_with_every_setting(
    tmp_path: Path,
    server_config: ServerConfig,
    receiver: Receiver,
    auth_mailbox: Mailbox,  # noqa: F811
    make_notification: Callable[..., Notification],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REMIT_TEST_SMTP_PASSWORD", PASSWORD)
    notify = {
        "webhook": [
            {"url": receiver.url("/a"), "name": "slack", "headers": {"X-Remit-Test": "yes"}},
            {"url": receiver.url("/b"), "timeout": 2},
        ],
        "smtp": {
            "host": auth_mailbox.host, "port": auth_mailbox.port, "sender": "remit@example.com",
            "recipients": ["oncall@example.com"], "username": USER,
            "password_env": "REMIT_TEST_SMTP_PASSWORD", "name": "mail",
            "local_hostname": "remit.test",
        },
        "retry": {"max_attempts": 1},
    }  # fmt: skip
    data = {**server_config.model_dump(mode="json", exclude_none=True), "notify": notify}
    path = tmp_path / "remit.yaml"
    path.write_text(yaml.safe_dump(data))
    rt = Runtime(load_config(path, {}))
    try:
        assert rt.notifier is not None
        assert [c.name for c in rt.notifier.channels] == ["slack", "webhook[1]", "mail"]
        rt.notifier.submit(make_notification())
        deadline = time.monotonic() + 10
        while len([e for e in rt.store.entries() if e.kind == "notification"]) < 3:
            assert time.monotonic() < deadline, "deliveries were not recorded"
            time.sleep(0.05)
        results = [e.document()["data"] for e in rt.store.entries() if e.kind == "notification"]
        assert {(r["channel"], r["ok"]) for r in results} == {
            ("slack", True),
            ("webhook[1]", True),
            ("mail", True),
        }
        hits = {hit.path: hit for hit in receiver.hits}
        assert hits["/a"].headers["X-Remit-Test"] == "yes"
        assert "X-Remit-Test" not in hits["/b"].headers
        assert len(auth_mailbox.mails) == 1  # logged in with the password from the environment
        mail = rt.notifier.channels[2]
        assert isinstance(mail, SmtpChannel) and mail._local_hostname == "remit.test"
    finally:
        rt.close()


@pytest.mark.parametrize(
    ("notify", "message"),
    [
        ({"webhook": {**HOOK, "tiemout": 5}}, "notify.webhook.tiemout: unknown setting"),
        (
            {"webhook": [HOOK, {**HOOK, "hedaers": {}}]},
            "notify.webhook[1].hedaers: unknown setting",
        ),
        ({"slack": HOOK}, "notify.slack: unknown setting"),
        ({"webhook": HOOK, "retry": {"attempts": 3}}, "notify.retry.attempts: unknown setting"),
        ({"smtp": {**SMTP, "pasword": "x"}}, "notify.smtp.pasword: unknown setting"),
        ({"webhook": {**HOOK, "timeout": "5"}}, "notify.webhook.timeout: Input should be a"),
        ({"webhook": {"url": "hooks.example.com/x"}}, "notify.webhook.url: webhook url must be"),
        ({"retry": {}}, "notify: names no channels"),
    ],
)
def test_bad_notifier_settings_are_refused_naming_the_key(
    notify: dict[str, Any], message: str, tmp_path: Path, envelope_file: Path
) -> None:
    with pytest.raises(ConfigError, match="^configuration is not valid: " + re.escape(message)):
        load_config(_file(tmp_path, envelope_file, notify), {})


def test_an_empty_notify_section_means_nobody_is_told(tmp_path: Path, envelope_file: Path) -> None:
    assert load_config(_file(tmp_path, envelope_file, {}), {}).notify_dict() == {}
    assert load_config(_file(tmp_path, envelope_file, None), {}).notify_dict() == {}


def test_remit_webhook_url_still_works(
    tmp_path: Path, envelope_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REMIT_WEBHOOK_URL", "https://hooks.example.com/from-env")
    alone = load_config(None, {"envelope": envelope_file})
    assert alone.notify is not None
    assert [h.url for h in alone.notify.webhook] == ["https://hooks.example.com/from-env"]
    merged = load_config(_file(tmp_path, envelope_file, {"webhook": {**HOOK, "timeout": 2}}), {})
    assert merged.notify is not None
    [hook] = merged.notify.webhook
    assert (hook.url, hook.timeout, hook.name) == (
        "https://hooks.example.com/from-env",
        2,
        "webhook",
    )


def test_remit_webhook_url_with_a_list_of_webhooks_is_refused(
    tmp_path: Path, envelope_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REMIT_WEBHOOK_URL", "https://hooks.example.com/from-env")
    path = _file(tmp_path, envelope_file, {"webhook": [HOOK]})
    with pytest.raises(ConfigError, match=r"REMIT_WEBHOOK_URL sets notify\.webhook\.url, but "):
        load_config(path, {})


def _docs_section() -> str:
    text = DOCS.read_text(encoding="utf-8")
    start = text.index("## Notifier settings")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def test_the_documented_example_is_a_valid_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    [example] = re.findall(r"```yaml\n(.*?)```", _docs_section(), re.S)
    path = tmp_path / "remit.yaml"
    path.write_text(example)
    cfg = load_config(path, {})
    assert cfg.notify is not None
    assert cfg.notify.channel_names() == ["slack", "pager", "secops-mail"]
    monkeypatch.setenv("REMIT_SMTP_PASSWORD", "x")
    with Notifier.from_config(cfg.notify, lambda r: None) as notifier:
        kinds = [type(c) for c in notifier.channels]
    assert kinds == [WebhookChannel, WebhookChannel, SmtpChannel]


@pytest.mark.parametrize(
    ("prefix", "model"),
    [
        ("", NotifySettings),
        ("webhook.", WebhookSettings),
        ("smtp.", SmtpSettings),
        ("retry.", RetrySettings),
    ],
)
def test_every_setting_is_documented(prefix: str, model: type[BaseModel]) -> None:
    section = _docs_section()
    for name, field in model.model_fields.items():
        assert f"`{prefix}{name}`" in section, f"{prefix}{name} is not in docs/service.md"
        assert field.description, f"{model.__name__}.{name} has no description"
