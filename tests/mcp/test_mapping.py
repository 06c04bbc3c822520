"""The tool → IAM mapping: templates filled from arguments and context, the shipped mapping
for awslabs.iam-mcp-server covers every tool the server lists, and bad input is named."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from remit.mcp.mapping import (
    MappingError,
    UnmappedTool,
    arguments_digest,
    load_mapping,
    parse_mapping,
)

CTX = {"account": "123456789012", "region": "us-east-1"}


def test_shipped_mapping_names_every_tool_of_the_iam_server() -> None:
    import awslabs.iam_mcp_server.server as upstream

    source = Path(upstream.__file__).read_text()
    tools = set(re.findall(r"@mcp\.tool\(\)\nasync def (\w+)\(", source))
    assert len(tools) >= 29
    assert tools == set(load_mapping("awslabs.iam-mcp-server").tools)


def test_delete_role_policy_resolves_to_the_role_arn() -> None:
    m = load_mapping("awslabs.iam-mcp-server")
    call = m.resolve("delete_role_policy", {"role_name": "ci", "policy_name": "p"}, CTX)
    assert call.action == "iam:DeleteRolePolicy"
    assert call.resources == ("arn:aws:iam::123456789012:role/ci",)
    assert call.parameters == {"RoleName": "ci", "PolicyName": "p"}
    assert call.arguments_sha256 == arguments_digest(
        "delete_role_policy", {"policy_name": "p", "role_name": "ci"}
    )


def test_digest_changes_with_any_argument() -> None:
    a = arguments_digest("t", {"x": 1, "y": [1, 2]})
    assert a == arguments_digest("t", {"y": [1, 2], "x": 1})
    assert a != arguments_digest("t", {"x": 2, "y": [1, 2]})
    assert a != arguments_digest("u", {"x": 1, "y": [1, 2]})


def test_defaults_and_list_expansion() -> None:
    m = parse_mapping(
        {
            "server": "s",
            "tools": {
                "make": {"action": "iam:CreateRole",
                         "resources": "arn:aws:iam::{account}:role{path=/}{n}"},
                "many": {"action": "ec2:StopInstances",
                         "resources": ["arn:aws:ec2:{region}:{account}:instance/{*ids}"]},
            },
        },
        "inline",
    )  # fmt: skip
    assert m.resolve("make", {"n": "r"}, CTX).resources == ("arn:aws:iam::123456789012:role/r",)
    assert m.resolve("make", {"n": "r", "path": "/ci/"}, CTX).resources == (
        "arn:aws:iam::123456789012:role/ci/r",
    )
    assert m.resolve("many", {"ids": ["i-1", "i-2"]}, CTX).resources == (
        "arn:aws:ec2:us-east-1:123456789012:instance/i-1",
        "arn:aws:ec2:us-east-1:123456789012:instance/i-2",
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({}, "'role_name' is missing"),
        ({"role_name": "a*", "policy_name": "p"}, "cannot name a resource"),
        ({"role_name": ["a"], "policy_name": "p"}, "must be a single value"),
        ({"role_name": "", "policy_name": "p"}, "cannot name a resource"),
    ],
)
def test_arguments_that_do_not_fill_the_template(
    arguments: dict[str, object], message: str
) -> None:
    m = load_mapping("awslabs.iam-mcp-server")
    with pytest.raises(MappingError, match=message):
        m.resolve("delete_role_policy", arguments, CTX)


def test_an_unmapped_tool_is_named() -> None:
    with pytest.raises(UnmappedTool, match="'format_disk' has no mapping"):
        load_mapping("awslabs.iam-mcp-server").resolve("format_disk", {}, CTX)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"tools": {"t": {"action": "DeleteRole", "resources": ["*"]}}}, "not an IAM action"),
        ({"tools": {"t": {"action": "iam:DeleteRole", "resources": []}}}, "non-empty list"),
        ({"tools": {"t": {"action": "iam:DeleteRole", "resources": ["role/x"]}}}, "not an ARN"),
        ({"tools": {"t": {"action": "iam:DeleteRole", "resources": "*", "extra": 1}}}, "unknown"),
        ({"server": "x"}, "tools"),
    ],
)
def test_a_malformed_mapping_is_named(data: object, message: str) -> None:
    with pytest.raises(MappingError, match=message):
        parse_mapping(data, "m.yaml")


def test_a_missing_mapping_file_lists_the_shipped_ones(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match=r"shipped: awslabs\.iam-mcp-server"):
        load_mapping(str(tmp_path / "nope.yaml"))
