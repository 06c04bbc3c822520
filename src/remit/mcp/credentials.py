"""Per-call credentials for an AWS MCP server that runs for a long time: the proxy serves
the AWS container-credentials protocol on 127.0.0.1 and starts the upstream with
`AWS_CONTAINER_CREDENTIALS_FULL_URI` pointing at it (and no other credentials). botocore in
the upstream fetches credentials from here whenever it signs a request, because every answer
says they expire within `ADVERTISED_LIFETIME` (under botocore's 10-minute mandatory refresh).
While a governed call is in flight the answer is that decision's grant (STS credentials with
SourceIdentity = decision id); at any other time it is 403, so an AWS request the proxy did
not decide fails in the upstream instead of running with some other identity.

One call is in flight per upstream at a time (the proxy serialises them), so the credentials
served are always those of the call being forwarded. This module serves HTTP on loopback
in a thread; it decides nothing."""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from remit.domain.clock import utcnow

ADVERTISED_LIFETIME = timedelta(seconds=60)
"""How long the upstream is told its credentials last (always below botocore's mandatory
refresh window, so it asks again before every signed request)."""

_CLEARED = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
)


@dataclass(frozen=True)
class ServedGrant:
    """The credentials of one decision, while its call is in flight."""

    decision_id: str
    access_key_id: str
    secret_access_key: str
    session_token: str


class CredentialBroker:
    """A loopback endpoint handing out the current call's credentials; `active(grant)`
    binds them for the duration of one forwarded call. Counts what it served per decision
    (`served`) and what it refused (`refused`)."""

    def __init__(self) -> None:
        self.token = secrets.token_urlsafe(32)
        self._lock = threading.Lock()
        self._current: ServedGrant | None = None
        self.served: dict[str, int] = {}
        self.refused = 0
        broker = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                broker._answer(self)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="remit-credentials", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/credentials"

    def upstream_env(self, env: Mapping[str, str]) -> dict[str, str]:
        """`env` without any AWS credential source, pointed at this broker. Shared config
        and credential files are emptied: they come before the container provider in
        botocore's chain."""
        out = {k: v for k, v in env.items() if k not in _CLEARED}
        out["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = self.url
        out["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = self.token
        out["AWS_SHARED_CREDENTIALS_FILE"] = "/dev/null"
        out["AWS_CONFIG_FILE"] = "/dev/null"
        out["AWS_EC2_METADATA_DISABLED"] = "true"
        return out

    @contextmanager
    def active(self, grant: Mapping[str, Any]) -> Iterator[ServedGrant]:
        """Serve `grant` (a Remit grant answer) until the block ends."""
        served = ServedGrant(
            str(grant["decision_id"]),
            str(grant["access_key_id"]),
            str(grant["secret_access_key"]),
            str(grant["session_token"]),
        )
        with self._lock:
            if self._current is not None:
                raise RuntimeError("another call's credentials are still being served")
            self._current = served
        try:
            yield served
        finally:
            with self._lock:
                self._current = None

    def _answer(self, h: BaseHTTPRequestHandler) -> None:
        with self._lock:
            current = self._current
            authorised = secrets.compare_digest(h.headers.get("Authorization", ""), self.token)
            if not authorised or current is None:
                self.refused += 1
            else:
                self.served[current.decision_id] = self.served.get(current.decision_id, 0) + 1
        if not authorised or current is None:
            why = "bad token" if not authorised else "no governed call is in flight"
            body = json.dumps({"Code": "Forbidden", "Message": f"remit: {why}"}).encode()
            h.send_response(403)
        else:
            expires = (utcnow() + ADVERTISED_LIFETIME).astimezone(UTC)
            body = json.dumps(
                {
                    "AccessKeyId": current.access_key_id,
                    "SecretAccessKey": current.secret_access_key,
                    "Token": current.session_token,
                    "Expiration": _iso(expires),
                }
            ).encode()
            h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")
