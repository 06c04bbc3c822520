"""Loading envelopes (issue 2 §2 and §6): the example loads; every kind of bad input is
refused with a message that names file:line; the digest ignores formatting, not meaning."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import EXAMPLES

from remit.domain import Tier
from remit.envelope import EnvelopeError, load_envelope, load_envelope_text

TEXT = (EXAMPLES / "envelope.yaml").read_text()


def test_example_loads_with_all_sections(example):
    env = example.envelope
    assert env.metadata.name == "prod-security-automation"
    assert env.metadata.review_every.days == 90
    assert [r.id for r in env.rules] == ["R1-read", "R7-revoke-stale", "R9-break-glass-role"]
    r7 = env.rules[1]
    assert r7.when and r7.when.min_confidence == 0.8
    assert r7.blast_radius and r7.blast_radius.window and r7.blast_radius.window.per.seconds == 3600
    assert env.defaults.severity_floors["Permissions management"] is Tier.NOTIFY
    assert env.fallbacks[0].from_.actions == ("s3:GetObject",)
    assert env.regulations[0].forbid_tiers == (Tier.AUTONOMOUS, Tier.NOTIFY)


def error_for(text: str) -> EnvelopeError:
    with pytest.raises(EnvelopeError) as info:
        load_envelope_text(text, "env.yaml")
    return info.value


def line_of(needle: str, text: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize(
    ("old", "new", "needle", "fragment"),
    [
        ("version: 7", "version: seven", "version: seven", "metadata.version"),
        ("review_every: P90D", "review_every: 90 days", "review_every", "ISO-8601 duration"),
        ("review_every: P90D", "review_every: P3M", "review_every", "years and months"),
        (
            "tier: autonomous\n  - id: R7",
            "tier: sometimes\n  - id: R7",
            "tier: sometimes",
            "rules[0].tier",
        ),
        (
            '["arn:aws:iam::111122223333:*"]',
            '["not-an-arn"]',
            "not-an-arn",
            "not an ARN pattern",
        ),
        (
            "when: {min_confidence: 0.8}",
            "when: {min_confidence: 1.8}",
            "min_confidence: 1.8",
            "less than or equal",
        ),
        (
            "owner: ciso@example.com",
            "owner: ciso@example.com\n  colour: blue",
            "colour",
            "Extra inputs",
        ),
        (
            '"iam:DeleteRolePolicy"]\n    resources',
            '"iam:DeleteRolePolicyy"]\n    resources',
            "DeleteRolePolicyy",
            "matches no action",
        ),
        (
            'agents: [remediator]\n    actions: ["iam:List*"',
            'agents: [ghost]\n    actions: ["iam:List*"',
            "id: R1-read",
            "ghost",
        ),
    ],
)
def test_bad_field_reports_file_line_and_path(old, new, needle, fragment):
    assert old in TEXT
    text = TEXT.replace(old, new, 1)
    err = error_for(text)
    message = str(err)
    assert fragment in message
    want = line_of(needle, text)
    lines = [p.line for p in err.problems]
    assert any(line is not None and abs(line - want) <= 1 for line in lines), (message, want)
    assert message.startswith("env.yaml:")


def test_malformed_yaml_has_line():
    err = error_for(TEXT.replace("rules:\n", "rules: [\n", 1))
    assert "invalid YAML" in str(err) and err.problems[0].line is not None


def test_duplicate_keys_refused():
    text = TEXT.replace("  unmatched: deny\n", "  unmatched: deny\n  unmatched: autonomous\n")
    err = error_for(text)
    assert "duplicate key 'unmatched'" in str(err)
    assert err.problems[0].line == line_of("unmatched: autonomous", text)


def test_aliases_refused():
    text = TEXT.replace("agents: [remediator]", "agents: &a [remediator]", 1).replace(
        'agents: ["*"]', "agents: *a"
    )
    assert "aliases" in str(error_for(text))


def test_non_mapping_document_refused():
    assert "must be a YAML mapping" in str(error_for("- just\n- a list\n"))


def test_duplicate_rule_ids_refused():
    text = TEXT.replace("id: R9-break-glass-role", "id: R1-read")
    assert "duplicate rule id 'R1-read'" in str(error_for(text))


def test_undeclared_workflow_refused():
    assert "workflow 'ghost'" in str(
        error_for(TEXT.replace("workflows: [iam-hygiene]", "workflows: [ghost]"))
    )


def test_missing_file_is_clear(tmp_path: Path):
    with pytest.raises(EnvelopeError, match="cannot read envelope"):
        load_envelope(tmp_path / "nope.yaml")


def test_digest_ignores_comments_and_formatting(example):
    reformatted = "# a new comment\n" + TEXT.replace(
        "owner: ciso@example.com", "owner:   'ciso@example.com'"
    )
    assert load_envelope_text(reformatted).digest == example.digest


def test_digest_changes_with_meaning(example):
    assert (
        load_envelope_text(TEXT.replace("max_resources: 3", "max_resources: 4")).digest
        != example.digest
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=400))
def test_loader_never_crashes_on_arbitrary_text(text):
    try:
        load_envelope_text(text)
    except EnvelopeError as exc:
        assert exc.problems and all(p.message for p in exc.problems)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_loader_never_crashes_on_mutated_example(data):
    lines = TEXT.splitlines()
    i = data.draw(st.integers(0, len(lines) - 1))
    replacement = data.draw(
        st.sampled_from(
            ["", "  x: 1", "- ]", "  review_every: PT", "rules: 5", lines[i] + " junk", "\t"]
        )
    )
    lines[i] = replacement
    try:
        load_envelope_text("\n".join(lines))
    except EnvelopeError as exc:
        assert str(exc)


@pytest.mark.parametrize(
    "tagged",
    [
        "!!set {summary, signals}",
        "!!binary c3VtbWFyeQ==",
        "!!timestamp 2027-03-01",
        "!!python/object/apply:os.system [echo]",
        "!!omap [{summary: 1}]",
        "!foo [summary]",
    ],
)
def test_non_json_yaml_tags_refused_with_file_and_line(tagged: str) -> None:
    """Only the JSON types may be tagged: anything else is refused where it stands, not
    turned into a set, bytes or an object that crashes the digest later."""
    old = "autonomous: [summary, signals, confidence, alternatives]"
    text = TEXT.replace(old, f"autonomous: {tagged}", 1)
    err = error_for(text)
    (problem,) = err.problems
    assert problem.line == line_of(f"autonomous: {tagged}", text)
    assert problem.column is not None
    assert "is not allowed in an envelope" in problem.message


def test_json_tags_and_untagged_dates_still_load() -> None:
    """Explicit JSON tags change nothing; an unquoted date is still read as before."""
    text = TEXT.replace("version: 7", "version: !!int 7", 1).replace(
        'expires_at: "2027-03-01T00:00:00Z"', "expires_at: 2027-03-01T00:00:00Z", 1
    )
    assert "version: !!int 7" in text and "expires_at: 2027-03-01T00:00:00Z" in text
    loaded = load_envelope_text(text, "env.yaml")
    example = load_envelope_text(TEXT, "env.yaml").envelope
    assert loaded.envelope.metadata.version == 7
    assert loaded.envelope.metadata.expires_at == example.metadata.expires_at
