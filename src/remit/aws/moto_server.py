"""A moto server process on 127.0.0.1, started and stopped by Remit itself.

`MotoServer` is a context manager: on entry it picks a free port, starts
`python -m moto.server -H 127.0.0.1 -p PORT` as a child process (logging to a file), and
waits until `GET /moto-api/` answers; on exit it terminates the process (then kills it if
it lingers). Clients made through it carry `endpoint_url`, so boto3 traffic goes to moto
over real HTTP and never to AWS.

IAM enforcement (`enforce_iam=True`) uses moto's `INITIAL_NO_AUTH_ACTION_COUNT`: moto reads
it once, when the server process imports `moto.settings`, so it is set in the child's
environment. With it set to N the first N AWS API requests skip authentication and
authorization; every later one must be signed with a known access key (an IAM user's key,
or credentials from STS AssumeRole) and is allowed only if that principal's IAM policies
allow the action on the resource. Unset, it is infinite: nothing is enforced. The moto-api
endpoints (`/moto-api/...`) are never authenticated; `POST /moto-api/reset-auth` changes the
count at run time (and restarts the request counter), which `without_enforcement()` uses
to seed state in an enforcing server.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import boto3

DEFAULT_ACCOUNT_ID = "123456789012"
"""The account moto uses unless MOTO_ACCOUNT_ID says otherwise."""

NO_AUTH_ENV = "INITIAL_NO_AUTH_ACTION_COUNT"
"""moto's setting: how many requests go unauthenticated before IAM is enforced."""

_READY_PATH = "/moto-api/"
_RESET_PATH = "/moto-api/reset"
_RESET_AUTH_PATH = "/moto-api/reset-auth"

# Run moto's own server entry point, plus a thread that exits the process when its stdin
# (a pipe from the parent) closes, so a parent that dies without cleaning up leaves no
# orphaned server behind.
_CHILD_WITH_WATCHDOG = """\
import os, sys, threading
def _watch():
    try:
        while sys.stdin.buffer.read(65536):
            pass
    finally:
        os._exit(0)
threading.Thread(target=_watch, name="parent-watchdog", daemon=True).start()
from moto.server import main
main(sys.argv[1:])
"""


