"""Real local servers for the notification tests: an HTTP receiver and an SMTP server.

Nothing here imitates our own code: the webhook channel talks HTTP to a real
`ThreadingHTTPServer`, the SMTP channel talks SMTP to a real `aiosmtpd` server.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from copy import deepcopy
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from tests.conftest import NOW

from remit.aws.moto_server import free_port
from remit.decide import Gate, StaticState
from remit.domain import ActionRequest
from remit.notify import DeliveryResult, Notification


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """An HTTP server on 127.0.0.1 answering POSTs with scripted statuses (then 200)."""

    def __init__(self) -> None:
        self.hits: list[Hit] = []
        self.script: deque[int] = deque()
        self.delay = 0.0
        self.gate: threading.Event | None = None  # if set, answers wait for it
        self.arrived = threading.Event()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.hits.append(Hit(self.path, dict(self.headers.items()), body))
                    status = receiver.script.popleft() if receiver.script else 200
                receiver.arrived.set()
                if receiver.gate is not None:
                    receiver.gate.wait(10)
                if receiver.delay:
                    time.sleep(receiver.delay)
                payload = b"ok" if status < 300 else b"invalid_payload"
                with contextlib.suppress(OSError):  # the client may have given up
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def url(self, path: str = "/services/T000/B000/secret-token") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        if self.gate is not None:
            self.gate.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture
def dead_port() -> int:
    """A port nothing listens on (connections are refused at once)."""
    return free_port()


@dataclass
class Mailbox:
    """What the SMTP server received: envelope sender, recipients and parsed message."""

    host: str
    port: int
    mails: list[tuple[str, list[str], EmailMessage]] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.mails.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        self.arrived.set()
        return "250 Message accepted for delivery"


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox("127.0.0.1", free_port())
    controller = Controller(box, hostname=box.host, port=box.port)
    controller.start()
    yield box
    controller.stop()


USER, PASSWORD = "remit", "s3cret-pass"


def _check_login(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def auth_mailbox() -> Iterator[Mailbox]:
    """An SMTP server that requires a login (over plain SMTP, which is fine on loopback)."""
    box = Mailbox("127.0.0.1", free_port())
    controller = Controller(
        box,
        hostname=box.host,
        port=box.port,
        authenticator=_check_login,
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    yield box
    controller.stop()


class Recorder:
    """The `record` callback: keeps every result, thread-safe."""

    def __init__(self) -> None:
        self.results: list[DeliveryResult] = []
        self._lock = threading.Lock()

    def __call__(self, result: DeliveryResult) -> None:
        with self._lock:
            self.results.append(result)

    def on(self, channel: str) -> list[DeliveryResult]:
        return [r for r in self.results if r.channel == channel]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


class Sleeps:
    """A `sleep` that remembers the delays and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def decision_json(
    gate: Gate, make_request: Callable[..., ActionRequest], state: StaticState
) -> dict[str, Any]:
    """The real gate's decision on the example request, as JSON."""
    return gate.decide(make_request(), NOW, state).to_dict()


@pytest.fixture
def request_json(make_request: Callable[..., ActionRequest]) -> dict[str, Any]:
    return make_request().canonical()


@pytest.fixture
def make_notification(
    decision_json: dict[str, Any], request_json: dict[str, Any]
) -> Callable[..., Notification]:
    """Build a notification from the real decision and request; `approve` by default."""
    counter = iter(range(1, 1_000_000))

    def make(kind: str = "approve", **changes: Any) -> Notification:
        decision = deepcopy(decision_json)
        request = deepcopy(request_json)
        if kind == "approve":
            decision["tier"] = "approve"
        decision.update(changes.pop("decision", {}))
        request.update(changes.pop("request", {}))
        approval = changes.pop(
            "approval",
            {
                "expires_at": "2026-11-21T12:15:00Z",
                "approve_url": "https://remit.example/approvals/apr_1",
                "state": "pending",
            },
        )
        return Notification(
            id=changes.pop("id", f"ntf_{next(counter)}"),
            kind=kind,  # type: ignore[arg-type]
            decision=decision,
            request=request,
            approval=approval if kind != "notify" else None,
            dashboard_url=changes.pop("dashboard_url", "https://remit.example/d/1"),
        )

    return make
