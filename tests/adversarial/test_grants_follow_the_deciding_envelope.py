"""Issue 11, finding 2: an unsigned edit of the envelope file must not shape the grant of
a decision made earlier — not its role, not its lifetime, not its grant window. Every
grant term comes from the signed version that decided, recorded with the decision; an
envelope that is no longer authority issues no grant."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import yaml
from tests.grants.gkit import Clock, decide, entries_for, grant
from tests.support.aws_world import ROLE_PREFIX, AwsWorld, envelope_changed

from remit.ledger.kinds import DecisionRecord

OTHER_ROLE = "arn:aws:iam::111122223333:role/legacy-etl"


@contextmanager
def edited_unsigned(world: AwsWorld, change: Any) -> Iterator[None]:
    """Edit the envelope file in place without signing it off (restored after)."""
    path = world.folder / "envelope.yaml"
    original = path.read_text()
    data = yaml.safe_load(original)
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    world.runtime.envelope_view(force=True)
    try:
        yield
    finally:
        path.write_text(original)
        assert world.runtime.envelope_view(force=True).trust.valid


def _allowed(world: AwsWorld, name: str) -> dict[str, Any]:
    """An allowed decision to detach a managed policy from a real role `name`."""
    policy_arn = world.managed_policy(f"{name}-policy")
    role_arn = world.role(name, policy_arn)
    d = decide(
        world,
        "iam:DetachRolePolicy",
        [role_arn],
        parameters={"RoleName": name, "PolicyArn": policy_arn},
    )
    assert d["status"] == "allowed", d
    return d


def _widen(data: dict[str, Any]) -> None:
    data["agents"]["remediator"]["execution_role"] = OTHER_ROLE
    data["defaults"]["grant_duration"] = "PT12H"
    data["defaults"]["grant_window"] = "PT24H"


def test_the_decision_records_its_grant_terms(world: AwsWorld) -> None:
    d = _allowed(world, "terms-recorded")
    record = world.runtime.store.reads.decision(d["id"])
    assert record is not None
    terms = record.record.grant_terms
    assert terms is not None
    assert terms.role_arn == world.boot["role_arn"]
    env = world.runtime.envelope_view().loaded.envelope
    assert terms.window_seconds == int(env.defaults.grant_window.total_seconds())
    denied = decide(world, "iam:DetachRolePolicy", [ROLE_PREFIX + "OrganizationAccountAccessRole"])
    found = world.runtime.store.reads.decision(denied["id"])
    assert denied["tier"] == "deny" and found is not None
    assert isinstance(found.record, DecisionRecord) and found.record.grant_terms is None


def test_an_unsigned_edit_issues_no_grant(world: AwsWorld) -> None:
    d = _allowed(world, "unsigned-edit")
    with edited_unsigned(world, _widen):
        r = grant(world, d["id"])
        assert r.status_code == 409, r.text
        assert "not authority" in r.json()["detail"]
    (refusal,) = entries_for(world, "grant", d["id"])
    assert refusal["data"]["status"] == "refused" and refusal["data"]["error"] == "conflict"
    # Once the file is back to what was signed, the same decision is granted as decided.
    r = grant(world, d["id"])
    assert r.status_code == 200, r.text
    assert r.json()["role_arn"] == world.boot["role_arn"]


def test_a_new_signed_version_does_not_change_an_earlier_decisions_terms(
    wc: tuple[AwsWorld, Clock],
) -> None:
    world, clock = wc
    d = _allowed(world, "new-version")
    found = world.runtime.store.reads.decision(d["id"])
    assert found is not None and found.record.grant_terms is not None
    decided = found.record.grant_terms

    def longer(data: dict[str, Any]) -> None:
        data["defaults"]["grant_duration"] = "PT12H"
        data["defaults"]["grant_window"] = "PT24H"

    with envelope_changed(world, longer):
        clock.advance(seconds=decided.window_seconds + 60)  # past the decided window
        r = grant(world, d["id"])
        assert r.status_code == 410, r.text  # the new, longer window does not reopen it
        clock.reset()
        r = grant(world, d["id"])
        assert r.status_code == 200, r.text
        body = r.json()
    assert body["role_arn"] == decided.role_arn
    (issued,) = [e for e in entries_for(world, "grant", d["id"]) if e["data"]["status"] == "issued"]
    assert issued["data"]["duration_seconds"] == max(900, decided.duration_seconds)
