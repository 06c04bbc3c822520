"""What a human is told: the `Notification` and its two renderings, Slack blocks and e-mail.

This module only turns a notification into a payload; it never sends anything. Most of
the text comes from the agent's request (summary, alternatives, tags), so it is treated
as untrusted: control and bidirectional-override characters are removed, one-line fields
stay on one line, and Slack's markup characters are escaped so that an agent cannot
mention `@channel`, forge links or fake the structure of the message.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Final, Literal

NotificationKind = Literal["notify", "approve", "approval_resolved"]
KINDS: Final[frozenset[str]] = frozenset({"notify", "approve", "approval_resolved"})

# Slack's documented limits for Block Kit (we stay under them rather than be rejected).
_HEADER_MAX: Final = 150
_SECTION_MAX: Final = 3000
_FIELD_MAX: Final = 2000
_FALLBACK_MAX: Final = 3000
_SUBJECT_MAX: Final = 200
_MAX_LISTED_RESOURCES: Final = 10
_MAX_LISTED_ITEMS: Final = 20
_EMAIL_POLICY: Final = policy.default.clone(max_line_length=998)

# Unicode format characters that reorder or hide text ("Trojan Source" and friends).
_HIDDEN: Final[frozenset[str]] = frozenset(
    "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff"
)


@dataclass(frozen=True)
class Notification:
    """One message to humans about one decision.

    `decision` and `request` are the JSON forms of the decision and the agent's request;
    `approval` (for `approve` and `approval_resolved`) holds `expires_at`, `approve_url`,
    `state`, `by` and `comment`. Missing keys render as "?" rather than failing.
    """

    id: str
    kind: NotificationKind
    decision: dict[str, Any]
    request: dict[str, Any]
    approval: dict[str, Any] | None = None
    dashboard_url: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id.strip():
            raise ValueError("notification id must be a non-empty string")
        if self.kind not in KINDS:
            raise ValueError(f"notification kind must be one of {sorted(KINDS)}, not {self.kind!r}")
        if not isinstance(self.decision, dict):
            raise ValueError("notification decision must be a dict (the decision's JSON form)")
        if not isinstance(self.request, dict):
            raise ValueError("notification request must be a dict (the request's JSON form)")
        if self.approval is not None and not isinstance(self.approval, dict):
            raise ValueError("notification approval must be a dict or None")


# --- cleaning untrusted text -------------------------------------------------------------


def clean(value: object, *, multiline: bool = False) -> str:
    """`value` as display text: no control or hidden characters; one line unless `multiline`."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    out: list[str] = []
    for ch in text:
        if ch == "\n":
            out.append("\n" if multiline else " ")
        elif ch == "\t":
            out.append(" ")
        elif ch in _HIDDEN or unicodedata.category(ch) == "Cc":
            continue
        elif unicodedata.category(ch) in ("Zl", "Zp"):
            out.append("\n" if multiline else " ")
        else:
            out.append(ch)
    cleaned = "".join(out)
    if multiline:
        return "\n".join(line.rstrip() for line in cleaned.strip("\n").split("\n"))
    return " ".join(cleaned.split())


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _mrkdwn(value: object, *, multiline: bool = False) -> str:
    """Cleaned text escaped for Slack mrkdwn (only `&`, `<` and `>` have meaning there)."""
    text = clean(value, multiline=multiline)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _code(value: object) -> str:
    """Inline code span for Slack; a backtick inside would end the span, so it is replaced."""
    text = _mrkdwn(value).replace("`", "'")
    return f"`{text}`" if text else "?"


def _safe_url(value: object) -> str | None:
    """`value` if it is a plain http(s) URL that cannot break out of a Slack link."""
    if not isinstance(value, str):
        return None
    if not value.startswith(("https://", "http://")):
        return None
    if any(ch in value for ch in "<>|\"' ") or clean(value) != value:
        return None
    return value


# --- reading the JSON forms ---------------------------------------------------------------


