"""Sign-off (issue 2 §3): only a sign-off by a trusted key over the current digest makes
the envelope authority; the latest valid one is the last review."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from tests.conftest import EXAMPLES, NOW

from remit.envelope import load_envelope_text
from remit.envelope.signoff import (
    SignoffError,
    append_signoff,
    check_signoffs,
    create_signoff,
    read_signoffs,
)
from remit.signing.keys import generate_signing_key

T0 = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
def ciso():
    return generate_signing_key("ciso.example.com")


def test_valid_signoff_is_authority_and_last_review(example, ciso):
    s1 = create_signoff(example, ciso, "ciso@example.com", "CISO", T0)
    s2 = create_signoff(example, ciso, "ciso@example.com", "CISO", T0 + timedelta(days=5))
    trust, checks = check_signoffs(example, [s1, s2], [ciso.verifier()], NOW)
    assert trust.valid and trust.last_review == T0 + timedelta(days=5)
    assert all(c.valid for c in checks)


def test_changed_envelope_invalidates_signoff(example, ciso):
    s = create_signoff(example, ciso, "ciso@example.com", "CISO", T0)
    changed = load_envelope_text(
        (EXAMPLES / "envelope.yaml").read_text().replace("max_resources: 3", "max_resources: 30")
    )
    trust, checks = check_signoffs(changed, [s], [ciso.verifier()], NOW)
    assert not trust.valid and "changed after sign-off" in checks[0].problem


def test_untrusted_key_does_not_count(example, ciso):
    s = create_signoff(example, ciso, "ciso@example.com", "CISO", T0)
    other = generate_signing_key("ciso.example.com")
    trust, checks = check_signoffs(example, [s], [other.verifier()], NOW)
    assert not trust.valid and "not among the trusted keys" in checks[0].problem


def test_edited_signoff_fields_fail_signature(example, ciso):
    s = create_signoff(example, ciso, "ciso@example.com", "CISO", T0)
    forged = type(s)(**{**s.__dict__, "at": T0 + timedelta(days=60)})  # pretend a later review
    trust, checks = check_signoffs(example, [forged], [ciso.verifier()], NOW)
    assert not trust.valid and checks[0].problem == "signature does not verify"


def test_future_signoff_ignored(example, ciso):
    s = create_signoff(example, ciso, "ciso@example.com", "CISO", NOW + timedelta(days=1))
    trust, _ = check_signoffs(example, [s], [ciso.verifier()], NOW)
    assert not trust.valid


def test_no_signoffs(example, ciso):
    trust, _ = check_signoffs(example, [], [ciso.verifier()], NOW)
    assert not trust.valid and "no sign-offs" in trust.detail


def test_file_round_trip_and_malformed(tmp_path, example, ciso):
    path = tmp_path / "e.yaml.signoffs.json"
    s = create_signoff(example, ciso, "ciso@example.com", "CISO", T0)
    append_signoff(path, s)
    append_signoff(path, s)
    assert read_signoffs(path) == [s, s]
    path.write_text('{"signoffs": [{"signer": "x"}]}')
    with pytest.raises(SignoffError, match="missing field"):
        read_signoffs(path)
    path.write_text("not json")
    with pytest.raises(SignoffError):
        read_signoffs(path)
