"""The request parser (issue 2 §6): valid requests parse; bad ones fail with a clear,
located message; arbitrary input never crashes it."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from tests.conftest import EXAMPLES

from remit.domain import ActionRequest
from remit.domain.patterns import glob_matches, globs_overlap

RAW = json.loads((EXAMPLES / "request.json").read_text())


def test_example_request_parses():
    r = ActionRequest.model_validate(RAW)
    assert r.action == "iam:DetachRolePolicy" and r.reasoning.confidence == 0.87
    assert r.provenance.workflow and r.provenance.workflow.step == "revoke-stale"


@pytest.mark.parametrize(
    ("path", "value", "fragment"),
    [
        (("action",), "iam:*", "wildcards are for envelope rules"),
        (("action",), "DetachRolePolicy", "not an IAM action name"),
        (("resources",), [], "at least 1"),
        (("resources",), [{"arn": "role/x"}], "not an ARN"),
        (("reasoning", "confidence"), 1.5, "less than or equal to 1"),
        (("origin",), "robot", "'ai' or 'human'"),
        (("surprise",), 1, "Extra inputs are not permitted"),
    ],
)
def test_bad_fields_are_named(path, value, fragment):
    data = json.loads(json.dumps(RAW))
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(ValidationError) as info:
        ActionRequest.model_validate(data)
    text = str(info.value)
    assert fragment in text and path[0] in text


@settings(max_examples=300, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=10), c, max_size=5),
        max_leaves=20,
    )
)
def test_parser_never_crashes(value):
    with contextlib.suppress(ValidationError):
        ActionRequest.model_validate(value)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(list(RAW)), st.sampled_from([None, 0, "", [], {}, "x" * 3000, -1.5, True]))
def test_parser_field_mutations_never_crash(key, value):
    data = dict(RAW)
    data[key] = value
    try:
        ActionRequest.model_validate_json(json.dumps(data))
    except ValidationError as exc:
        assert exc.errors()


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("arn:aws:iam::1:role/*", "arn:aws:iam::1:role/a", True),
        ("arn:aws:iam::1:role/?", "arn:aws:iam::1:role/a", True),
        ("arn:aws:iam::1:role/?", "arn:aws:iam::1:role/*", False),  # request wildcard is broader
        ("arn:aws:iam::1:role/a*", "arn:aws:iam::1:role/*", False),
        ("arn:aws:iam::1:*", "arn:aws:iam::1:role/*", True),
    ],
)
def test_glob_coverage(pattern, name, expected):
    assert glob_matches(pattern, name) is expected


def test_glob_overlap():
    assert globs_overlap("arn:aws:iam::1:role/*", "arn:aws:iam::1:role/card-*")
    assert globs_overlap("arn:*:x", "arn:aws:*")
    assert not globs_overlap("arn:aws:iam::1:role/a*", "arn:aws:iam::1:role/b*")