def _map(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def _text(mapping: Mapping[str, Any], key: str, default: str = "?") -> str:
    value = mapping.get(key)
    if value is None:
        return default
    return clean(value) or default


def _agent(n: Notification) -> str:
    return _text(n.decision, "agent", _text(n.request, "agent"))


def _action(n: Notification) -> str:
    return _text(n.decision, "action", _text(n.request, "action"))


def _tier(n: Notification) -> str:
    return _text(n.decision, "tier")


def _resources(n: Notification) -> list[tuple[str, str]]:
    """(arn, "k=v, k=v") for each resource in the request."""
    out: list[tuple[str, str]] = []
    for item in _list(n.request.get("resources")):
        resource = _map(item)
        tags = _map(resource.get("tags"))
        tag_text = ", ".join(f"{clean(k)}={clean(v)}" for k, v in sorted(tags.items()))
        out.append((_text(resource, "arn"), tag_text))
    return out


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _reasons(n: Notification) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for item in _list(n.decision.get("reasons")):
        reason = _map(item)
        out.append((_text(reason, "code"), _text(reason, "message", "")))
    return out


def _reasoning(n: Notification) -> Mapping[str, Any]:
    return _map(n.request.get("reasoning"))


def _summary(n: Notification) -> str:
    return clean(_reasoning(n).get("summary"), multiline=True)


def _confidence(n: Notification) -> str:
    value = _reasoning(n).get("confidence")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "not given"
    return f"{float(value):.2f} ({float(value) * 100:.0f}%)"


def _signals(n: Notification) -> list[str]:
    out: list[str] = []
    for item in _list(_reasoning(n).get("signals")):
        signal = _map(item)
        line = f"{_text(signal, 'name')} = {_text(signal, 'value', '')}".rstrip(" =")
        source = signal.get("source")
        if source:
            line += f" (source: {clean(source)})"
        out.append(line)
    return out


def _alternatives(n: Notification) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for item in _list(_reasoning(n).get("alternatives")):
        alternative = _map(item)
        out.append((_text(alternative, "action"), _text(alternative, "rejected_because", "")))
    return out


def _provenance(n: Notification) -> list[tuple[str, str]]:
    provenance = _map(n.request.get("provenance"))
    out: list[tuple[str, str]] = []
    model = provenance.get("model")
    if isinstance(model, Mapping):
        out.append(("Model", f"{_text(model, 'name')} {_text(model, 'version', '')}".strip()))
    elif model:
        out.append(("Model", clean(model)))
    workflow = _map(provenance.get("workflow"))
    if workflow:
        parts = [_text(workflow, "name")]
        if workflow.get("run"):
            parts.append(f"run {clean(workflow['run'])}")
        if workflow.get("step"):
            parts.append(f"step {clean(workflow['step'])}")
        out.append(("Workflow", ", ".join(parts)))
    if provenance.get("parent_decision"):
        out.append(("Parent", f"decision {clean(provenance['parent_decision'])}"))
    fallback = _map(n.request.get("fallback"))
    if fallback:
        out.append(
            (
                "Fallback",
                f"retry with broader scope of {_text(fallback, 'of')} after "
                f"{_text(fallback, 'failed_action')} failed: {_text(fallback, 'error')}",
            )
        )
    out.append(("On behalf of", _text(n.request, "on_behalf_of", "nobody")))
    if n.request.get("origin"):
        out.append(("Origin", clean(n.request["origin"])))
    if n.request.get("environment"):
        out.append(("Environment", clean(n.request["environment"])))
    return out


def _envelope(n: Notification) -> str:
    envelope = _map(n.decision.get("envelope"))
    if not envelope:
        return "?"
    return (
        f"{_text(envelope, 'name')} v{_text(envelope, 'version')} "
        f"(digest {_text(envelope, 'digest')})"
    )


def _rules(n: Notification) -> list[str]:
    return [clean(rule) for rule in _list(n.decision.get("rules")) if clean(rule)]


def _approval(n: Notification) -> Mapping[str, Any]:
    return _map(n.approval)


def headline(n: Notification) -> str:
    """One line saying what happened, e.g. the e-mail subject without its "[Remit]" tag."""
    agent, action = _agent(n), _action(n)
    on = _count(len(_resources(n)), "resource")
    if n.kind == "approve":
        return f"APPROVE needed: {agent} wants {action} on {on}"
    if n.kind == "notify":
        return f"NOTIFY: {agent} is allowed {action} on {on}"
    approval = _approval(n)
    state = _text(approval, "state", "resolved").upper()
    by = clean(approval.get("by"))
    who = f" by {by}" if by else ""
    return f"{state}{who}: {agent}'s request for {action} on {on}"


# --- Slack --------------------------------------------------------------------------------


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _truncate(text, _SECTION_MAX)}}


def _bullets(lines: list[str]) -> str:
    shown = [f"• {line}" for line in lines[:_MAX_LISTED_ITEMS]]
    if len(lines) > _MAX_LISTED_ITEMS:
        shown.append(f"… and {len(lines) - _MAX_LISTED_ITEMS} more")
    return "\n".join(shown)