class MotoServerError(RuntimeError):
    """The moto server could not be started, reached, or asked to do something."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class MotoServer:
    """A moto server child process; use as a context manager (or `start()` / `stop()`).

    `enforce_iam` turns on moto's IAM authorization; `no_auth_requests` is how many AWS API
    requests are let through unauthenticated first (moto's INITIAL_NO_AUTH_ACTION_COUNT).
    `log_path` receives the server's stdout and stderr (default: a temp file, removed on
    stop). `port=None` picks a free port (and retries with another if the bind races).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        enforce_iam: bool = False,
        no_auth_requests: int = 0,
        log_path: str | os.PathLike[str] | None = None,
        startup_timeout: float = 30.0,
        env: Mapping[str, str] | None = None,
        watch_parent: bool = True,
    ) -> None:
        if no_auth_requests < 0:
            raise ValueError("no_auth_requests must be >= 0")
        if no_auth_requests and not enforce_iam:
            raise ValueError("no_auth_requests only makes sense with enforce_iam=True")
        self.host = host
        self.enforce_iam = enforce_iam
        self.no_auth_requests = no_auth_requests
        self.startup_timeout = startup_timeout
        self.watch_parent = watch_parent
        self._requested_port = port
        self._extra_env = dict(env or {})
        self._given_log_path = Path(log_path) if log_path is not None else None
        self._log_path: Path | None = None
        self._port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> MotoServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def log_path(self) -> Path | None:
        return self._log_path

    def command(self, port: int) -> list[str]:
        """The argv used to start the server on `port`."""
        args = ["-H", self.host, "-p", str(port)]
        if self.watch_parent:
            return [sys.executable, "-c", _CHILD_WITH_WATCHDOG, *args]
        return [sys.executable, "-m", "moto.server", *args]

    def child_env(self) -> dict[str, str]:
        """The server's environment: ours, with moto's IAM switch set or cleared."""
        env = dict(os.environ)
        env.pop(NO_AUTH_ENV, None)  # an inherited value must not silently turn IAM on
        env.update(self._extra_env)
        if self.enforce_iam:
            env[NO_AUTH_ENV] = str(self.no_auth_requests)
        env.setdefault("PYTHONUNBUFFERED", "1")
        return env

    def start(self) -> None:
        if self._process is not None:
            raise MotoServerError("moto server already started")
        if self._given_log_path is not None:
            self._log_path = self._given_log_path
            self._log_path.parent.mkdir(parents=True, exist_ok=True)
        else:
            fd, name = tempfile.mkstemp(prefix="remit-moto-", suffix=".log")
            os.close(fd)
            self._log_path = Path(name)
        attempts = 1 if self._requested_port is not None else 3
        failure = ""
        for _ in range(attempts):
            port = self._requested_port or free_port(self.host)
            failure = self._launch(port)
            if not failure:
                self._port = port
                return
        self._cleanup_log()
        raise MotoServerError(failure)

    def _launch(self, port: int) -> str:
        """Start on `port` and wait for readiness; '' on success, else why it failed."""
        assert self._log_path is not None
        with self._log_path.open("ab") as log:
            log.write(f"--- remit: starting moto server on {self.host}:{port}\n".encode())
            log.flush()
            process = subprocess.Popen(
                self.command(port),
                stdin=subprocess.PIPE if self.watch_parent else subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.child_env(),
            )
        self._process = process
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                break
            with contextlib.suppress(OSError, http.client.HTTPException):
                status, _ = _http(self.host, port, "GET", _READY_PATH, timeout=2.0)
                if status == 200:
                    return ""
            time.sleep(0.05)
        code = process.poll()
        self._terminate()
        why = (
            f"exited with code {code}"
            if code is not None
            else f"did not answer within {self.startup_timeout:g}s"
        )
        return f"moto server on {self.host}:{port} {why}; log tail:\n{self._log_tail()}"

    def stop(self) -> None:
        """Terminate the server (kill it if it lingers); safe to call twice."""
        self._terminate()
        self._port = None
        self._cleanup_log()

    def _terminate(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        stdin: IO[bytes] | None = process.stdin
        if stdin is not None:  # the watchdog exits the child at once on EOF
            with contextlib.suppress(OSError):
                stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=2)
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)

    def _cleanup_log(self) -> None:
        if self._given_log_path is None and self._log_path is not None:
            with contextlib.suppress(OSError):
                self._log_path.unlink()
            self._log_path = None

    def _log_tail(self, limit: int = 4000) -> str:
        if self._log_path is None:
            return ""
        try:
            return self._log_path.read_text(errors="replace")[-limit:]
        except OSError:
            return ""

    # -- addresses and clients -------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None or not self.running:
            raise MotoServerError("moto server is not running")
        return self._port

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def session(
        self,
        access_key_id: str = "testing",
        secret_access_key: str = "testing",  # noqa: S107 - moto's conventional dummy secret
        session_token: str | None = None,
        region: str = "us-east-1",
    ) -> boto3.Session:
        """A boto3 session with exactly these credentials (nothing read from the
        environment or ~/.aws). Pair it with `endpoint_url` when making clients."""
        return boto3.Session(
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            aws_session_token=session_token,
            region_name=region,
        )

    def client(
        self,
        service: str,
        *,
        access_key_id: str = "testing",
        secret_access_key: str = "testing",  # noqa: S107
        session_token: str | None = None,
        region: str = "us-east-1",
        **client_kwargs: Any,
    ) -> Any:
        """A boto3 client for `service` on this server; extra keyword arguments go to
        `Session.client` (e.g. `config=`)."""
        session = self.session(access_key_id, secret_access_key, session_token, region)
        return session.client(service, endpoint_url=self.endpoint_url, **client_kwargs)

    # -- moto's own API ----------------------------------------------------------------------

    def reset(self) -> None:
        """Drop all state in every moto backend (`POST /moto-api/reset`)."""
        self._moto_api("POST", _RESET_PATH, b"")

    def set_no_auth_requests(self, count: float) -> float:
        """Change INITIAL_NO_AUTH_ACTION_COUNT in the running server (and restart its
        request counter); `float("inf")` disables enforcement. Returns the previous value."""
        body = self._moto_api("POST", _RESET_AUTH_PATH, repr(float(count)).encode())
        try:
            return float(json.loads(body)["PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT"])
        except (ValueError, KeyError, TypeError) as exc:
            raise MotoServerError(f"unexpected reset-auth answer: {body!r}") from exc

    @contextlib.contextmanager
    def without_enforcement(self) -> Iterator[None]:
        """Temporarily let every request through unauthenticated (to seed IAM state in an
        enforcing server); the previous setting is restored afterwards."""
        previous = self.set_no_auth_requests(float("inf"))
        try:
            yield
        finally:
            self.set_no_auth_requests(previous)

    def _moto_api(self, method: str, path: str, body: bytes) -> bytes:
        try:
            status, data = _http(self.host, self.port, method, path, body=body, timeout=30.0)
        except (OSError, http.client.HTTPException) as exc:
            raise MotoServerError(f"{method} {path} failed: {exc}") from exc
        if status != 200:
            raise MotoServerError(f"{method} {path} answered {status}: {data[:500]!r}")
        return data


def _http(
    host: str,
    port: int,
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    timeout: float,
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, body=body)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


# -- IAM bootstrap ---------------------------------------------------------------------------

_IAM_NAME = re.compile(r"^[\w+=,.@-]{1,40}$")
BROKER_USER = "remit"

BASELINE_ROLE_POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "ReadOnlyBaseline",
            "Effect": "Allow",
            "Action": ["iam:Get*", "iam:List*", "ec2:Describe*"],
            "Resource": "*",
        }
    ],
}
"""What the execution role may do unless `bootstrap_agent_role` is given another policy."""


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _account_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 else ""


