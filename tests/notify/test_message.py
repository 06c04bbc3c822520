"""Tests for remit.notify.message: Slack blocks and e-mail rendered from real decisions."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from remit.notify import Notification, email_message, headline, slack_payload


def slack_text(payload: dict[str, Any]) -> str:
    """Every string in the payload, joined (what a reader could see)."""
    out: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(payload)
    return "\n".join(out)


def test_slack_payload_has_fallback_text_and_blocks(
    make_notification: Callable[..., Notification],
) -> None:
    n = make_notification("approve")
    payload = slack_payload(n)
    json.dumps(payload)  # JSON-ready
    assert payload["text"] == (
        "[Remit] APPROVE needed: remediator wants iam:DetachRolePolicy on 1 resource"
    )
    types = [b["type"] for b in payload["blocks"]]
    assert types[0] == "header" and "section" in types and types[-1] == "context"
    assert payload["blocks"][0]["text"]["type"] == "plain_text"
    fields = next(b["fields"] for b in payload["blocks"] if "fields" in b)
    labels = [f["text"].split("\n")[0] for f in fields]
    assert labels == ["*Agent*", "*Action*", "*Tier*", "*Confidence*", "*Resources (1)*"]
    text = slack_text(payload)
    for needle in (
        "remediator",
        "iam:DetachRolePolicy",
        "APPROVE",
        "arn:aws:iam::111122223333:role/legacy-batch",
        "Role unused for 42 days and writes to 5 buckets",
        "0.87 (87%)",
        "alert-only: rejected because severity threshold exceeded",
        "unused_days = 42 (source: cloudtrail)",
        "RULE_MATCHED",
        "SEVERITY_FLOOR",
        "2026-11-21T12:15:00Z",
        "<https://remit.example/approvals/apr_1|open the approval page>",
        "R7-revoke-stale",
        "prod-security-automation v7",
        "claude-sonnet 2026-10-01",
        "iam-hygiene, run r-123, step revoke-stale",
    ):
        assert needle in text, needle
    for reason in n.decision["reasons"]:
        assert reason["message"] in text


def test_slack_notify_has_no_approval_section(
    make_notification: Callable[..., Notification],
) -> None:
    payload = slack_payload(make_notification("notify"))
    assert payload["text"].startswith("[Remit] NOTIFY: remediator is allowed")
    text = slack_text(payload)
    assert "NOTIFY" in text and "Expires" not in text and "approval page" not in text


def test_slack_escapes_agent_text(make_notification: Callable[..., Notification]) -> None:
    evil = "Ping <!channel> and <https://evil.example|Approve here> & go\u202e\x1b[31m"
    n = make_notification(
        request={
            "reasoning": {
                "summary": evil + "\n\n*Approved by security team*",
                "alternatives": [{"action": "<@U123>", "rejected_because": "x > y"}],
            }
        },
        approval={"expires_at": "soon", "approve_url": "https://ok.example/a|<evil>"},
    )
    text = slack_text(slack_payload(n))
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text
    assert "<https://evil.example" not in text
    assert "<@U123>" not in text
    assert "&amp; go" in text
    assert "\u202e" not in text and "\x1b" not in text
    # the agent's extra lines stay inside the quote, never as lines of their own
    section = next(b["text"]["text"] for b in slack_payload(n)["blocks"] if "reasoning" in str(b))
    assert ">*Approved by security team*" in section
    # an approve URL that could break out of a link is shown as code, not linked
    assert "<https://ok.example" not in text


def test_slack_respects_block_limits(make_notification: Callable[..., Notification]) -> None:
    resources = [{"arn": f"arn:aws:iam::111122223333:role/r{i}", "tags": {}} for i in range(40)]
    n = make_notification(
        request={"resources": resources, "reasoning": {"summary": "x" * 20_000}},
        decision={"action": "iam:" + "A" * 300},
    )
    payload = slack_payload(n)
    assert len(payload["blocks"]) <= 50
    assert len(payload["blocks"][0]["text"]["text"]) <= 150
    for block in payload["blocks"]:
        if "text" in block and block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
        for f in block.get("fields", []):
            assert len(f["text"]) <= 2000
    assert "… and 30 more" in slack_text(payload)
    assert "40 resources" in payload["text"]


def test_missing_keys_render_rather_than_fail() -> None:
    n = Notification("n1", "approve", decision={}, request={})
    assert "?" in slack_payload(n)["text"]
    assert email_message(n, "remit@example.com", ["a@example.com"])["Subject"]


def test_email_subject_recipients_and_body(
    make_notification: Callable[..., Notification],
) -> None:
    n = make_notification("approve")
    m = email_message(n, "remit@example.com", ["oncall@example.com", "sec@example.com"])
    assert m["Subject"] == (
        "[Remit] APPROVE needed: remediator wants iam:DetachRolePolicy on 1 resource"
    )
    assert m["From"] == "remit@example.com"
    assert m["To"] == "oncall@example.com, sec@example.com"
    assert m["Auto-Submitted"] == "auto-generated"
    assert m["X-Remit-Decision"] == n.decision["id"]
    assert m.get_content_type() == "text/plain"
    body = m.get_content()
    for needle in (
        "APPROVAL NEEDED",
        "Expires:            2026-11-21T12:15:00Z",
        "Review and approve: https://remit.example/approvals/apr_1",
        "Tier:      approve",
        "arn:aws:iam::111122223333:role/legacy-batch",
        "tags: owner=acquired-co",
        "Role unused for 42 days and writes to 5 buckets",
        "Confidence: 0.87 (87%)",
        "alert-only: rejected because severity threshold exceeded",
        "[RULE_MATCHED]",
        "[SEVERITY_FLOOR]",
        "R7-revoke-stale",
        "Workflow:     iam-hygiene, run r-123, step revoke-stale",
        "Dashboard: https://remit.example/d/1",
    ):
        assert needle in body, needle


@pytest.mark.parametrize(
    ("kind", "approval", "subject"),
    [
        (
            "notify",
            None,
            "[Remit] NOTIFY: remediator is allowed iam:DetachRolePolicy on 1 resource",
        ),
        (
            "approval_resolved",
            {"state": "approved", "by": "alice@example.com", "comment": "ok, legacy"},
            "[Remit] APPROVED by alice@example.com: remediator's request for "
            "iam:DetachRolePolicy on 1 resource",
        ),
        (
            "approval_resolved",
            {"state": "expired"},
            "[Remit] EXPIRED: remediator's request for iam:DetachRolePolicy on 1 resource",
        ),
    ],
)
def test_subjects_per_kind(
    make_notification: Callable[..., Notification],
    kind: str,
    approval: dict[str, Any] | None,
    subject: str,
) -> None:
    n = make_notification(kind, approval=approval)
    assert headline(n) == subject.removeprefix("[Remit] ")
    assert email_message(n, "remit@example.com", ["a@example.com"])["Subject"] == subject


def test_email_subject_cannot_be_injected(make_notification: Callable[..., Notification]) -> None:
    n = make_notification(decision={"agent": "bot\r\nBcc: attacker@evil.example\r\n"})
    m = email_message(n, "remit@example.com", ["oncall@example.com"])
    assert m["Bcc"] is None
    assert "\n" not in m["Subject"] and "\r" not in m["Subject"]
    assert m["Subject"].startswith("[Remit] APPROVE needed: bot Bcc: attacker@evil.example wants")


def test_email_body_keeps_agent_lines_indented(
    make_notification: Callable[..., Notification],
) -> None:
    summary = "Stale role.\nREVIEW AND APPROVE: https://evil.example\x1b[2J"
    n = make_notification(request={"reasoning": {"summary": summary}})
    body = email_message(n, "remit@example.com", ["a@example.com"]).get_content()
    assert "\n    REVIEW AND APPROVE: https://evil.example[2J\n" in body
    assert "\x1b" not in body


def test_notification_validates_kind_and_id() -> None:
    with pytest.raises(ValueError, match="kind must be one of"):
        Notification("n1", "shout", {}, {})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="id must be a non-empty string"):
        Notification(" ", "notify", {}, {})
    with pytest.raises(ValueError, match="at least one recipient"):
        email_message(Notification("n1", "notify", {}, {}), "remit@example.com", [])