def slack_payload(n: Notification) -> dict[str, Any]:
    """A Slack-compatible incoming-webhook body: a `text` fallback plus Block Kit `blocks`."""
    titles = {
        "approve": "Approval needed",
        "notify": "Action allowed, for your information",
        "approval_resolved": f"Approval {_text(_approval(n), 'state', 'resolved')}",
    }
    header = clean(f"Remit: {titles[n.kind]}: {_action(n)}")
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _truncate(header, _HEADER_MAX), "emoji": False},
        }
    ]

    resources = _resources(n)
    resource_lines = [_code(arn) for arn, _tags in resources[:_MAX_LISTED_RESOURCES]]
    if len(resources) > _MAX_LISTED_RESOURCES:
        resource_lines.append(f"… and {len(resources) - _MAX_LISTED_RESOURCES} more")
    fields = [
        f"*Agent*\n{_mrkdwn(_agent(n))}",
        f"*Action*\n{_code(_action(n))}",
        f"*Tier*\n{_mrkdwn(_tier(n)).upper()}",
        f"*Confidence*\n{_mrkdwn(_confidence(n))}",
        f"*Resources ({len(resources)})*\n" + ("\n".join(resource_lines) or "none"),
    ]
    blocks.append(
        {
            "type": "section",
            "fields": [{"type": "mrkdwn", "text": _truncate(f, _FIELD_MAX)} for f in fields],
        }
    )

    if n.kind == "approval_resolved":
        approval = _approval(n)
        lines = [f"*Outcome:* {_mrkdwn(_text(approval, 'state', 'resolved')).upper()}"]
        if approval.get("by"):
            lines.append(f"*By:* {_mrkdwn(approval['by'])}")
        if approval.get("comment"):
            lines.append(f"*Comment:* {_mrkdwn(approval['comment'])}")
        blocks.append(_section("\n".join(lines)))

    summary = _summary(n)
    quoted = "\n".join(f">{_mrkdwn(line)}" for line in summary.split("\n")) if summary else ""
    reasoning = ["*Agent's reasoning* (written by the agent, not verified)"]
    reasoning.append(quoted or "_no summary given_")
    signals = _signals(n)
    if signals:
        reasoning.append("*Signals*\n" + _bullets([_mrkdwn(s) for s in signals]))
    blocks.append(_section("\n".join(reasoning)))

    alternatives = _alternatives(n)
    alt_lines = [
        f"{_mrkdwn(action)}: rejected because {_mrkdwn(why)}" if why else _mrkdwn(action)
        for action, why in alternatives
    ]
    blocks.append(_section("*Alternatives considered*\n" + (_bullets(alt_lines) or "_none given_")))

    reason_lines = [f"{_code(code)} {_mrkdwn(message)}".rstrip() for code, message in _reasons(n)]
    blocks.append(_section("*Why this tier*\n" + (_bullets(reason_lines) or "_no reasons_")))

    if n.kind == "approve":
        approval = _approval(n)
        lines = [f"*Expires:* {_mrkdwn(_text(approval, 'expires_at', 'not given'))}"]
        url = _safe_url(approval.get("approve_url"))
        if url:
            lines.append(f"*Review and approve:* <{url}|open the approval page>")
        elif approval.get("approve_url"):
            lines.append(f"*Review and approve:* {_code(approval['approve_url'])}")
        lines.append("Without an approval before it expires, the action is denied.")
        blocks.append(_section("\n".join(lines)))

    provenance = [f"{label}: {_mrkdwn(value)}" for label, value in _provenance(n)]
    blocks.append(_section("*Provenance*\n" + _bullets(provenance)))

    context = [f"Decision {_code(_text(n.decision, 'id'))}", f"Envelope {_mrkdwn(_envelope(n))}"]
    rules = _rules(n)
    if rules:
        context.append("Rules " + ", ".join(_code(r) for r in rules[:_MAX_LISTED_ITEMS]))
    dashboard = _safe_url(n.dashboard_url)
    if dashboard:
        context.append(f"<{dashboard}|Open in the Remit dashboard>")
    blocks.append(
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": _truncate(c, _FIELD_MAX)} for c in context[:10]
            ],
        }
    )

    return {
        "text": _truncate(_mrkdwn(f"[Remit] {headline(n)}"), _FALLBACK_MAX),
        "blocks": blocks,
        "unfurl_links": False,
        "unfurl_media": False,
    }


# --- e-mail -------------------------------------------------------------------------------


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.split("\n"))