def _ensure_user(iam: Any, name: str, tags: list[dict[str, str]]) -> str:
    """The user's ARN, creating the user if needed."""
    try:
        user = iam.create_user(UserName=name, Tags=tags)["User"]
    except iam.exceptions.EntityAlreadyExistsException:
        user = iam.get_user(UserName=name)["User"]
    arn: str = user["Arn"]
    return arn


def bootstrap_agent_role(
    iam: Any,
    account: str = DEFAULT_ACCOUNT_ID,
    agent: str = "remediator",
    *,
    role_policy: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """Create the IAM layout for one agent, using `iam` (a boto3 IAM client allowed to
    administer IAM — in an enforcing server, call it inside `without_enforcement()`).

    - user `remit` (the broker; reused if it exists) with a new access key and an inline
      policy `remit-broker-<agent>` allowing sts:AssumeRole, sts:SetSourceIdentity and
      sts:TagSession on the execution role, iam:PutRolePolicy, iam:DeleteRolePolicy and
      iam:GetRolePolicy on it (Remit keeps a revocation inline policy there), and the reads
      Remit needs for effective permissions and rollback snapshots (docs/grants.md);
    - role `remit-exec-<agent>` (the execution role) whose trust policy lets exactly the
      `remit` user assume it with those three STS actions, with inline policy
      `remit-agent-baseline` (`role_policy`, default read-only `BASELINE_ROLE_POLICY`);
    - user `agent-<agent>` with an access key and only sts:GetCallerIdentity.

    Returns names, ARNs and access keys (see the keys of the dict). Raises ValueError on a
    bad agent name or if the server's account is not `account`.
    """
    if not _IAM_NAME.match(agent):
        raise ValueError(f"agent name {agent!r} is not usable in IAM names")
    tags = [{"Key": "remit:agent", "Value": agent}]

    remit_arn = _ensure_user(iam, BROKER_USER, [{"Key": "remit:component", "Value": "broker"}])
    if _account_of(remit_arn) != account:
        raise ValueError(f"moto created {remit_arn}, not in account {account}")

    role_name = f"remit-exec-{agent}"
    trust = _policy(
        {
            "Sid": "RemitBrokersSessions",
            "Effect": "Allow",
            "Principal": {"AWS": remit_arn},
            "Action": ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"],
        }
    )
    role = iam.create_role(
        RoleName=role_name,
        AssumeRolePolicyDocument=trust,
        Description=f"Execution role for agent {agent}; assumed only through Remit",
        Tags=tags,
    )["Role"]
    role_arn: str = role["Arn"]
    iam.put_role_policy(
        RoleName=role_name,
        PolicyName="remit-agent-baseline",
        PolicyDocument=json.dumps(dict(role_policy or BASELINE_ROLE_POLICY)),
    )

    iam.put_user_policy(
        UserName=BROKER_USER,
        PolicyName=f"remit-broker-{agent}",
        PolicyDocument=_policy(
            {
                "Sid": "BrokerSessions",
                "Effect": "Allow",
                "Action": ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"],
                "Resource": role_arn,
            },
            {
                "Sid": "MaintainRevocationPolicy",
                "Effect": "Allow",
                "Action": [
                    "iam:PutRolePolicy",
                    "iam:DeleteRolePolicy",
                    "iam:GetRolePolicy",
                    "iam:ListRolePolicies",
                    "iam:ListAttachedRolePolicies",
                    "iam:GetRole",
                ],
                "Resource": role_arn,
            },
            {
                "Sid": "ReadPoliciesForEffectivePermissionsAndRollback",
                "Effect": "Allow",
                "Action": [
                    "iam:GetPolicy",
                    "iam:GetPolicyVersion",
                    "iam:ListAttachedRolePolicies",
                    "iam:ListRolePolicies",
                    "iam:GetRole",
                    "iam:GetRolePolicy",
                    "iam:ListAccessKeys",
                    "iam:GetAccessKeyLastUsed",
                    "ec2:DescribeSecurityGroups",
                ],
                "Resource": "*",
            },
        ),
    )
    remit_key = iam.create_access_key(UserName=BROKER_USER)["AccessKey"]

    agent_user = f"agent-{agent}"
    agent_arn = _ensure_user(iam, agent_user, tags)
    iam.put_user_policy(
        UserName=agent_user,
        PolicyName="remit-agent-identity-only",
        PolicyDocument=_policy(
            {
                "Sid": "WhoAmIOnly",
                "Effect": "Allow",
                "Action": "sts:GetCallerIdentity",
                "Resource": "*",
            }
        ),
    )
    agent_key = iam.create_access_key(UserName=agent_user)["AccessKey"]

    return {
        "account": account,
        "agent": agent,
        "role_name": role_name,
        "role_arn": role_arn,
        "remit_user_name": BROKER_USER,
        "remit_user_arn": remit_arn,
        "remit_access_key_id": remit_key["AccessKeyId"],
        "remit_secret_access_key": remit_key["SecretAccessKey"],
        "agent_user_name": agent_user,
        "agent_user_arn": agent_arn,
        "agent_access_key_id": agent_key["AccessKeyId"],
        "agent_secret_access_key": agent_key["SecretAccessKey"],
    }
