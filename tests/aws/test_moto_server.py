"""MotoServer against a real moto server process: lifecycle, boto3 traffic, reset, IAM
enforcement, and the agent-role bootstrap."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from remit.aws import MotoServer, MotoServerError, bootstrap_agent_role
from remit.aws.moto_server import NO_AUTH_ENV

TRUST_ANY_IN_ACCOUNT = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def error_code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    code: str = exc.value.response["Error"]["Code"]
    return code


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def get_status(host: str, port: int, path: str) -> int:
    conn = http.client.HTTPConnection(host, port, timeout=5)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    finally:
        conn.close()


def user_with_key(iam: Any, name: str, policy: dict[str, Any] | None = None) -> dict[str, str]:
    iam.create_user(UserName=name)
    if policy is not None:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"]}


# -- lifecycle -------------------------------------------------------------------------------


def test_starts_a_process_that_answers_and_stops_it(tmp_path: Path) -> None:
    log = tmp_path / "moto.log"
    server = MotoServer(log_path=log)
    with pytest.raises(MotoServerError):
        _ = server.endpoint_url
    with server:
        assert server.running
        pid = server.pid
        assert pid is not None
        os.kill(pid, 0)  # the process exists
        assert server.endpoint_url == f"http://127.0.0.1:{server.port}"
        assert get_status("127.0.0.1", server.port, "/moto-api/") == 200
        port = server.port
    assert not server.running
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(OSError):
        get_status("127.0.0.1", port, "/moto-api/")
    assert "GET /moto-api/" in log.read_text()  # the log file got the server's output
    server.stop()  # a second stop is harmless


def test_temp_log_is_removed_on_stop() -> None:
    with MotoServer() as server:
        log = server.log_path
        assert log is not None and log.exists()
    assert not log.exists()


def test_plain_module_command_works_too() -> None:
    with MotoServer(watch_parent=False) as server:
        assert server.client("sts").get_caller_identity()["Account"] == "123456789012"
        pid = server.pid
        assert pid is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_server_exits_when_its_parent_dies(tmp_path: Path) -> None:
    script = (
        "import os, sys\n"
        "from remit.aws import MotoServer\n"
        "server = MotoServer(log_path=sys.argv[1]).__enter__()\n"
        "print(server.pid, flush=True)\n"
        "os._exit(1)  # no cleanup at all\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "moto.log")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    pid = int(done.stdout.strip())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    pytest.fail(f"moto server {pid} outlived its parent")


def test_options_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(NO_AUTH_ENV, "0")
    assert NO_AUTH_ENV not in MotoServer().child_env()  # inherited value does not leak
    assert MotoServer(enforce_iam=True).child_env()[NO_AUTH_ENV] == "0"
    assert MotoServer(enforce_iam=True, no_auth_requests=3).child_env()[NO_AUTH_ENV] == "3"
    with pytest.raises(ValueError, match="enforce_iam"):
        MotoServer(no_auth_requests=2)
    cmd = MotoServer(watch_parent=False).command(5000)
    assert cmd[1:3] == ["-m", "moto.server"] and cmd[-4:] == ["-H", "127.0.0.1", "-p", "5000"]


def test_boto3_goes_to_the_server(moto: MotoServer) -> None:
    iam = moto.client("iam")
    assert iam.meta.endpoint_url == moto.endpoint_url
    name = unique("role")
    created = iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST_ANY_IN_ACCOUNT)
    assert created["Role"]["Arn"] == f"arn:aws:iam::123456789012:role/{name}"
    names = {r["RoleName"] for r in iam.list_roles()["Roles"]}
    assert name in names
    # the same state through a second client from a session
    other = moto.session().client("iam", endpoint_url=moto.endpoint_url)
    assert other.get_role(RoleName=name)["Role"]["RoleName"] == name


def test_reset_drops_state(moto: MotoServer) -> None:
    iam = moto.client("iam")
    name = unique("role")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST_ANY_IN_ACCOUNT)
    assert name in {r["RoleName"] for r in iam.list_roles()["Roles"]}
    moto.reset()
    assert name not in {r["RoleName"] for r in iam.list_roles()["Roles"]}


# -- IAM enforcement -------------------------------------------------------------------------


def test_unenforced_server_accepts_unknown_credentials(moto: MotoServer) -> None:
    iam = moto.client("iam", access_key_id="AKIANOBODYKNOWS00000", secret_access_key="x")
    iam.list_roles()  # no error: nothing is enforced


def test_enforcing_server_rejects_unknown_keys(enforcing: MotoServer) -> None:
    with pytest.raises(ClientError) as exc:
        enforcing.client("iam").list_roles()
    assert error_code(exc) == "InvalidClientTokenId"


def test_enforcing_server_authorizes_against_iam_policies(enforcing: MotoServer) -> None:
    admin = enforcing.client("iam")
    with enforcing.without_enforcement():
        nobody = user_with_key(admin, unique("nobody"))
        lister = user_with_key(
            admin,
            unique("lister"),
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "iam:ListRoles", "Resource": "*"}],
            },
        )
    with pytest.raises(ClientError) as exc:
        enforcing.client("iam", **nobody).list_roles()
    assert error_code(exc) == "AccessDenied"
    assert "iam:ListRoles" in str(exc.value)

    allowed = enforcing.client("iam", **lister)
    assert "Roles" in allowed.list_roles()
    with pytest.raises(ClientError) as exc:
        allowed.list_users()  # only ListRoles was allowed
    assert error_code(exc) == "AccessDenied"


def test_no_auth_request_count_semantics(enforcing: MotoServer) -> None:
    """With the count at N, the next N requests skip auth; the one after is checked."""
    anonymous = enforcing.client("iam")
    previous = enforcing.set_no_auth_requests(2)
    try:
        assert previous == 0
        anonymous.list_roles()
        anonymous.list_roles()
        with pytest.raises(ClientError) as exc:
            anonymous.list_roles()
        assert error_code(exc) == "InvalidClientTokenId"
    finally:
        enforcing.set_no_auth_requests(previous)
    with pytest.raises(ClientError):
        anonymous.list_roles()


# -- bootstrap -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def layout(enforcing: MotoServer) -> dict[str, str]:
    with enforcing.without_enforcement():
        return bootstrap_agent_role(enforcing.client("iam"), agent="remediator")


def test_bootstrap_returns_arns_and_keys(layout: dict[str, str]) -> None:
    assert layout["role_arn"] == "arn:aws:iam::123456789012:role/remit-exec-remediator"
    assert layout["remit_user_arn"] == "arn:aws:iam::123456789012:user/remit"
    assert layout["agent_user_arn"] == "arn:aws:iam::123456789012:user/agent-remediator"
    for who in ("remit", "agent"):
        assert layout[f"{who}_access_key_id"].startswith("AKIA")
        assert layout[f"{who}_secret_access_key"]


def test_bootstrap_trust_policy(enforcing: MotoServer, layout: dict[str, str]) -> None:
    with enforcing.without_enforcement():
        role = enforcing.client("iam").get_role(RoleName=layout["role_name"])["Role"]
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"AWS": layout["remit_user_arn"]}
    assert sorted(statement["Action"]) == [
        "sts:AssumeRole",
        "sts:SetSourceIdentity",
        "sts:TagSession",
    ]


def remit_client(server: MotoServer, layout: dict[str, str], service: str) -> Any:
    return server.client(
        service,
        access_key_id=layout["remit_access_key_id"],
        secret_access_key=layout["remit_secret_access_key"],
    )


def test_remit_assumes_the_execution_role(enforcing: MotoServer, layout: dict[str, str]) -> None:
    sts = remit_client(enforcing, layout, "sts")
    assert sts.get_caller_identity()["Arn"] == layout["remit_user_arn"]
    got = sts.assume_role(
        RoleArn=layout["role_arn"],
        RoleSessionName="remit-req-1",
        SourceIdentity="agent-remediator",
        Tags=[{"Key": "remit:request", "Value": "req-1"}],
        DurationSeconds=900,
    )
    assert got["AssumedRoleUser"]["Arn"] == (
        "arn:aws:sts::123456789012:assumed-role/remit-exec-remediator/remit-req-1"
    )
    creds = got["Credentials"]
    session = {
        "access_key_id": creds["AccessKeyId"],
        "secret_access_key": creds["SecretAccessKey"],
        "session_token": creds["SessionToken"],
    }
    as_role = enforcing.client("iam", **session)
    assert any(r["RoleName"] == layout["role_name"] for r in as_role.list_roles()["Roles"])
    with pytest.raises(ClientError) as exc:
        as_role.create_user(UserName=unique("sneaky"))  # beyond the read-only baseline
    assert error_code(exc) == "AccessDenied"
    who = enforcing.client("sts", **session).get_caller_identity()
    assert who["Arn"] == got["AssumedRoleUser"]["Arn"]


def test_remit_maintains_the_revocation_policy(
    enforcing: MotoServer, layout: dict[str, str]
) -> None:
    iam = remit_client(enforcing, layout, "iam")
    deny_all = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}],
    }
    role = layout["role_name"]
    iam.put_role_policy(
        RoleName=role, PolicyName="remit-revocation", PolicyDocument=json.dumps(deny_all)
    )
    got = iam.get_role_policy(RoleName=role, PolicyName="remit-revocation")
    assert got["PolicyDocument"] == deny_all
    iam.delete_role_policy(RoleName=role, PolicyName="remit-revocation")
    with pytest.raises(ClientError) as exc:
        iam.attach_role_policy(  # not granted: the broker maintains, it does not administer
            RoleName=role, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess"
        )
    assert error_code(exc) == "AccessDenied"


def test_revocation_policy_cuts_off_live_sessions(
    enforcing: MotoServer, layout: dict[str, str]
) -> None:
    """A Deny that Remit puts on the role binds sessions issued before it (moto reads the
    role's policies on every request), and lifting it restores them."""
    got = remit_client(enforcing, layout, "sts").assume_role(
        RoleArn=layout["role_arn"], RoleSessionName="remit-req-2"
    )
    creds = got["Credentials"]
    as_role = enforcing.client(
        "iam",
        access_key_id=creds["AccessKeyId"],
        secret_access_key=creds["SecretAccessKey"],
        session_token=creds["SessionToken"],
    )
    as_role.list_roles()
    iam = remit_client(enforcing, layout, "iam")
    deny_all = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}],
    }
    iam.put_role_policy(
        RoleName=layout["role_name"],
        PolicyName="remit-revocation",
        PolicyDocument=json.dumps(deny_all),
    )
    try:
        with pytest.raises(ClientError) as exc:
            as_role.list_roles()
        assert error_code(exc) == "AccessDenied"
    finally:
        iam.delete_role_policy(RoleName=layout["role_name"], PolicyName="remit-revocation")
    as_role.list_roles()