def email_body(n: Notification) -> str:
    """The plain-text body: everything a human needs to judge the decision, in one place."""
    agent, action, tier = _agent(n), _action(n), _tier(n)
    resources = _resources(n)
    approval = _approval(n)
    lines: list[str] = []
    if n.kind == "approve":
        lines += [
            "APPROVAL NEEDED",
            "",
            f"{agent} wants to run {action} on {_count(len(resources), 'resource')}.",
            "It will not run unless a human approves it before the approval expires.",
            "",
            f"Expires:            {_text(approval, 'expires_at', 'not given')}",
            f"Review and approve: {clean(approval.get('approve_url')) or 'no link given'}",
        ]
    elif n.kind == "notify":
        lines += [
            "FOR YOUR INFORMATION",
            "",
            f"{agent} is allowed to run {action} on {_count(len(resources), 'resource')}.",
            "It runs without waiting; Remit's policy asks that humans are told.",
        ]
    else:
        by = clean(approval.get("by"))
        lines += [
            f"APPROVAL {_text(approval, 'state', 'resolved').upper()}",
            "",
            f"{agent}'s request to run {action} on {_count(len(resources), 'resource')} "
            f"is {_text(approval, 'state', 'resolved')}" + (f" by {by}." if by else "."),
        ]
        if approval.get("comment"):
            lines += ["", "Comment:", _indent(clean(approval["comment"], multiline=True))]
    lines += [
        "",
        f"Agent:     {agent}",
        f"Action:    {action}",
        f"Tier:      {tier}",
        f"Decision:  {_text(n.decision, 'id')}",
        "",
        f"RESOURCES ({len(resources)})",
    ]
    for arn, tags in resources:
        lines.append(f"  - {arn}")
        if tags:
            lines.append(f"      tags: {tags}")
    if not resources:
        lines.append("  (none listed)")

    lines += ["", "AGENT'S REASONING (written by the agent, not verified)", "  Summary:"]
    summary = _summary(n)
    lines.append(_indent(summary) if summary else "    (no summary given)")
    lines.append(f"  Confidence: {_confidence(n)}")
    signals = _signals(n)
    lines.append("  Signals:" if signals else "  Signals: none given")
    lines += [f"    - {s}" for s in signals]
    alternatives = _alternatives(n)
    lines.append("  Alternatives considered:" if alternatives else "  Alternatives: none given")
    for alt_action, why in alternatives:
        lines.append(f"    - {alt_action}" + (f": rejected because {why}" if why else ""))

    lines += ["", "WHY REMIT CHOSE THIS TIER"]
    reasons = _reasons(n)
    lines += [f"  - [{code}] {message}".rstrip() for code, message in reasons]
    if not reasons:
        lines.append("  (no reasons given)")

    lines += ["", "PROVENANCE"]
    lines += [f"  {label + ':':<14}{value}" for label, value in _provenance(n)]
    lines += ["", "POLICY", f"  Envelope: {_envelope(n)}"]
    rules = _rules(n)
    lines.append(f"  Rules:    {', '.join(rules) if rules else 'none matched'}")
    if n.dashboard_url:
        lines += ["", f"Dashboard: {clean(n.dashboard_url)}"]
    lines += [
        "",
        "-- ",
        f"Sent by Remit (notification {clean(n.id)}). Replies are not read.",
    ]
    return "\n".join(lines) + "\n"


def email_message(n: Notification, sender: str, recipients: list[str]) -> EmailMessage:
    """A plain-text e-mail for `recipients`; the subject is always a single, bounded line."""
    if not recipients:
        raise ValueError("an e-mail needs at least one recipient")
    # Long header lines are allowed (RFC 5322: up to 998); the standard library's folding at
    # 78 would otherwise move a subject of 70-77 characters onto a continuation line,
    # which readers then show with a leading space.
    message = EmailMessage(policy=_EMAIL_POLICY)
    message["Subject"] = _truncate(clean(f"[Remit] {headline(n)}"), _SUBJECT_MAX)
    message["From"] = clean(sender)
    message["To"] = ", ".join(clean(r) for r in recipients)
    message["Date"] = formatdate(localtime=False, usegmt=True)
    domain = clean(sender).rpartition("@")[2] or None
    message["Message-ID"] = make_msgid(domain=domain)
    message["Auto-Submitted"] = "auto-generated"
    message["X-Remit-Notification"] = clean(n.id)
    message["X-Remit-Decision"] = _text(n.decision, "id")
    message["X-Remit-Kind"] = n.kind
    message.set_content(email_body(n))
    return message