def test_remit_cannot_touch_other_roles(enforcing: MotoServer, layout: dict[str, str]) -> None:
    other = unique("other")
    with enforcing.without_enforcement():
        enforcing.client("iam").create_role(
            RoleName=other, AssumeRolePolicyDocument=TRUST_ANY_IN_ACCOUNT
        )
    iam = remit_client(enforcing, layout, "iam")
    with pytest.raises(ClientError) as exc:
        iam.put_role_policy(
            RoleName=other, PolicyName="x", PolicyDocument=json.dumps({"Statement": []})
        )
    assert error_code(exc) == "AccessDenied"
    with pytest.raises(ClientError) as exc:
        remit_client(enforcing, layout, "sts").assume_role(
            RoleArn=f"arn:aws:iam::123456789012:role/{other}", RoleSessionName="elsewhere"
        )
    assert error_code(exc) == "AccessDenied"


def test_agent_user_has_nearly_nothing(enforcing: MotoServer, layout: dict[str, str]) -> None:
    creds = {
        "access_key_id": layout["agent_access_key_id"],
        "secret_access_key": layout["agent_secret_access_key"],
    }
    sts = enforcing.client("sts", **creds)
    assert sts.get_caller_identity()["Arn"] == layout["agent_user_arn"]
    with pytest.raises(ClientError) as exc:
        sts.assume_role(RoleArn=layout["role_arn"], RoleSessionName="direct")
    assert error_code(exc) == "AccessDenied"
    with pytest.raises(ClientError) as exc:
        enforcing.client("iam", **creds).list_roles()
    assert error_code(exc) == "AccessDenied"


def test_trust_policy_names_only_remit(enforcing: MotoServer, layout: dict[str, str]) -> None:
    """A user allowed sts:AssumeRole everywhere is still refused by the trust policy."""
    with enforcing.without_enforcement():
        broad = user_with_key(
            enforcing.client("iam"),
            unique("broad"),
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}],
            },
        )
    with pytest.raises(ClientError) as exc:
        enforcing.client("sts", **broad).assume_role(
            RoleArn=layout["role_arn"], RoleSessionName="not-remit"
        )
    assert error_code(exc) == "AccessDenied"


def test_bootstrap_rejects_wrong_account_and_bad_names(moto: MotoServer) -> None:
    iam = moto.client("iam")
    with pytest.raises(ValueError, match="agent name"):
        bootstrap_agent_role(iam, agent="no spaces/allowed")
    with pytest.raises(ValueError, match="999999999999"):
        bootstrap_agent_role(iam, account="999999999999", agent=unique("a"))
